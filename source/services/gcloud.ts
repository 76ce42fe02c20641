import {readFile, realpath} from 'node:fs/promises';
import path from 'node:path';
import type {IamBinding} from './artifact-registry.js';
import type {ServiceContext} from './context.js';
import {isGcloudHelperRegistered, readDockerConfig} from './docker-config.js';
import {CancelledError, StepError} from './errors.js';
import {findExecutable, runTool} from './exec.js';
import {ARTIFACT_REGISTRY_SERVICE, configureDockerCommand, enableApiCommand} from './fixes.js';
import {adcPath, dockerConfigPath, executable, gcloudConfigDir, type Platform} from './platform.js';
import {filterWarnings} from './warnings.js';

export type GcloudState = {
	installed: boolean;
	/** Where PATH resolves gcloud. */
	path?: string;
	/** The SDK's bin folder (symlinks resolved): where docker-credential-gcloud lives. */
	sdkBin?: string;
	version?: string;
	/** The active credentialed account. */
	account?: string;
	/** core/project, or CLOUDSDK_CORE_PROJECT (gcloud applies it itself). */
	project?: string;
	accounts: string[];
};

type ConfigList = {core?: {account?: string; project?: string}};
type AuthEntry = {account?: string; status?: string};

const gcloudFailure = (what: string, stderr: string, exitCode: number): StepError =>
	new StepError(`gcloud ${what} failed (exit ${exitCode}): ${lastLines(stderr)}`, {
		fix: 'Run the same gcloud command yourself to see the problem; `gcloud info` shows the configuration in use.',
		reason: 'GCLOUD_FAILED',
	});

const lastLines = (text: string, count = 3): string => text.trim().split('\n').slice(-count).join(' ').trim() || 'no output';

const parseJson = <T>(text: string, what: string): T => {
	try {
		return JSON.parse(text) as T;
	} catch (error) {
		throw new StepError(`gcloud ${what} printed something other than JSON.`, {reason: 'GCLOUD_FAILED', cause: error});
	}
};

/** The SDK's VERSION file sits above bin/ in every installer's layout; a missing one is no error. */
const sdkVersion = async (sdkBin: string): Promise<string | undefined> => {
	try {
		return (await readFile(path.join(sdkBin, '..', 'VERSION'), 'utf8')).trim() || undefined;
	} catch {
		return undefined;
	}
};

const locateGcloud = async (platform: Platform): Promise<{path: string; sdkBin: string} | undefined> => {
	const found = await findExecutable(platform, 'gcloud');
	if (!found) return undefined;
	// Homebrew and Debian link gcloud into a shared bin; the helper is only beside the real one.
	const real = await realpath(found).catch(() => found);
	return {path: found, sdkBin: path.dirname(real)};
};

/** A missing file reads as undefined; any other failure to read throws. */
const readIfPresent = async (file: string): Promise<string | undefined> =>
	readFile(file, 'utf8').catch((error: unknown) => {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw error;
	});

type Properties = Map<string, Map<string, string>>;

/**
 * A gcloud properties file, read the way Python's configparser reads it; undefined for anything
 * configparser might read differently or reject (indented continuations, duplicates, [DEFAULT],
 * `%` interpolation, lines that are neither section, option nor comment).
 */
const parseProperties = (text: string): Properties | undefined => {
	if (text.includes('%')) return undefined;
	const sections: Properties = new Map();
	let current: Map<string, string> | undefined;
	for (const line of text.split(/\r\n|\r|\n/)) {
		const trimmed = line.trim();
		if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
		if (/^\s/.test(line)) return undefined;
		const header = /^\[([^\]]+)\]\s*$/.exec(line)?.[1];
		if (header !== undefined) {
			if (header === 'DEFAULT' || sections.has(header)) return undefined;
			current = new Map();
			sections.set(header, current);
			continue;
		}
		const option = /^(.*?)\s*[=:]\s*(.*)$/.exec(line);
		const key = option?.[1]?.toLowerCase();
		if (!current || !key || current.has(key)) return undefined;
		current.set(key, option![2]!.trim());
	}
	return sections;
};

