import type {IamBinding, RepositoryRef} from './artifact-registry.js';
import {registryHandle, type RegistryHandle} from './registry-handle.js';
import type {ServiceContext} from './context.js';
import {credentialHelperAnswers, credentialHelperOnPath, type StartedCredentialHelper} from './credential-helper.js';
import {EMULATION_COST, dockerInfo, type DockerInfo} from './docker.js';
import {credentialSourceFor, readDockerConfig} from './docker-config.js';
import {snapDocker, socketPermission, underSudo} from './docker-reach.js';
import {CancelledError, StepError, isAbort} from './errors.js';
import {findExecutable} from './exec.js';
import {ADC_LOGIN, GCLOUD_LOGIN, INSTALL_DOCKER, INSTALL_GCLOUD, START_DOCKER, configureDockerCommand, writerGrantFix} from './fixes.js';
import {hasApplicationDefaultCredentials, readGcloudState, readProjectIamBindings, type AdcState, type GcloudState} from './gcloud.js';
import {registryHostOfLocation} from './imagespec.js';
import {dockerConfigPath, executable} from './platform.js';
import {detectPython, type PythonInfo} from './python.js';
import {PUSH_PERMISSION, iamMember} from './repository-iam.js';

export type CheckId =
	| 'gcloud'
	| 'account'
	| 'project'
	| 'adc'
	| 'docker-cli'
	| 'docker-engine'
	| 'credential-helper'
	| 'docker-auth'
	| 'repository'
	| 'data-plane'
	| 'remote-builder'
	| 'arch'
	| 'python'
	// Flyte 2 projects only (doctor): flyte-checks.ts.
	| 'flyte-sdk'
	| 'flyte-config'
	| 'flyte-host';

export type Check = {
	id: CheckId;
	title: string;
	status: 'ok' | 'warn' | 'fail';
	detail: string;
	fix?: string;
	/** A failed required check stops the wizard; an optional one only warns. */
	required: boolean;
};

/** The repository this folder pushes to (saved answers or the team's module). */

export type CheckOptions = {
	/** Given by --project or saved answers; wins over gcloud's core/project. */
	project?: string;
	/** Building and pushing locally: docker, its engine and the credential helper are required. */
	needDocker: boolean;
	/** The Artifact Registry client authenticates with Application Default Credentials. */
	needAdc: boolean;
	/** When known: docker auth for its host, whether it still exists and whether you may push to it. */
	repository?: RepositoryRef;
	/**
	 * 'wizard': its own later steps run configure-docker and choose or create the repository, so
	 * problems there only warn. 'doctor' (default): they are required like the rest.
	 */
	mode?: 'wizard' | 'doctor';
	/**
	 * Opens (once) the client the caller needs anyway: called as soon as the checks' processes run,
	 * and reused by the repository checks. Otherwise they load one of their own.
	 */
	registry?: RegistryHandle;
	/** Ask Python whether flytekit / union import (default true). */
	python?: boolean;
	/** The host the wizard registered with configure-docker on an earlier run (saved answers). */
	dockerAuthSaved?: string;
	/** The Union data plane's worker service account (another project): may it pull from the repository? */
	dataPlaneServiceAccount?: string;
	/** Union's remote image builder builds into the repository: do its accounts hold their roles there? */
	remoteBuilder?: RemoteBuilderAccounts;
	/** doctor: the credential helper its launch started (cli.tsx), asked here once the host is known. */
	credentialHelper?: StartedCredentialHelper;
};

/** What doctor knows of the data plane when Union's remote builder is configured (saved answers). */
export type RemoteBuilderAccounts = {sameProject?: boolean; builderServiceAccount?: string; operatorProxyServiceAccount?: string};

export type ChecksOutcome = {
	/** The checks plannedChecks() named, in CHECK_ORDER. */
	checks: Check[];
	/** The one gcloud read the checks came from, for later steps (defaults, account). */
	gcloud: GcloudState;
	adc: AdcState;
	docker: DockerInfo;
	python?: PythonInfo;
};

