import type {ServiceContext} from './context.js';
import {StepError} from './errors.js';
import {findExecutable, runTool, type ToolResult} from './exec.js';
import {ALLOW_UNRECOGNIZED_REGISTRY, gcloudEnvForHost} from './gcloud.js';
import {executable, type Platform} from './platform.js';

/** docker runs docker-credential-gcloud from PATH; returns where it is, or undefined. */
export const credentialHelperOnPath = async (platform: Platform): Promise<string | undefined> =>
	// Bare name: on Windows docker finds it through PATHEXT, as we do.
	findExecutable(platform, 'docker-credential-gcloud');

export type HelperAnswer = {answers: true} | {answers: false; why: string};

/** `get`, the host on stdin (now, or once it is known), exactly as docker asks. */
const ask = async (ctx: ServiceContext, host: string | Promise<string>, env: Record<string, string> | undefined): Promise<HelperAnswer> => {
	let result: ToolResult;
	try {
		result = await runTool(ctx, executable(ctx.platform, 'docker-credential-gcloud'), ['get'], {
			input: typeof host === 'string' ? `${host}\n` : host.then(known => `${known}\n`),
			// gcloud's Python start-up: ~1.5 s on a quiet machine, far more on a loaded one.
			timeout: 60_000,
			env,
		});
	} catch (error) {
		if (error instanceof StepError) return {answers: false, why: error.message};
		throw error;
	}

	let secret: unknown;
	let json = false;
	try {
		secret = (JSON.parse(result.stdout) as {Secret?: unknown}).Secret;
		json = true;
	} catch {
		// Not JSON: docker's helper protocol puts the error message on stdout.
	}

	if (result.exitCode === 0 && typeof secret === 'string' && secret !== '') return {answers: true};
	// What it said, never its JSON (which may hold a token).
	const said = `${json ? '' : result.stdout}\n${result.stderr}`;
	const why = said
		.split('\n')
		.findLast(line => line.trim() !== '')
		?.trim();
	return {answers: false, why: why || `it exited with ${result.exitCode} and no token`};
};

/**
 * Asks docker-credential-gcloud for host's credentials exactly as docker does (`get`, the host on
 * stdin) and checks that a token comes back. The token itself is never kept or shown.
 */
export const credentialHelperAnswers = async (ctx: ServiceContext, host: string): Promise<HelperAnswer> => ask(ctx, host, gcloudEnvForHost(host));

/** docker-credential-gcloud, started before the host it is asked about is known. */
export type StartedCredentialHelper = {
	/** Where it was found on PATH. */
	helper: string;
	/**
	 * Its answer for host, from the process already running when it runs with the env that host
	 * needs; else (a host gcloud does not know) from a new one, as credentialHelperAnswers asks.
	 */
	answers(ctx: ServiceContext, host: string): Promise<HelperAnswer>;
	/** Stops it when it was never asked (a usage error, a run that failed before its checks). */
	discard(): void;
};

/**
 * Starts docker-credential-gcloud now and gives it its host later: its gcloud start (~1 s of CPU,
 * doctor's slowest check) then runs while the CLI loads and finds the repository, not after.
 * Undefined when it is not on PATH (the check says so). Each run asks afresh: nothing is kept.
 */
export const startCredentialHelper = async (ctx: ServiceContext): Promise<StartedCredentialHelper | undefined> => {
	const helper = await credentialHelperOnPath(ctx.platform);
	if (!helper) return undefined;
	const stop = new AbortController();
	let give!: (host: string) => void;
	const host = new Promise<string>(resolve => {
		give = resolve;
	});
	// The env it starts with: enough for a host gcloud does not know only when it allows such hosts already.
	const allowsAny = ctx.platform.env[ALLOW_UNRECOGNIZED_REGISTRY] === 'true';
	const started = ask({...ctx, signal: ctx.signal ? AbortSignal.any([ctx.signal, stop.signal]) : stop.signal}, host, undefined);
	// A discarded one's end (cancelled) is nobody's business.
	started.catch(() => undefined);
	let asked = false;
	return {
		helper,
		async answers(askCtx, known) {
			asked = true;
			if (gcloudEnvForHost(known) && !allowsAny) {
				stop.abort();
				return credentialHelperAnswers(askCtx, known);
			}

			// Already running: what a new start would report now.
			askCtx.onSpawn?.();
			give(known);
			return started;
		},
		discard() {
			if (!asked) stop.abort();
		},
	};
};