const CONFIG_NAME = /^[a-z][-a-z0-9]*$/;

/** The active configuration's name as gcloud picks it; undefined when gcloud might pick otherwise. */
const activeConfigName = async (platform: Platform, dir: string): Promise<string | undefined> => {
	const name = platform.env.CLOUDSDK_ACTIVE_CONFIG_NAME || (await readIfPresent(path.join(dir, 'active_config')));
	if (name) return CONFIG_NAME.test(name) ? name : undefined;
	// No pointer yet: gcloud would create `default` from a legacy properties file if there is one.
	if (name === undefined && (await readIfPresent(path.join(dir, 'properties'))) !== undefined) return undefined;
	return 'default';
};

type SqliteModule = typeof import('node:sqlite');
let sqliteModule: Promise<SqliteModule | undefined> | undefined;

/**
 * node:sqlite, or undefined where Node lacks it (before 22.13 it needs a flag). Loading it prints
 * an ExperimentalWarning on stderr: that one warning is dropped, every other passes through.
 */
const loadSqlite = async (): Promise<SqliteModule | undefined> => {
	sqliteModule ??= (async () => {
		const restore = filterWarnings((type, message) => type === 'ExperimentalWarning' && message.startsWith('SQLite is an experimental feature'));
		try {
			return await import('node:sqlite');
		} catch {
			return undefined;
		} finally {
			restore();
		}
	})();
	return sqliteModule;
};

/** The account ids in gcloud's credentials.db, or undefined if it cannot be read (missing, corrupt, locked). */
const credentialedAccounts = async (dir: string): Promise<string[] | undefined> => {
	const sqlite = await loadSqlite();
	if (!sqlite) return undefined;
	try {
		const database = new sqlite.DatabaseSync(path.join(dir, 'credentials.db'), {readOnly: true});
		try {
			const ids = database
				.prepare('SELECT account_id FROM credentials')
				.all()
				.map(row => row.account_id);
			return ids.every((id): id is string => typeof id === 'string' && id !== '') ? ids : undefined;
		} finally {
			database.close();
		}
	} catch {
		return undefined;
	}
};

/**
 * The account, project and credentialed accounts from gcloud's own files, when they answer
 * clearly: an account with credentials is set, and a project is set or surely unset (not on GCE).
 * Undefined otherwise, never a throw.
 */
const readGcloudFiles = async (platform: Platform, sdkBin: string): Promise<Pick<GcloudState, 'account' | 'project' | 'accounts'> | undefined> => {
	try {
		const dir = gcloudConfigDir(platform);
		const name = await activeConfigName(platform, dir);
		if (!name) return undefined;
		const [userText, installationText, gce, ids] = await Promise.all([
			readIfPresent(path.join(dir, 'configurations', `config_${name}`)),
			readIfPresent(path.join(sdkBin, '..', 'properties')),
			readIfPresent(path.join(dir, 'gce')),
			credentialedAccounts(dir),
		]);
		const userFile = parseProperties(userText ?? '');
		const installation = parseProperties(installationText ?? '');
		if (!userFile || !installation) return undefined;
		const user = userFile.get('core') ?? new Map<string, string>();
		// A universe domain changes which account `auth list` marks active.
		const universe = [platform.env.CLOUDSDK_CORE_UNIVERSE_DOMAIN, user.get('universe_domain'), installation.get('core')?.get('universe_domain')];
		if (universe.some(value => value !== undefined)) return undefined;
		// gcloud's cached "on GCE" answer: there `auth list` adds the VM's service accounts.
		if (gce !== undefined && gce !== 'False') return undefined;
		const env = platform.env;
		const account = env.CLOUDSDK_CORE_ACCOUNT ?? user.get('account');
		const project = env.CLOUDSDK_CORE_PROJECT ?? user.get('project');
		// `account#universe` ids belong to other universes: gcloud's own reading is needed.
		if (!account || !ids?.includes(account) || ids.some(id => id.includes('#'))) return undefined;
		// No project set: gcloud would ask a GCE metadata server for one, unless its cache says there is none.
		if (project === '' || (project === undefined && gce !== 'False')) return undefined;
		return {account, project, accounts: ids.sort()};
	} catch {
		return undefined;
	}
};