export const CHECK_ORDER: readonly CheckId[] = [
	'gcloud',
	'account',
	'project',
	'adc',
	'docker-cli',
	'docker-engine',
	'credential-helper',
	'docker-auth',
	'repository',
	'data-plane',
	'remote-builder',
	'arch',
	'python',
];

export const CHECK_TITLES: Record<CheckId, string> = {
	gcloud: 'Google Cloud SDK (gcloud)',
	account: 'gcloud account',
	project: 'GCP project',
	adc: 'Application Default Credentials',
	'docker-cli': 'Docker CLI',
	'docker-engine': 'Docker engine',
	'credential-helper': 'docker-credential-gcloud',
	'docker-auth': 'Docker auth for the registry host',
	repository: 'Repository access',
	'data-plane': 'Data plane can pull',
	'remote-builder': "Union's remote builder can push",
	arch: 'Build architecture',
	python: 'Python with union or flytekit',
	'flyte-sdk': 'flyte SDK (Flyte 2)',
	'flyte-config': "flyte's image.registry",
	'flyte-host': 'Repository host reachable',
};

/** The checks runChecks reports for these options: the repository ones only when one is known. */
export const plannedChecks = (options: Pick<CheckOptions, 'repository' | 'python' | 'dataPlaneServiceAccount' | 'remoteBuilder'>): CheckId[] =>
	CHECK_ORDER.filter(id => {
		if (id === 'docker-auth' || id === 'repository') return options.repository !== undefined;
		if (id === 'data-plane') return options.repository !== undefined && options.dataPlaneServiceAccount !== undefined;
		if (id === 'remote-builder') return options.repository !== undefined && options.remoteBuilder !== undefined;
		if (id === 'python') return options.python !== false;
		return true;
	});

const REPOSITORY_CHECK_TIMEOUT_MS = 15_000;

// The host doctor asks the credential helper about when no repository is known: any GAR host gets gcloud's token.
const SAMPLE_HOST = 'us-docker.pkg.dev';

/** Fixes the wizard can run for the person, with the terminal handed over. */
const RUNNABLE_FIXES: Readonly<Record<string, readonly string[]>> = {
	[GCLOUD_LOGIN]: ['auth', 'login'],
	[ADC_LOGIN]: ['auth', 'application-default', 'login'],
};

/** The gcloud arguments of a check's fix when the wizard can run it itself. */
export const runnableFix = (check: Check): {command: string; args: readonly string[]} | undefined => {
	if (check.status === 'ok' || !check.fix) return undefined;
	const args = RUNNABLE_FIXES[check.fix];
	return args ? {command: check.fix, args} : undefined;
};

export const make = (id: CheckId, required: boolean, status: Check['status'], detail: string, fix?: string): Check => ({
	id,
	title: CHECK_TITLES[id],
	// An optional check never fails the run: it only warns.
	status: status === 'fail' && !required ? 'warn' : status,
	detail,
	...(status === 'ok' || fix === undefined ? {} : {fix}),
	required,
});

const pathHint = (platform: ServiceContext['platform'], dir: string): string => (platform.os === 'win32' ? `add ${dir} to Path` : `export PATH="${dir}:$PATH"`);

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The prerequisites, each reported through onCheck as soon as it is known. gcloud is read once
 * (config + auth concurrently); docker, the ADC file, Python and the repository in parallel with it.
 */
