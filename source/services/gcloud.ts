import {readFile, realpath} from 'node:fs/promises';
import path from 'node:path';
import type {ServiceContext} from './context.js';
import {isGcloudHelperRegistered, readDockerConfig} from './docker-config.js';
import {StepError} from './errors.js';
import {findExecutable, runTool} from './exec.js';
import {adcPath, dockerConfigPath, executable, type Platform} from './platform.js';

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

const lastLines = (text: string, count = 3): string =>
	text.trim().split('\n').slice(-count).join(' ').trim() || 'no output';

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

export const locateGcloud = async (platform: Platform): Promise<{path: string; sdkBin: string} | undefined> => {
	const found = await findExecutable(platform, 'gcloud');
	if (!found) return undefined;
	// Homebrew and Debian link gcloud into a shared bin; the helper is only beside the real one.
	const real = await realpath(found).catch(() => found);
	return {path: found, sdkBin: path.dirname(real)};
};

/**
 * Who is logged in and which project is set: one `config list` and one `auth list`, concurrently
 * (each gcloud start costs ~1.6 s).
 */
export const readGcloudState = async (ctx: ServiceContext): Promise<GcloudState> => {
	const located = await locateGcloud(ctx.platform);
	if (!located) return {installed: false, accounts: []};
	const gcloud = executable(ctx.platform, 'gcloud');
	const [config, auth, version] = await Promise.all([
		runTool(ctx, gcloud, ['config', 'list', '--format=json']),
		runTool(ctx, gcloud, ['auth', 'list', '--format=json']),
		sdkVersion(located.sdkBin),
	]);
	if (config.exitCode !== 0) throw gcloudFailure('config list', config.stderr, config.exitCode);
	if (auth.exitCode !== 0) throw gcloudFailure('auth list', auth.stderr, auth.exitCode);
	const core = parseJson<ConfigList>(config.stdout || '{}', 'config list').core ?? {};
	const entries = parseJson<AuthEntry[]>(auth.stdout || '[]', 'auth list');
	const accounts = entries.map((entry) => entry.account).filter((account): account is string => Boolean(account));
	const active = entries.find((entry) => entry.status === 'ACTIVE')?.account;
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
	const missing = (requiredFields[type] ?? []).filter((field) => typeof parsed[field] !== 'string' || parsed[field] === '');
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
export const isKnownGoogleRegistry = (host: string): boolean =>
	/^[a-z0-9-]+-docker\.pkg\.dev$/.test(host) || /^([a-z]+\.)?gcr\.io$/.test(host);

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
	const command = `gcloud auth configure-docker ${host}`;
	const result = await runTool(ctx, executable(ctx.platform, 'gcloud'), ['auth', 'configure-docker', host, '--quiet'], {
		env: isKnownGoogleRegistry(host) ? undefined : {CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY: 'true'},
	});
	if (result.exitCode !== 0) {
		throw new StepError(`${command} failed (exit ${result.exitCode}): ${lastLines(result.stderr)}`, {
			fix: `Check ${configPath} is valid JSON and writable, then run: ${command}`,
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
