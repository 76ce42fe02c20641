import type {Check, CheckId} from './checks.js';
import {make} from './checks.js';
import type {ServiceContext} from './context.js';
import {isAbort, StepError} from './errors.js';
import {runTool} from './exec.js';
import {findFlyte} from './flyte-build.js';
import {readFlyteImageConfig} from './flyte-config.js';
import {findPython} from './python.js';

/** doctor's checks for a Flyte 2 project, after the shared ones. */
export const FLYTE_CHECKS: readonly CheckId[] = ['flyte-sdk', 'flyte-config', 'flyte-host'];

export type FlyteCheckOptions = {
	folder: string;
	/** The repository's registry (`<location>-docker.pkg.dev/P/R`) and its host, when one is known. */
	registry?: string;
	host?: string;
};

const PROBE = 'import flyte, sys; sys.stdout.write(str(getattr(flyte, "__version__", "") or "unknown"))';

/** The flyte version the project's Python imports, or why not. */
export const probeFlyte = async (ctx: ServiceContext): Promise<{python?: string; version?: string; problem?: string}> => {
	const python = await findPython(ctx);
	if (!python) return {problem: 'no python3 or python on PATH'};
	const result = await runTool(ctx, python, ['-c', PROBE], {timeout: 60_000});
	if (result.exitCode === 0) return {python, version: result.stdout.trim()};
	const last = result.stderr.trim().split('\n').at(-1) ?? `exit ${result.exitCode}`;
	return {python, problem: /No module named '?flyte'?$/.test(last) ? `${python} cannot import flyte` : `${python}: flyte does not import (${last})`};
};

/** Whether the registry host answers its /v2/ endpoint (any HTTP answer: 401 is Artifact Registry asking for a token). */
const reachable = async (ctx: ServiceContext, host: string): Promise<string | undefined> => {
	const scheme = /^(?:127\.0\.0\.1|localhost)(?::\d+)?$/.test(host) ? 'http' : 'https';
	try {
		const signals = [AbortSignal.timeout(10_000), ...(ctx.signal ? [ctx.signal] : [])];
		await fetch(`${scheme}://${host}/v2/`, {signal: AbortSignal.any(signals)});
		return undefined;
	} catch (error) {
		if (ctx.signal?.aborted) throw error;
		const cause = (error as {cause?: {code?: string; message?: string}}).cause;
		return cause?.code ?? cause?.message ?? (error as Error).message;
	}
};

/** Whether the project's Python imports flyte, and whether the flyte CLI is here (flyte build runs only then). */
export const flyteSdkCheck = async (ctx: ServiceContext): Promise<Check> => {
	const [sdk, cli] = await Promise.all([probeFlyte(ctx), findFlyte(ctx)]);
	const cliText = cli ? `the flyte CLI at ${cli}` : 'no flyte CLI on PATH (flyte build cannot run here)';
	return sdk.version
		? make('flyte-sdk', false, cli ? 'ok' : 'warn', `flyte ${sdk.version} imports in ${sdk.python}; ${cliText}`, 'pip install flyte (it brings the flyte CLI)')
		: make(
				'flyte-sdk',
				false,
				'warn',
				`${sdk.problem}: imagespec-gar computes URIs for the flyte the project pins (flyte==X.Y.Z) and ` +
					`${cli ? 'builds with flyte build' : "leaves builds to Union's remote builder"}; ${cliText}`,
				'pip install flyte in the Python the project uses',
			);
};

export const runFlyteChecks = async (ctx: ServiceContext, options: FlyteCheckOptions, onCheck?: (check: Check) => void): Promise<Check[]> => {
	const checks: Check[] = [];
	const emit = (check: Check) => {
		checks.push(check);
		onCheck?.(check);
	};

	emit(await flyteSdkCheck(ctx));

	try {
		const config = await readFlyteImageConfig(options.folder, ctx.platform.env, ctx.platform.home);
		const where = config.registryFrom === 'FLYTE_IMAGE_REGISTRY' ? 'FLYTE_IMAGE_REGISTRY' : (config.file ?? 'no config file');
		if (!config.registry) {
			emit(make('flyte-config', false, 'ok', `no image.registry (${where}): each declaration names its registry`));
		} else if (options.registry && config.registry !== options.registry) {
			emit(
				make(
					'flyte-config',
					false,
					'warn',
					`image.registry is ${config.registry} (${where}), not this repository's ${options.registry}: a declaration without registry= pushes there`,
					`Set image.registry: ${options.registry} in ${config.file ?? 'config.yaml'}`,
				),
			);
		} else {
			emit(make('flyte-config', false, 'ok', `image.registry ${config.registry} (${where})`));
		}
	} catch (error) {
		if (isAbort(error)) throw error;
		emit(make('flyte-config', false, 'warn', (error as Error).message, error instanceof StepError ? error.fix : undefined));
	}

	if (options.host) {
		const problem = await reachable(ctx, options.host);
		emit(
			problem === undefined
				? make('flyte-host', true, 'ok', `${options.host} answers`)
				: make(
						'flyte-host',
						true,
						'fail',
						`${options.host} does not answer (${problem}): flyte build cannot push there`,
						'Check the network, proxy or VPN between this machine and the registry host.',
					),
		);
	}
	return checks;
};
