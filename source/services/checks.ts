import type {ServiceContext} from './context.js';
import {credentialHelperOnPath, dockerInfo, type DockerInfo} from './docker.js';
import {StepError, isAbort} from './errors.js';
import {hasApplicationDefaultCredentials, readGcloudState, type AdcState, type GcloudState} from './gcloud.js';
import {executable} from './platform.js';

export type CheckId = 'gcloud' | 'account' | 'project' | 'adc' | 'docker-cli' | 'docker-engine' | 'credential-helper';

export type Check = {
	id: CheckId;
	title: string;
	status: 'ok' | 'warn' | 'fail';
	detail: string;
	fix?: string;
	/** A failed required check stops the wizard; an optional one only warns. */
	required: boolean;
};

export type CheckOptions = {
	/** Given by --project or saved answers; wins over gcloud's core/project. */
	project?: string;
	/** Building and pushing locally: docker, its engine and the credential helper are required. */
	needDocker: boolean;
	/** The Artifact Registry client authenticates with Application Default Credentials. */
	needAdc: boolean;
};

export type ChecksOutcome = {
	/** Always all seven, in CHECK_ORDER. */
	checks: Check[];
	/** The one gcloud read the checks came from, for later steps (defaults, account). */
	gcloud: GcloudState;
	adc: AdcState;
	docker: DockerInfo;
};

export const CHECK_ORDER: readonly CheckId[] = ['gcloud', 'account', 'project', 'adc', 'docker-cli', 'docker-engine', 'credential-helper'];

export const CHECK_TITLES: Record<CheckId, string> = {
	gcloud: 'Google Cloud SDK (gcloud)',
	account: 'gcloud account',
	project: 'GCP project',
	adc: 'Application Default Credentials',
	'docker-cli': 'Docker CLI',
	'docker-engine': 'Docker engine',
	'credential-helper': 'docker-credential-gcloud on PATH',
};

const INSTALL_GCLOUD = 'Install the Google Cloud SDK: https://cloud.google.com/sdk/docs/install';
const INSTALL_DOCKER = 'Install Docker: https://docs.docker.com/get-docker/';
const START_DOCKER = 'Start Docker (open Docker Desktop, or `sudo systemctl start docker`), then run this again.';

const make = (id: CheckId, required: boolean, status: Check['status'], detail: string, fix?: string): Check => ({
	id,
	title: CHECK_TITLES[id],
	// An optional check never fails the run: it only warns.
	status: status === 'fail' && !required ? 'warn' : status,
	detail,
	...(status === 'ok' || fix === undefined ? {} : {fix}),
	required,
});

const pathHint = (platform: ServiceContext['platform'], dir: string): string =>
	platform.os === 'win32' ? `add ${dir} to Path` : `export PATH="${dir}:$PATH"`;

/**
 * The prerequisites, each reported through onCheck as soon as it is known. gcloud is read once
 * (config + auth concurrently), docker and the ADC file in parallel with it.
 */
