import path from 'node:path';
import type {ServiceContext} from './context.js';
import {StepError, isAbort} from './errors.js';
import {findExecutable, runTool, type ToolResult} from './exec.js';

/** The Python `union register` would run with, and which SDKs it can import. */
export type PythonInfo = {
	found: boolean;
	/** What PATH resolved (python3, else python). */
	executable?: string;
	version?: string;
	/** Versions of the SDKs that imported; 'unknown' when one has no __version__. */
	flytekit?: string;
	union?: string;
	/** An SDK that is installed but fails to import (a broken dependency), in Python's words. */
	broken?: string;
	error?: string;
};

// Imports for real (not find_spec): a flytekit that is installed but cannot import would fail
// `union register` just the same.
const PROBE = `
import json, sys
found = {"version": sys.version.split()[0]}
for name in ("flytekit", "union"):
    try:
        module = __import__(name)
        found[name] = str(getattr(module, "__version__", "") or "unknown")
    except ModuleNotFoundError as error:
        if error.name != name:
            found["broken"] = "%s: %s" % (name, error)
    except Exception as error:
        found["broken"] = "%s: %s: %s" % (name, type(error).__name__, error)
print(json.dumps(found))
`;

/** python3, else python (Windows installs python.exe); undefined when neither is on PATH. */
export const findPython = async (ctx: ServiceContext): Promise<string | undefined> =>
	(await findExecutable(ctx.platform, 'python3')) ?? (await findExecutable(ctx.platform, 'python'));

// One probe per environment: the checks and the build step both ask, and importing flytekit costs seconds.
const probes = new WeakMap<NodeJS.ProcessEnv, Map<string, Promise<PythonInfo>>>();

/** One Python process: its version and whether flytekit / union import. Never throws but on abort. */
export const detectPython = async (ctx: ServiceContext): Promise<PythonInfo> => {
	const {env} = ctx.platform;
	const byEnv = probes.get(env) ?? new Map<string, Promise<PythonInfo>>();
	probes.set(env, byEnv);
	// What decides which Python runs and what it imports.
	const key = [env.PATH, env.PYTHONPATH, env.VIRTUAL_ENV, env.PYTHONHOME].join('\0');
	const known = byEnv.get(key);
	if (known) return known;
	const probe = probePython(ctx);
	byEnv.set(key, probe);
	// A cancelled probe is not an answer: the next caller probes again.
	probe.catch(() => byEnv.delete(key));
	return probe;
};

const probePython = async (ctx: ServiceContext): Promise<PythonInfo> => {
	const executable = await findPython(ctx);
	if (!executable) return {found: false};
	let result;
	try {
		// Importing flytekit takes 1-3 s; a hung import must not hang the checks.
		result = await runTool(ctx, executable, ['-c', PROBE], {timeout: 30_000});
	} catch (error) {
		if (error instanceof StepError) return {found: true, executable, error: error.message};
		throw error;
	}

	const line = result.stdout.trim().split('\n').at(-1) ?? '';
	try {
		const parsed = JSON.parse(line) as Omit<PythonInfo, 'found' | 'executable'>;
		return {found: true, executable, ...parsed};
	} catch {
		const why = result.stderr.trim().split('\n').at(-1) || `exit ${result.exitCode}`;
		return {found: true, executable, error: `${executable} could not run: ${why}`};
	}
};

/**
 * Why Python would not compile `source` (its own words and line), or undefined when it compiles
 * or no Python is here to ask. The module must still import for `union register` after a write.
 */
export const pythonSyntaxError = async (ctx: ServiceContext, source: string, filename: string): Promise<string | undefined> => {
	const spare = takeSpare(ctx, filename);
	if (spare) {
		spare.give(source);
		const result = await spare.result.catch((error: unknown) => {
			if (isAbort(error)) throw error;
			// It failed to start or timed out waiting: ask a fresh one.
			return undefined;
		});
		if (result) return verdict(result);
	}
	const executable = await findPython(ctx);
	if (!executable) return undefined;
	return verdict(await runTool(ctx, executable, ['-c', SYNTAX_CHECK, filename], {input: source, timeout: 30_000}));
};

const SYNTAX_CHECK =
	'import sys\ntry:\n    compile(sys.stdin.buffer.read(), sys.argv[1], "exec")\n' +
	'except SyntaxError as e:\n    print("%s (line %s)" % (e.msg, e.lineno)); sys.exit(3)';

const verdict = (result: ToolResult): string | undefined => (result.exitCode === 3 ? result.stdout.trim() : undefined);

type Spare = {give: (source: string) => void; result: Promise<ToolResult | undefined>};
const spares = new WeakMap<NodeJS.ProcessEnv, Map<string, Spare>>();

/**
 * Starts the Python of the next syntax check of `filename` now, waiting for the source on stdin:
 * its start (the interpreter, a pyenv shim: most of a check's time) then overlaps earlier work.
 * The check itself is the same process, script and source as pythonSyntaxError's. Released by
 * releaseSyntaxChecks (an empty source, which compiles) when no check came.
 */
export const prepareSyntaxCheck = (ctx: ServiceContext, filename: string): void => {
	const byFile = spares.get(ctx.platform.env) ?? new Map<string, Spare>();
	spares.set(ctx.platform.env, byFile);
	if (byFile.has(filename)) return;
	let give!: (source: string) => void;
	const input = new Promise<string>(resolve => {
		give = resolve;
	});
	const result = findPython(ctx).then(async executable =>
		executable ? runTool(ctx, executable, ['-c', SYNTAX_CHECK, filename], {input, timeout: SPARE_TIMEOUT_MS}) : undefined,
	);
	// A spare nobody took, cancelled or failed is no answer: the caller (if any) asks afresh.
	result.catch(() => undefined);
	byFile.set(filename, {give, result});
};

// Long enough for a run without questions to reach its module write, even on a loaded machine.
const SPARE_TIMEOUT_MS = 120_000;

const takeSpare = (ctx: ServiceContext, filename: string): Spare | undefined => {
	const byFile = spares.get(ctx.platform.env);
	const spare = byFile?.get(filename);
	byFile?.delete(filename);
	return spare;
};

/** Ends every spare check no write took: each compiles an empty source and exits (not awaited: nothing waits on it). */
export const releaseSyntaxChecks = (ctx: ServiceContext): void => {
	const byFile = spares.get(ctx.platform.env);
	spares.delete(ctx.platform.env);
	for (const spare of byFile?.values() ?? []) spare.give('');
};

/**
 * Runs a reader script on a module the way the SDK loads it (cwd = the project folder, `input`
 * on stdin: the stand-in SDK) and returns the JSON it printed after `mark` on its last such line.
 */
export const runModuleReader = async <T>(
	ctx: ServiceContext,
	python: string,
	options: {script: string; mark: string; moduleFile: string; folder: string; input: string; timeout?: number},
): Promise<T> => {
	const result = await runTool(ctx, python, ['-c', options.script, path.resolve(options.moduleFile)], {
		cwd: options.folder,
		input: options.input,
		timeout: options.timeout ?? 120_000,
		env: {PYTHONDONTWRITEBYTECODE: '1', PYTHONIOENCODING: 'utf-8'},
	});
	const line = result.stdout
		.split('\n')
		.reverse()
		.find(candidate => candidate.startsWith(options.mark));
	if (line === undefined) {
		const why = result.stderr.trim().split('\n').at(-1) || `exit ${result.exitCode}`;
		throw new StepError(`Could not read ${options.moduleFile} with ${python}: ${why}`, {reason: 'MODULE_FAILED'});
	}
	return JSON.parse(line.slice(options.mark.length)) as T;
};
