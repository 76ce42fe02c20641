import path from 'node:path';
import type {ServiceContext} from './context.js';
import {StepError} from './errors.js';
import {findExecutable, runTool} from './exec.js';

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
	const executable = await findPython(ctx);
	if (!executable) return undefined;
	const check =
		'import sys\ntry:\n    compile(sys.stdin.buffer.read(), sys.argv[1], "exec")\n' +
		'except SyntaxError as e:\n    print("%s (line %s)" % (e.msg, e.lineno)); sys.exit(3)';
	const result = await runTool(ctx, executable, ['-c', check, filename], {input: source, timeout: 30_000});
	return result.exitCode === 3 ? result.stdout.trim() : undefined;
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