/**
 * Who is logged in and which project is set. Each gcloud start costs ~0.5-1.6 s, so gcloud's own
 * files answer first: the active configuration's properties and credentials.db cover the common
 * case (a credentialed account, with or without a project) without starting gcloud. Whenever they
 * do not answer clearly (nobody logged in, GCE metadata credentials, installation-wide
 * properties, odd or unreadable files, no node:sqlite), gcloud stays the authority: one
 * `config list` and one `auth list`, concurrently.
 */
export const readGcloudState = async (ctx: ServiceContext): Promise<GcloudState> => {
	const located = await locateGcloud(ctx.platform);
	if (!located) return {installed: false, accounts: []};
	if (ctx.signal?.aborted) throw new CancelledError();
	const versionRead = sdkVersion(located.sdkBin);
	const files = await readGcloudFiles(ctx.platform, located.sdkBin);
	if (files) return {installed: true, path: located.path, sdkBin: located.sdkBin, version: await versionRead, ...files};
	const gcloud = executable(ctx.platform, 'gcloud');
	const [config, auth, version] = await Promise.all([
		runTool(ctx, gcloud, ['config', 'list', '--format=json']),
		runTool(ctx, gcloud, ['auth', 'list', '--format=json']),
		versionRead,
	]);
	if (config.exitCode !== 0) throw gcloudFailure('config list', config.stderr, config.exitCode);
	if (auth.exitCode !== 0) throw gcloudFailure('auth list', auth.stderr, auth.exitCode);
	const core = parseJson<ConfigList>(config.stdout || '{}', 'config list').core ?? {};
	const entries = parseJson<AuthEntry[]>(auth.stdout || '[]', 'auth list');
	const accounts = entries.map(entry => entry.account).filter((account): account is string => Boolean(account));
	const active = entries.find(entry => entry.status === 'ACTIVE')?.account;
	return {
		installed: true,
		path: located.path,
		sdkBin: located.sdkBin,
		version,
		account: active,
		project: core.project || undefined,
		accounts,
	};
};

/**
 * The active account's access token from gcloud's own cache (access_tokens.db) while it has more
 * than five minutes left: what `docker-credential-gcloud get` would hand docker, without a gcloud
 * start (~0.5-1 s). Undefined whenever gcloud might answer otherwise (impersonation, a token
 * file, files that do not answer clearly, an expired or missing token): then ask the helper.
 */
export const cachedAccessToken = async (platform: Platform): Promise<string | undefined> => {
	try {
		const {env} = platform;
		if (env.CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT || env.CLOUDSDK_AUTH_ACCESS_TOKEN_FILE) return undefined;
		const located = await locateGcloud(platform);
		const files = located && (await readGcloudFiles(platform, located.sdkBin));
		if (!located || !files?.account) return undefined;
		const dir = gcloudConfigDir(platform);
		const name = await activeConfigName(platform, dir);
		const properties = await Promise.all(
			[path.join(dir, 'configurations', `config_${name}`), path.join(located.sdkBin, '..', 'properties')].map(async file =>
				parseProperties((await readIfPresent(file)) ?? ''),
			),
		);
		const overridden = properties.some(
			sections => !sections || ['impersonate_service_account', 'access_token_file'].some(key => sections.get('auth')?.has(key)),
		);
		const sqlite = await loadSqlite();
		if (overridden || !sqlite) return undefined;
		const database = new sqlite.DatabaseSync(path.join(dir, 'access_tokens.db'), {readOnly: true});
		try {
			const row = database.prepare('SELECT access_token, token_expiry FROM access_tokens WHERE account_id = ?').get(files.account);
			// gcloud stores the expiry as naive UTC text: 2026-12-02 00:01:57.201973.
			const expiry = typeof row?.token_expiry === 'string' ? Date.parse(`${row.token_expiry.replace(' ', 'T')}Z`) : Number.NaN;
			return typeof row?.access_token === 'string' && row.access_token !== '' && expiry - Date.now() > 5 * 60_000 ? row.access_token : undefined;
		} finally {
			database.close();
		}
	} catch {
		return undefined;
	}
};