export const runChecks = async (
	ctx: ServiceContext,
	options: CheckOptions,
	onCheck?: (check: Check) => void,
): Promise<ChecksOutcome> => {
	const results = new Map<CheckId, Check>();
	const emit = (check: Check) => {
		results.set(check.id, check);
		onCheck?.(check);
	};

	const gcloudPart = (async (): Promise<GcloudState> => {
		let state: GcloudState;
		try {
			state = await readGcloudState(ctx);
		} catch (error) {
			if (isAbort(error)) throw error;
			const message = error instanceof Error ? error.message : String(error);
			const fix = error instanceof StepError ? error.fix : undefined;
			emit(make('gcloud', true, 'fail', message, fix));
			emit(make('account', true, 'fail', 'Unknown: gcloud could not be read.', fix));
			emit(projectCheck(options.project, undefined));
			return {installed: true, accounts: []};
		}
		if (!state.installed) {
			emit(make('gcloud', true, 'fail', 'gcloud was not found on PATH.', INSTALL_GCLOUD));
			emit(make('account', true, 'fail', 'Needs gcloud.', INSTALL_GCLOUD));
		} else {
			emit(make('gcloud', true, 'ok', [state.version ? `Google Cloud SDK ${state.version}` : 'gcloud', state.path ? `at ${state.path}` : ''].filter(Boolean).join(' ')));
			emit(
				state.account
					? make('account', true, 'ok', state.account)
					: make('account', true, 'fail', 'No active gcloud account: not logged in.', 'gcloud auth login'),
			);
		}
		emit(projectCheck(options.project, state));
		return state;
	})();

	const adcPart = (async (): Promise<AdcState> => {
		const adc = await hasApplicationDefaultCredentials(ctx);
		if (adc.present) {
			emit(make('adc', options.needAdc, 'ok', `${adc.type ?? 'credentials'}${adc.account ? ` (${adc.account})` : ''} at ${adc.path}`));
		} else {
			emit(
				make(
					'adc',
					options.needAdc,
					'fail',
					adc.detail ?? `No usable credentials at ${adc.path}`,
					adc.reason === 'ADC_MISSING'
						? 'gcloud auth application-default login'
						: `Repair or remove ${adc.path}, then run: gcloud auth application-default login`,
				),
			);
		}
		return adc;
	})();

	const dockerPart = (async (): Promise<DockerInfo> => {
		const [info, helper] = await Promise.all([dockerInfo(ctx), credentialHelperOnPath(ctx.platform)]);
		const need = options.needDocker;
		if (!info.cliInstalled) {
			emit(make('docker-cli', need, 'fail', 'docker was not found on PATH.', INSTALL_DOCKER));
			emit(make('docker-engine', need, 'fail', 'Needs the Docker CLI.', INSTALL_DOCKER));
		} else {
			emit(make('docker-cli', need, 'ok', `Docker ${info.cliVersion ?? ''}`.trim()));
			emit(
				info.engineReachable
					? make('docker-engine', need, 'ok', `Engine ${info.engineVersion ?? ''}`.trim())
					: make('docker-engine', need, 'fail', info.error ?? 'The Docker engine does not answer.', START_DOCKER),
			);
		}
		// The fix can name the SDK's bin folder only once gcloud is located.
		const gcloud = await gcloudPart.catch(() => undefined);
		if (helper) {
			emit(make('credential-helper', need, 'ok', helper));
		} else {
			const sdkBin = gcloud?.sdkBin;
			const helperName = executable(ctx.platform, 'docker-credential-gcloud');
			const fix = sdkBin
				? `Put the Google Cloud SDK's bin folder on PATH (${pathHint(ctx.platform, sdkBin)}), where ${helperName} lives.`
				: `${INSTALL_GCLOUD}, then put its bin folder on PATH.`;
			emit(
				make(
					'credential-helper',
					need,
					'fail',
					`${helperName} is not on PATH: docker cannot get your gcloud credentials.${sdkBin ? ` gcloud is in ${sdkBin}.` : ''}`,
					fix,
				),
			);
		}
		return info;
	})();

	const [gcloud, adc, docker] = await Promise.all([gcloudPart, adcPart, dockerPart]);
	const checks = CHECK_ORDER.map((id) => results.get(id)).filter((check): check is Check => check !== undefined);
	return {checks, gcloud, adc, docker};
};

const projectCheck = (given: string | undefined, state: GcloudState | undefined): Check => {
	if (given) return make('project', true, 'ok', `${given} (given)`);
	if (state?.project) return make('project', true, 'ok', `${state.project} (gcloud config)`);
	// The wizard can still ask for it, so this only warns.
	return make(
		'project',
		false,
		'warn',
		'No project set in gcloud and none given.',
		'gcloud config set project PROJECT, or pass --project PROJECT',
	);
};