export const runChecks = async (ctx: ServiceContext, options: CheckOptions, onCheck?: (check: Check) => void): Promise<ChecksOutcome> => {
	const planned = new Set(plannedChecks(options));
	const results = new Map<CheckId, Check>();
	const emit = (check: Check) => {
		if (!planned.has(check.id)) return;
		results.set(check.id, check);
		onCheck?.(check);
	};

	const wizard = options.mode === 'wizard';
	// Loading the Artifact Registry client blocks the event loop (~0.2 s): the processes the checks
	// wait on (docker, python, gcloud when its files do not answer) are started first and run meanwhile.
	const gates = {gcloud: spawnGate(ctx), docker: spawnGate(ctx), helper: spawnGate(ctx), python: spawnGate(ctx)};
	const childrenStarted = Promise.all(Object.values(gates).map(async gate => gate.opened));
	// One client for the repository and data-plane checks: the caller's, or one of our own closed at the end.
	const own = options.registry ? undefined : registryHandle(ctx);
	const registry = options.registry ?? own!;
	const client: RegistryHandle = {
		async open() {
			await childrenStarted;
			return registry.open();
		},
	};

	// The wizard needs its client right after the checks: open it while they run.
	if (options.registry) void client.open().catch(() => undefined);

	const gcloudPart = (async (): Promise<GcloudState> => {
		let state: GcloudState;
		try {
			state = await readGcloudState(gates.gcloud.ctx);
		} catch (error) {
			if (isAbort(error)) throw error;
			const fix = error instanceof StepError ? error.fix : undefined;
			emit(make('gcloud', true, 'fail', message(error), fix));
			emit(make('account', true, 'fail', 'Unknown: gcloud could not be read.', fix));
			emit(projectCheck(options.project, undefined));
			return {installed: true, accounts: []};
		}

		if (state.installed) {
			emit(
				make(
					'gcloud',
					true,
					'ok',
					[state.version ? `Google Cloud SDK ${state.version}` : 'gcloud', state.path ? `at ${state.path}` : ''].filter(Boolean).join(' '),
				),
			);
			emit(
				state.account ? make('account', true, 'ok', state.account) : make('account', true, 'fail', 'No active gcloud account: not logged in.', GCLOUD_LOGIN),
			);
		} else {
			emit(make('gcloud', true, 'fail', 'gcloud was not found on PATH.', INSTALL_GCLOUD));
			emit(make('account', true, 'fail', 'Needs gcloud.', INSTALL_GCLOUD));
		}

		emit(projectCheck(options.project, state));
		return state;
	})().finally(gates.gcloud.open);

	const adcPart = (async (): Promise<AdcState> => {
		const adc = await hasApplicationDefaultCredentials(ctx);
		// Pushes go as gcloud's account (the credential helper), API calls as ADC's: say when they differ.
		const gcloudAccount = adc.account ? (await gcloudPart.catch(() => undefined))?.account : undefined;
		if (adc.present && gcloudAccount && adc.account && gcloudAccount !== adc.account) {
			emit(
				make(
					'adc',
					options.needAdc,
					'warn',
					`${adc.account} at ${adc.path}, but gcloud is ${gcloudAccount}: pushes go as ${gcloudAccount}, Artifact Registry API calls as ${adc.account}.`,
					`Use one account for both: ${ADC_LOGIN} (as ${gcloudAccount}), or gcloud config set account ${adc.account}`,
				),
			);
		} else if (adc.present) {
			const who = adc.account ?? (adc.type === 'authorized_user' ? 'your user account; the file does not name it' : undefined);
			emit(make('adc', options.needAdc, 'ok', `${adc.type ?? 'credentials'}${who ? ` (${who})` : ''} at ${adc.path}`));
		} else {
			const fix = adc.reason === 'ADC_MISSING' ? ADC_LOGIN : `Repair or remove ${adc.path}, then run: ${ADC_LOGIN}`;
			emit(make('adc', options.needAdc, 'fail', adc.detail ?? `No usable credentials at ${adc.path}`, fix));
		}

		return adc;
	})();

	// doctor proves the helper gives docker a token: a gcloud start (~1 s), the slowest check, so it
	// starts at once, beside docker version, not after it.
	const helperPart = (async () => {
		const started = options.credentialHelper;
		const helper = started?.helper ?? (await credentialHelperOnPath(ctx.platform));
		if (!helper || wizard) return {helper};
		const host = options.repository
			? registryHostOfLocation(options.repository.location, ctx.platform.env.IMAGESPEC_GAR_REGISTRY_HOST)
			: (ctx.platform.env.IMAGESPEC_GAR_REGISTRY_HOST ?? SAMPLE_HOST);
		const answer = await (started ? started.answers(gates.helper.ctx, host) : credentialHelperAnswers(gates.helper.ctx, host));
		return {helper, host, answer};
	})().finally(gates.helper.open);

	const dockerPart = (async (): Promise<DockerInfo> => {
		const [info, {helper, host, answer}, dockerPath] = await Promise.all([
			dockerInfo(gates.docker.ctx).finally(gates.docker.open),
			helperPart,
			findExecutable(ctx.platform, executable(ctx.platform, 'docker')),
		]);
		const need = options.needDocker;
		if (info.cliInstalled) {
			// A snap's docker or a run under sudo leaves gcloud's credential helper out of every push.
			const reach = (dockerPath ? await snapDocker(dockerPath) : undefined) ?? underSudo(ctx.platform);
			const cli = `Docker ${info.cliVersion ?? ''}`.trim();
			if (!reach) emit(make('docker-cli', need, 'ok', cli));
			else emit(make('docker-cli', need && reach.problem === 'snap', reach.problem === 'snap' ? 'fail' : 'warn', `${cli}: ${reach.detail}`, reach.fix));
			const denied = socketPermission(info.error, ctx.platform);
			emit(
				info.engineReachable
					? make('docker-engine', need, 'ok', `Engine ${info.engineVersion ?? ''}`.trim())
					: make(
							'docker-engine',
							need,
							'fail',
							denied?.detail ?? info.error ?? 'The Docker engine does not answer.',
							denied?.fix ?? `${START_DOCKER}, then run this again.`,
						),
			);
		} else {
			emit(make('docker-cli', need, 'fail', 'docker was not found on PATH.', INSTALL_DOCKER));
			emit(make('docker-engine', need, 'fail', 'Needs the Docker CLI.', INSTALL_DOCKER));
		}

		if (helper && wizard) {
			emit(make('credential-helper', need, 'ok', helper));
		} else if (helper && answer) {
			// doctor proves it: docker gets a token for the host only if the helper gives one.
			emit(
				answer.answers
					? make('credential-helper', need, 'ok', `${helper} gives docker a token for ${host}`)
					: make(
							'credential-helper',
							need,
							'fail',
							`${helper} gives docker no token for ${host}: ${answer.why}`,
							/account/i.test(answer.why) ? GCLOUD_LOGIN : `${GCLOUD_LOGIN}, then check: echo ${host} | docker-credential-gcloud get`,
						),
			);
		} else {
			// The fix can name the SDK's bin folder only once gcloud is located.
			const sdkBin = (await gcloudPart.catch(() => undefined))?.sdkBin;
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

	const dockerAuthPart = (async () => {
		if (!options.repository) return;
		emit(await dockerAuthCheck(ctx, options.repository, {required: options.needDocker && !wizard, wizard, saved: options.dockerAuthSaved}));
	})();

	const repositoryPart = (async () => {
		if (!options.repository) return;
		emit(await repositoryCheck(ctx, options, gcloudPart, client));
	})();

	// A Reader or Writer role on the whole project counts as one on the repository: the project's
	// policy is read once (a gcloud start), and only when a repository's own policy lacks a grant.
	let projectRead: ReturnType<typeof readProjectIamBindings> | undefined;
	const projectBindings: ProjectBindings = () =>
		(projectRead ??= options.repository ? readProjectIamBindings(ctx, options.repository.project) : Promise.resolve(undefined));

	const dataPlanePart = (async () => {
		if (!options.repository || !options.dataPlaneServiceAccount) return;
		emit(await dataPlaneCheck(ctx, options.repository, options.dataPlaneServiceAccount, client, projectBindings));
	})();

	const remoteBuilderPart = (async () => {
		if (!options.repository || !options.remoteBuilder) return;
		emit(await remoteBuilderCheck(ctx, options.repository, options.remoteBuilder, client, projectBindings));
	})();

	const pythonPart = (async (): Promise<PythonInfo | undefined> => {
		if (options.python === false) return undefined;
		const python = await detectPython(gates.python.ctx);
		emit(pythonCheck(python));
		return python;
	})().finally(gates.python.open);

	emit(archCheck(ctx.platform.arch, options.needDocker));

	let outcome;
	try {
		outcome = await allOf({
			gcloud: gcloudPart,
			adc: adcPart,
			docker: dockerPart,
			dockerAuth: dockerAuthPart,
			repository: repositoryPart,
			dataPlane: dataPlanePart,
			remoteBuilder: remoteBuilderPart,
			python: pythonPart,
		});
	} finally {
		await own?.close();
	}

	const {gcloud, adc, docker, python} = outcome;
	const checks = CHECK_ORDER.map(id => results.get(id)).filter((check): check is Check => check !== undefined);
	return {checks, gcloud, adc, docker, python};
};

const projectCheck = (given: string | undefined, state: GcloudState | undefined): Check => {
	if (given) return make('project', true, 'ok', `${given} (given)`);
	if (state?.project) return make('project', true, 'ok', `${state.project} (gcloud config)`);
	// The wizard can still ask for it, so this only warns.
	return make('project', false, 'warn', 'No project set in gcloud and none given.', 'gcloud config set project PROJECT, or pass --project PROJECT');
};

/** Does docker ask gcloud for the repository host's credentials? Read from config.json, no process. */
const dockerAuthCheck = async (
	ctx: ServiceContext,
	where: RepositoryRef,
	{required, wizard, saved}: {required: boolean; wizard: boolean; saved?: string},
): Promise<Check> => {
	const host = registryHostOfLocation(where.location, ctx.platform.env.IMAGESPEC_GAR_REGISTRY_HOST);
	const file = dockerConfigPath(ctx.platform);
	const command = configureDockerCommand(host);
	const later = wizard ? ' (the wizard registers it in the Docker authentication step)' : '';
	let source;
	try {
		source = credentialSourceFor(await readDockerConfig(ctx.platform), host);
	} catch (error) {
		return make('docker-auth', required, 'fail', message(error), error instanceof StepError ? error.fix : undefined);
	}

	if (source?.mechanism === 'credHelpers' && source.helper === 'gcloud') return make('docker-auth', required, 'ok', `${host} → gcloud credential helper`);
	// Registered on an earlier run and gone now: something rewrote config.json (Docker Desktop does, keeping its own credsStore).
	const desktop = source?.mechanism === 'credsStore' && source.helper === 'desktop';
	const dropped =
		saved === host ? `gcloud's entry for ${host} is gone since an earlier run registered it${desktop ? ' (Docker Desktop rewrote the file)' : ''}: ` : '';
	const uses =
		source === undefined
			? `docker has no credentials for ${host} in ${file}`
			: source.mechanism === 'auths'
				? `docker uses a stored \`docker login\` for ${host}, which expires within the hour`
				: `docker asks docker-credential-${source.helper} (${source.mechanism}) for ${host}, not gcloud`;
	return make('docker-auth', required, 'fail', `${dropped}${uses}: pushes would be refused${later}.`, command);
};

/** Does the saved repository still exist, as Docker, and may this account push to it? */
const repositoryCheck = async (ctx: ServiceContext, options: CheckOptions, gcloud: Promise<GcloudState>, registry: RegistryHandle): Promise<Check> => {
	const where = options.repository!;
	const {project, location, repository} = where;
	const wizard = options.mode === 'wizard';
	const label = `${repository} in ${project} · ${location}`;
	// Existence matters for any build; push access only when this machine pushes.
	const required = !wizard;
	const pushRequired = !wizard && options.needDocker;
	const timeout = AbortSignal.timeout(REPOSITORY_CHECK_TIMEOUT_MS);
	const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
	const unknown = (why: string, fix?: string) => make('repository', false, 'warn', `Could not check ${label}: ${why}`, fix);

	try {
		const client = await registry.open();
		const found = await client.getRepository(where, signal);
		if (!found) {
			return make(
				'repository',
				required,
				'fail',
				`${label} does not exist (any more).`,
				`Run imagespec-gar and choose or create a repository (it was saved for this folder as ${repository}).`,
			);
		}

		if (found.format !== 'DOCKER') {
			return make('repository', required, 'fail', `${label} is a ${found.format} repository, not Docker.`, 'Run imagespec-gar and choose a Docker repository.');
		}

		let granted: string[];
		try {
			granted = await client.testIamPermissions(where, [PUSH_PERMISSION], signal);
		} catch (error) {
			if (ctx.signal?.aborted) throw new CancelledError();
			return make('repository', false, 'warn', `${label} exists; could not check push permission (${timeout.aborted ? 'no answer in time' : message(error)}).`);
		}

		if (granted.includes(PUSH_PERMISSION)) return make('repository', required, 'ok', `${label} exists; you may push to it`);
		const account = (await gcloud.catch(() => undefined))?.account;
		return make(
			'repository',
			pushRequired,
			'fail',
			`${label} exists, but you may not push to it (no ${PUSH_PERMISSION}; checked with your Application Default Credentials).`,
			writerGrantFix(where, iamMember(account)),
		);
	} catch (error) {
		if (ctx.signal?.aborted) throw new CancelledError();
		if (timeout.aborted) return unknown(`Artifact Registry did not answer within ${REPOSITORY_CHECK_TIMEOUT_MS / 1000} s.`);
		if (error instanceof StepError && (error.reason === 'NOT_FOUND' || error.reason === 'IAM_PERMISSION_DENIED' || error.reason === 'SERVICE_DISABLED')) {
			return make('repository', required, 'fail', error.message, error.fix);
		}

		return unknown(message(error), error instanceof StepError ? error.fix : undefined);
	}
};

/** The project's IAM bindings, read once per run and only when asked (undefined: they could not be read). */
type ProjectBindings = () => Promise<IamBinding[] | undefined>;

/** Reads the repository's policy, then the project's: does a reading role hold the data plane's worker account? Warns only. */
const dataPlaneCheck = async (
	ctx: ServiceContext,
	where: RepositoryRef,
	serviceAccount: string,
	registry: RegistryHandle,
	projectBindings: ProjectBindings,
): Promise<Check> => {
	const signal = ctx.signal
		? AbortSignal.any([ctx.signal, AbortSignal.timeout(REPOSITORY_CHECK_TIMEOUT_MS)])
		: AbortSignal.timeout(REPOSITORY_CHECK_TIMEOUT_MS);
	try {
		const [client, {accountAccess, READER_ROLE}] = await Promise.all([registry.open(), import('./repository-iam.js')]);
		const access = await accountAccess(client, where, serviceAccount, READER_ROLE, signal, projectBindings);
		return make('data-plane', false, access.status === 'ok' ? 'ok' : 'warn', access.detail, access.fix);
	} catch (error) {
		if (ctx.signal?.aborted) throw new CancelledError();
		return make(
			'data-plane',
			false,
			'warn',
			`Could not read who may pull from ${where.repository}: ${message(error)}`,
			error instanceof StepError ? error.fix : undefined,
		);
	}
};

/**
 * Reads the repository's policy for the remote builder's accounts (UNION_ACCOUNTS): its own
 * Writer and the operator proxy's Reader. Same project as the data plane: nothing is needed. Warns only.
 */
const remoteBuilderCheck = async (
	ctx: ServiceContext,
	where: RepositoryRef,
	accounts: RemoteBuilderAccounts,
	registry: RegistryHandle,
	projectBindings: ProjectBindings,
): Promise<Check> => {
	if (accounts.sameProject) return make('remote-builder', false, 'ok', `the data plane runs in ${where.project}: Union's builder needs no grant there`);
	const {UNION_ACCOUNTS} = await import('./union-accounts.js');
	const wanted = [
		['builder', accounts.builderServiceAccount],
		['operator-proxy', accounts.operatorProxyServiceAccount],
	] as const;
	const unknown = wanted.filter(([, email]) => !email).map(([account]) => `--${UNION_ACCOUNTS[account].flag}`);
	if (accounts.sameProject === undefined && unknown.length === wanted.length) {
		return make(
			'remote-builder',
			false,
			'warn',
			'Not known yet where the Union data plane runs: in another project, its builder needs Writer and its operator proxy Reader on the repository.',
			`Run imagespec-gar (it asks), or: imagespec-gar ${unknown.map(flag => `${flag} EMAIL`).join(' ')}`,
		);
	}
	const signal = ctx.signal
		? AbortSignal.any([ctx.signal, AbortSignal.timeout(REPOSITORY_CHECK_TIMEOUT_MS)])
		: AbortSignal.timeout(REPOSITORY_CHECK_TIMEOUT_MS);
	const [client, {accountAccess}] = await Promise.all([registry.open(), import('./repository-iam.js')]);
	const found = [];
	for (const [account, email] of wanted) {
		if (email) found.push(await accountAccess(client, where, email, UNION_ACCOUNTS[account].role, signal, projectBindings));
	}
	if (ctx.signal?.aborted) throw new CancelledError();
	const fixes = found.flatMap(access => (access.fix ? [access.fix] : []));
	if (unknown.length > 0) fixes.push(`Tell imagespec-gar the accounts: imagespec-gar ${unknown.map(flag => `${flag} EMAIL`).join(' ')}`);
	const ok = unknown.length === 0 && found.every(access => access.status === 'ok');
	const details = [...found.map(access => access.detail), ...(unknown.length > 0 ? [`not known yet: ${unknown.join(', ')}`] : [])];
	return make('remote-builder', false, ok ? 'ok' : 'warn', details.join('; '), fixes.length > 0 ? fixes.join('\n') : undefined);
};

/** linux/amd64 images build natively only on amd64; elsewhere docker emulates every instruction. */
const archCheck = (arch: string, needDocker: boolean): Check => {
	if (arch === 'x64') return make('arch', false, 'ok', 'amd64: linux/amd64 images build natively');
	const name = arch === 'arm64' ? 'arm64 (Apple Silicon or ARM Linux)' : arch;
	if (!needDocker) return make('arch', false, 'ok', `${name}: no local build planned, so no emulation`);
	return make(
		'arch',
		false,
		'warn',
		`${name}: linux/amd64 images (what Union nodes run) are ${EMULATION_COST}.`,
		'Let Union build the image at registration: imagespec-gar --builder union',
	);
};

const pythonCheck = (python: PythonInfo): Check => {
	const install = 'pip install union (in the environment you run `union register` from)';
	if (!python.found)
		return make(
			'python',
			false,
			'warn',
			'No python3 or python on PATH: needed to register workflows (union register), not for this wizard.',
			`Install Python 3.9+, then ${install}`,
		);
	const where = `Python ${python.version ?? '?'} (${python.executable})`;
	if (python.error) return make('python', false, 'warn', `${where}: ${python.error}`, install);
	const sdks = [python.union ? `union ${python.union}` : undefined, python.flytekit ? `flytekit ${python.flytekit}` : undefined].filter(Boolean);
	if (sdks.length > 0) return make('python', false, 'ok', `${where} with ${sdks.join(', ')}`);
	if (python.broken)
		return make(
			'python',
			false,
			'warn',
			`${where}: installed but does not import (${python.broken}).`,
			`Repair the install: ${install.replace('pip install', 'pip install --force-reinstall')}`,
		);
	return make('python', false, 'warn', `${where} has neither union nor flytekit: needed to register workflows, not for this wizard.`, install);
};

/** Promise.all by name: a part added later cannot shift the others' results. */
const allOf = async <Parts extends Record<string, Promise<unknown>>>(parts: Parts): Promise<{[Name in keyof Parts]: Awaited<Parts[Name]>}> => {
	const names = Object.keys(parts);
	const values = await Promise.all(Object.values(parts));
	return Object.fromEntries(names.map((name, index) => [name, values[index]])) as {[Name in keyof Parts]: Awaited<Parts[Name]>};
};

/** A context for one part of the checks that says when that part has started its child process. */
const spawnGate = (ctx: ServiceContext) => {
	let open!: () => void;
	const opened = new Promise<void>(resolve => {
		open = resolve;
	});
	const onSpawn = () => {
		open();
		ctx.onSpawn?.();
	};
	return {ctx: {...ctx, onSpawn}, opened, open};
};