export type AdcState = {
	present: boolean;
	path: string;
	/** authorized_user, service_account, external_account, ... */
	type?: string;
	/** The service account's email; user credentials do not name the account. */
	account?: string;
	quotaProject?: string;
	/** Why present is false: 'ADC_MISSING' | 'ADC_CORRUPT' | 'ADC_INVALID' | 'ADC_UNREADABLE'. */
	reason?: string;
	detail?: string;
};

// What google-auth-library needs from each credential type to use it.
const requiredFields: Record<string, string[]> = {
	authorized_user: ['client_id', 'client_secret', 'refresh_token'],
	service_account: ['client_email', 'private_key'],
};

/** The service account an impersonating or workload-identity credential acts as (named in its URL). */
const impersonated = (url: unknown): string | undefined =>
	typeof url === 'string' ? /serviceAccounts\/([^/:]+):generateAccessToken/.exec(url)?.[1] : undefined;

/** Application Default Credentials, as the Node client finds them (GOOGLE_APPLICATION_CREDENTIALS, then gcloud's file). */
export const hasApplicationDefaultCredentials = async (ctx: ServiceContext): Promise<AdcState> => {
	const file = adcPath(ctx.platform);
	let text: string;
	try {
		text = await readFile(file, 'utf8');
	} catch (error) {
		const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
		return {
			present: false,
			path: file,
			reason: missing ? 'ADC_MISSING' : 'ADC_UNREADABLE',
			detail: missing ? `No credentials file at ${file}` : `Cannot read ${file}: ${(error as Error).message}`,
		};
	}
	let parsed: Record<string, unknown>;
	try {
		const value: unknown = JSON.parse(text);
		if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
		parsed = value as Record<string, unknown>;
	} catch {
		return {present: false, path: file, reason: 'ADC_CORRUPT', detail: `${file} is not valid JSON`};
	}
	const type = typeof parsed.type === 'string' ? parsed.type : undefined;
	if (!type) return {present: false, path: file, reason: 'ADC_INVALID', detail: `${file} has no "type"`};
	const missing = (requiredFields[type] ?? []).filter(field => typeof parsed[field] !== 'string' || parsed[field] === '');
	if (missing.length > 0) {
		return {present: false, path: file, type, reason: 'ADC_INVALID', detail: `${file} lacks ${missing.join(', ')}`};
	}
	const account =
		typeof parsed.client_email === 'string'
			? parsed.client_email
			: typeof parsed.account === 'string' && parsed.account
				? parsed.account
				: impersonated(parsed.service_account_impersonation_url);
	const quotaProject = typeof parsed.quota_project_id === 'string' ? parsed.quota_project_id : undefined;
	return {present: true, path: file, type, account, quotaProject};
};

/** Hosts gcloud's configure-docker knows; any other needs artifacts/allow_unrecognized_registry. */
export const isKnownGoogleRegistry = (host: string): boolean => /^[a-z0-9-]+-docker\.pkg\.dev$/.test(host) || /^([a-z]+\.)?gcr\.io$/.test(host);

/** The setting gcloud needs (configure-docker and its credential helper alike) to accept a registry host it does not know. */
export const ALLOW_UNRECOGNIZED_REGISTRY = 'CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY';

/** gcloud's env for host: none for Google's own registries, else the setting above (a private or test registry). */
export const gcloudEnvForHost = (host: string): Record<string, string> | undefined =>
	isKnownGoogleRegistry(host) ? undefined : {[ALLOW_UNRECOGNIZED_REGISTRY]: 'true'};

export type ConfigureDockerResult = {changed: boolean; configPath: string};

/**
 * Registers gcloud as docker's credential helper for host (`gcloud auth configure-docker`).
 * Skips gcloud when the entry is there already; verifies the file afterwards, since gcloud
 * exits 0 even when it skipped the host.
 */
