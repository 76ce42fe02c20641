import {constants} from 'node:fs';
import {access, stat} from 'node:fs/promises';
import path from 'node:path';
import {execa, execaSync, type Result} from 'execa';
import type {ServiceContext} from './context.js';
import {CancelledError, StepError} from './errors.js';
import {INSTALL_CREDENTIAL_HELPER, INSTALL_DOCKER, INSTALL_GCLOUD} from './fixes.js';
import type {Platform} from './platform.js';

export type ToolResult = {stdout: string; stderr: string; exitCode: number};

export type ToolOptions = {
	/** Added to ctx.platform.env for this child only. */
	env?: Record<string, string | undefined>;
	cwd?: string;
	/** Milliseconds; a timed-out child is killed and reported as a StepError. */
	timeout?: number;
	/**
	 * Fed to the child's stdin (e.g. a host for a credential helper); otherwise stdin is ignored. A
	 * promise: the child starts now and gets its input once it is known (python.ts's spare check).
	 */
	input?: string | Promise<string>;
};

const installFixes: Record<string, string> = {
	gcloud: INSTALL_GCLOUD,
	docker: INSTALL_DOCKER,
	'docker-credential-gcloud': INSTALL_CREDENTIAL_HELPER,
};

/** 'gcloud.cmd' and '/usr/bin/gcloud' both name gcloud. */
const toolName = (file: string): string => (file.split(/[\\/]/).pop() ?? file).replace(/\.(cmd|exe|bat)$/i, '');

const childEnv = (ctx: ServiceContext, extra?: ToolOptions['env']): NodeJS.ProcessEnv => {
	const env: NodeJS.ProcessEnv = {...ctx.platform.env};
	for (const [key, value] of Object.entries(extra ?? {})) {
		if (value === undefined) delete env[key];
		else env[key] = value;
	}
	return env;
};

const failure = (file: string, result: Result & {code?: string; originalMessage?: string}, options?: ToolOptions): Error | undefined => {
	if (result.isCanceled) return new CancelledError();
	if (result.code === 'ENOENT') {
		const name = toolName(file);
		return new StepError(`${name} was not found on PATH.`, {fix: installFixes[name], reason: 'TOOL_NOT_FOUND', cause: result});
	}
	if (result.timedOut) {
		return new StepError(`${toolName(file)} did not finish within ${Math.round((options?.timeout ?? 0) / 1000)} s.`, {
			reason: 'TIMEOUT',
			cause: result,
		});
	}
	// Any other spawn failure (EACCES, ...) has no exit code.
	if (result.exitCode === undefined && result.signal === undefined) {
		return new StepError(`Could not run ${toolName(file)}: ${result.originalMessage ?? result.message}`, {reason: 'SPAWN_FAILED', cause: result});
	}
	return undefined;
};

/** What every child gets: only the platform's env, its folder and time limit, and our cancel. */
const commonOptions = (ctx: ServiceContext, options?: Pick<ToolOptions, 'env' | 'cwd' | 'timeout'>) =>
	({
		env: childEnv(ctx, options?.env),
		extendEnv: false,
		cwd: options?.cwd,
		timeout: options?.timeout,
		cancelSignal: ctx.signal,
		forceKillAfterDelay: 2000,
	}) as const;

/**
 * Runs a tool to completion. A non-zero exit is returned, not thrown: callers know what it means.
 * Missing tool → StepError (reason TOOL_NOT_FOUND), abort → CancelledError.
 */
export const runTool = async (ctx: ServiceContext, file: string, args: readonly string[], options?: ToolOptions): Promise<ToolResult> => {
	if (ctx.signal?.aborted) throw new CancelledError();
	const input = options?.input;
	const child = execa(file, args, {
		...commonOptions(ctx, options),
		...(input === undefined ? {stdin: 'ignore' as const} : typeof input === 'string' ? {input} : {stdin: 'pipe' as const}),
		reject: false,
		stripFinalNewline: true,
	});
	// execa has spawned (or failed to spawn) the process by now.
	ctx.onSpawn?.();
	if (typeof input === 'object') void input.then(text => child.stdin?.end(text)).catch(() => child.stdin?.end());
	const result = await child;
	const error = failure(file, result, options);
	if (error) throw error;
	return {stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), exitCode: result.exitCode ?? 1};
};

