import {isRegularFile} from '../services/file-safety.js';
import {dropReadAhead, readModuleSpecsAhead} from '../services/module-reader.js';
import {detectPython, prepareSyntaxCheck, releaseSyntaxChecks} from '../services/python.js';
import {moduleFileOf} from '../flow/answers.js';
import type {StepContext} from './context.js';

/**
 * A run without questions knows from its start what its ImageSpec step will ask Python: the
 * interpreter's probe (the default python_version, the flytekit a local build pins), the module's
 * read, and the syntax check of what it writes. Each is a Python start (~0.3 s, more behind a
 * pyenv shim) that depends on no answer still to come, so they start beside the checks instead of
 * one after another once the step runs. The step still asks each one itself (python.ts and
 * module-reader.ts hand it the answer started early, when it is the same question). An
 * interactive run waits for a person anyway, and its answers decide what is read.
 */
export const startReadAhead = (c: StepContext): void => {
	const {flags, ctx} = c;
	// Flyte 2 modules are read and written another way (flyte-image.ts).
	if (c.ask.interactive || c.sdk === 'flyte' || ctx.signal.aborted) return;
	// The build pins the local flytekit; a new image without --python-version takes the interpreter's.
	if (flags.build || flags.pythonVersion === undefined) void detectPython(ctx).catch(() => undefined);
	const moduleFile = moduleFileOf(c, c);
	// Only a regular file: Python reading a FIFO at the module's path would block.
	// (A newcomer's setup came from the module: that read is the one handed on.)
	if (isRegularFile(moduleFile)) readModuleSpecsAhead(ctx, {moduleFile, folder: c.folder}).catch(() => undefined);
	prepareSyntaxCheck(ctx, moduleFile);
};

/** The run is over: what nobody took is let go. */
export const endReadAhead = (c: Pick<StepContext, 'ctx'>): void => {
	dropReadAhead(c.ctx);
	releaseSyntaxChecks(c.ctx);
};