export const configureDocker = async (ctx: ServiceContext, host: string): Promise<ConfigureDockerResult> => {
	const configPath = dockerConfigPath(ctx.platform);
	// Reading first also stops us on a corrupt file, which gcloud would fail on anyway.
	if (isGcloudHelperRegistered(await readDockerConfig(ctx.platform), host)) return {changed: false, configPath};
	const command = configureDockerCommand(host);
	const result = await runTool(ctx, executable(ctx.platform, 'gcloud'), ['auth', 'configure-docker', host, '--quiet'], {
		env: gcloudEnvForHost(host),
	});
	if (result.exitCode !== 0) {
		throw new StepError(`${command} failed (exit ${result.exitCode}): ${lastLines(result.stderr)}`, {
			// The file was read and judged before gcloud ran: what is left is writing it.
			fix: `Check that ${configPath} and its folder are writable for you, then run: ${command}`,
			reason: 'CONFIGURE_DOCKER_FAILED',
		});
	}
	if (!isGcloudHelperRegistered(await readDockerConfig(ctx.platform), host)) {
		throw new StepError(`gcloud did not register itself for ${host} in ${configPath}: ${lastLines(result.stderr)}`, {
			fix: `Check the host name (e.g. us-central1-docker.pkg.dev), then run: ${command}`,
			reason: 'CONFIGURE_DOCKER_NOT_REGISTERED',
		});
	}
	return {changed: true, configPath};
};

/**
 * The service accounts of project whose email contains `contains` (e.g. the Union data plane's
 * `<org>-flyteworker-<suffix>` accounts; every account when undefined), by `gcloud iam
 * service-accounts list`. Not allowed to list, or gcloud failing: an empty list (the person can
 * still type the email).
 */
export const listServiceAccounts = async (ctx: ServiceContext, project: string, contains?: string): Promise<string[]> => {
	let result;
	try {
		result = await runTool(ctx, executable(ctx.platform, 'gcloud'), [
			'iam',
			'service-accounts',
			'list',
			`--project=${project}`,
			...(contains ? [`--filter=email~${contains}`] : []),
			'--format=value(email)',
		]);
	} catch (error) {
		// No gcloud here: the checks said so already; the question falls back to typing.
		if (error instanceof StepError) return [];
		throw error;
	}

	if (result.exitCode !== 0) return [];
	return result.stdout
		.split('\n')
		.map(line => line.trim())
		.filter(email => email !== '' && email.includes(contains ?? ''))
		.sort();
};

/** Turns the Artifact Registry API on in `project` with gcloud (the person's own login). */
export async function enableArtifactRegistryApi(ctx: ServiceContext, project: string): Promise<void> {
	const result = await runTool(ctx, executable(ctx.platform, 'gcloud'), ['services', 'enable', ARTIFACT_REGISTRY_SERVICE, '--project', project], {
		timeout: 180_000,
	});
	if (result.exitCode !== 0) {
		throw new StepError(`Could not enable the Artifact Registry API in project ${project} (exit ${result.exitCode}): ${lastLines(result.stderr)}`, {
			fix:
				'Enabling an API needs Service Usage Admin (roles/serviceusage.serviceUsageAdmin) or Owner on the project; ' +
				`ask for it, or ask an owner to run: ${enableApiCommand(project)}`,
			reason: 'SERVICE_DISABLED',
		});
	}
}

/**
 * The project's own IAM bindings (`gcloud projects get-iam-policy`): a role granted on the whole
 * project covers every repository in it. Undefined when they cannot be read (no
 * resourcemanager.projects.getIamPolicy, no gcloud, gcloud failing): the caller says so.
 */
export const readProjectIamBindings = async (ctx: ServiceContext, project: string): Promise<IamBinding[] | undefined> => {
	let result;
	try {
		result = await runTool(ctx, executable(ctx.platform, 'gcloud'), ['projects', 'get-iam-policy', project, '--format=json']);
	} catch (error) {
		if (error instanceof StepError) return undefined;
		throw error;
	}

	if (result.exitCode !== 0) return undefined;
	try {
		const policy = JSON.parse(result.stdout) as {bindings?: IamBinding[]};
		return Array.isArray(policy.bindings) ? policy.bindings : [];
	} catch {
		return undefined;
	}
};