/**
 * Runs an interactive tool (`gcloud auth login`) on our terminal: stdin, stdout and stderr are
 * the person's. Only call it while the terminal is handed over (Ink suspended). Returns the exit code.
 *
 * Synchronous on purpose: while the child owns the terminal, Node's event loop must not read
 * stdin. A paused stream still reads (Node stops only once its buffer is full), so Node and the
 * child would race for each line typed, and Node's read blocks for good once the child turns the
 * shared terminal to blocking mode. Ctrl-C reaches the child and us alike: the run is then cancelled.
 */
export const runInTerminal = async (ctx: ServiceContext, file: string, args: readonly string[]): Promise<number> => {
	if (ctx.signal?.aborted) throw new CancelledError();
	const result = execaSync(file, args, {env: childEnv(ctx), extendEnv: false, stdio: 'inherit', reject: false});
	const error = failure(file, result);
	if (error) throw error;
	return result.exitCode ?? 1;
};

export type StreamResult = {exitCode: number /** The last lines of stdout+stderr, for mapping failures. */; tail: string[]};

/**
 * Runs a long tool (build, push), handing each stdout/stderr line to onLine as it comes.
 * Abort kills the child (SIGTERM, SIGKILL after 2 s) and throws CancelledError once it is gone.
 */
export const streamTool = async (
	ctx: ServiceContext,
	file: string,
	args: readonly string[],
	onLine: (line: string) => void,
	options?: ToolOptions & {
		tailLines?: number;
		/**
		 * The tool starts tools of its own (python running docker): give it a process group and
		 * stop the whole group on abort, so no grandchild keeps building. Not on Windows.
		 */
		killGroup?: boolean;
	},
): Promise<StreamResult> => {
	if (ctx.signal?.aborted) throw new CancelledError();
	const group = options?.killGroup === true && ctx.platform.os !== 'win32';
	const subprocess = execa(file, args, {
		...commonOptions(ctx, options),
		stdin: 'ignore',
		all: true,
		buffer: false,
		reject: false,
		detached: group,
	});
	const killGroup = (signal: NodeJS.Signals) => {
		try {
			if (subprocess.pid !== undefined) process.kill(-subprocess.pid, signal);
		} catch {
			// The group is gone already.
		}
	};

	const onAbort = () => {
		killGroup('SIGTERM');
		setTimeout(() => killGroup('SIGKILL'), 2000).unref();
	};

	if (group) ctx.signal?.addEventListener('abort', onAbort, {once: true});
	const tail: string[] = [];
	const max = options?.tailLines ?? 200;
	try {
		for await (const chunk of subprocess.iterable({from: 'all'})) {
			// Progress output may use \r to redraw a line.
			for (const line of String(chunk).split('\r')) {
				if (line === '') continue;
				tail.push(line);
				if (tail.length > max) tail.shift();
				onLine(line);
			}
		}
	} catch (error) {
		// A throwing onLine must not leave the child behind.
		ctx.signal?.removeEventListener('abort', onAbort);
		if (group) killGroup('SIGTERM');
		subprocess.kill();
		await subprocess;
		throw error;
	}
	const result = await subprocess;
	ctx.signal?.removeEventListener('abort', onAbort);
	const error = failure(file, result, options);
	if (error) throw error;
	return {exitCode: result.exitCode ?? 1, tail};
};

/**
 * Where PATH resolves name, as the shell would (PATHEXT on Windows); undefined when it doesn't.
 * Resolving ourselves lets a check name the folder and tell a missing tool from a broken one.
 */
export const findExecutable = async (platform: Platform, name: string): Promise<string | undefined> => {
	const windows = platform.os === 'win32';
	const pathValue = envValue(platform.env, 'PATH') ?? '';
	// Like cmd.exe: a bare name is tried only with PATHEXT (the SDK's bin also holds an
	// extensionless sh script named gcloud).
	const extensions = windows && path.extname(name) === '' ? (envValue(platform.env, 'PATHEXT') ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean) : [''];
	const separator = windows ? ';' : ':';
	for (const dir of pathValue.split(separator)) {
		if (dir === '') continue;
		for (const extension of extensions) {
			const candidate = path.join(dir.replace(/^"(.*)"$/, '$1'), name + extension);
			try {
				const info = await stat(candidate);
				if (!info.isFile()) continue;
				if (!windows) await access(candidate, constants.X_OK);
				return candidate;
			} catch {
				// Not here: keep looking.
			}
		}
	}
	return undefined;
};

/** Windows env names are case-insensitive ("Path"), but a copied env object is not. */
const envValue = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
	if (env[name] !== undefined) return env[name];
	const key = Object.keys(env).find(k => k.toUpperCase() === name.toUpperCase());
	return key === undefined ? undefined : env[key];
};
