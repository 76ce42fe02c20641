import {readFile} from 'node:fs/promises';
import type {ServiceContext} from './context.js';
import {CancelledError, StepError, isAbort} from './errors.js';
import {dockerConfigPath, type Platform} from './platform.js';

/** The parts of docker's config.json we read; every other key is kept as is by gcloud. */
export type DockerConfig = {
	auths?: Record<string, {auth?: string; identitytoken?: string} & Record<string, unknown>>;
	credsStore?: string;
	credHelpers?: Record<string, string>;
	[key: string]: unknown;
};

/** config.json, or undefined when there is none. A corrupt file is reported, never rewritten. */
export const readDockerConfig = async (platform: Platform): Promise<DockerConfig | undefined> => {
	const file = dockerConfigPath(platform);
	let text: string;
	try {
		text = await readFile(file, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw new StepError(`Could not read Docker's config at ${file}: ${(error as Error).message}`, {
			fix: `Check the permissions of ${file}.`,
			reason: 'DOCKER_CONFIG_UNREADABLE',
			cause: error,
		});
	}
	// docker treats an empty file as an empty config.
	if (text.trim() === '') return {};
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	} catch (error) {
		throw new StepError(`Docker's config at ${file} is not valid JSON.`, {
			fix: `Repair or move away ${file}, then run this again (docker and gcloud cannot use it either).`,
			reason: 'DOCKER_CONFIG_CORRUPT',
			cause: error,
		});
	}
	if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
		throw new StepError(`Docker's config at ${file} is not a JSON object.`, {
			fix: `Repair or move away ${file}, then run this again.`,
			reason: 'DOCKER_CONFIG_CORRUPT',
		});
	}
	// docker and gcloud fail on these with messages that do not name the key (gcloud: "run gcloud info --run-diagnostics").
	const config = parsed as Record<string, unknown>;
	const isObject = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value);
	for (const [key, valid, shape] of [
		[
			'credHelpers',
			isObject(config.credHelpers) && Object.values(config.credHelpers as object).every(value => typeof value === 'string'),
			'an object of host: helper names, e.g. {"us-east1-docker.pkg.dev": "gcloud"}',
		],
		['auths', isObject(config.auths), 'an object of host: credentials'],
		['credsStore', typeof config.credsStore === 'string', 'a helper name, e.g. "desktop"'],
	] as const) {
		if (config[key] !== undefined && !valid) {
			throw new StepError(`Docker's config at ${file} is valid JSON, but its "${key}" is not ${shape}.`, {
				fix: `Make "${key}" ${shape} (or remove it) in ${file}, then run this again.`,
				reason: 'DOCKER_CONFIG_CORRUPT',
			});
		}
	}

	return parsed as DockerConfig;
};

export type CredentialSource =
	/** credHelpers[host]: docker runs docker-credential-<helper>. */
	| {mechanism: 'credHelpers'; helper: string}
	/** credsStore: one helper for every host without a credHelpers entry. */
	| {mechanism: 'credsStore'; helper: string}
	/** A stored login (docker login) in auths. */
	| {mechanism: 'auths'};

/**
 * Which credentials docker uses for host, in docker's own order: credHelpers[host], then
 * credsStore, then auths[host]. undefined: docker pushes anonymously.
 */
export const credentialSourceFor = (config: DockerConfig | undefined, host: string): CredentialSource | undefined => {
	const key = normalizeHost(host);
	const helper = findKey(config?.credHelpers, key);
	if (typeof helper === 'string' && helper !== '') return {mechanism: 'credHelpers', helper};
	if (typeof config?.credsStore === 'string' && config.credsStore !== '') return {mechanism: 'credsStore', helper: config.credsStore};
	if (findKey(config?.auths, key) !== undefined) return {mechanism: 'auths'};
	return undefined;
};

/**
 * The helper docker asks for host's credentials ('gcloud' when configure-docker ran),
 * 'auths' for a stored login, undefined when none applies.
 */
export const credentialHelperFor = (config: DockerConfig | undefined, host: string): string | undefined => {
	const source = credentialSourceFor(config, host);
	if (!source) return undefined;
	return source.mechanism === 'auths' ? 'auths' : source.helper;
};

/** Whether docker will ask gcloud for host's credentials. */
export const isGcloudHelperRegistered = (config: DockerConfig | undefined, host: string): boolean => {
	const helper = findKey(config?.credHelpers, normalizeHost(host));
	return helper === 'gcloud';
};

// auths keys are often full URLs ("https://index.docker.io/v1/"); docker matches on the host.
const normalizeHost = (host: string): string =>
	host
		.trim()
		.replace(/^[a-z]+:\/\//i, '')
		.replace(/\/.*$/, '')
		.toLowerCase();

const findKey = <T>(record: Record<string, T> | undefined, host: string): T | undefined => {
	if (!record || typeof record !== 'object') return undefined;
	for (const [key, value] of Object.entries(record)) {
		if (normalizeHost(key) === host) return value;
	}
	return undefined;
};

/**
 * Waits for a `gcloud auth configure-docker` of host still running (ServiceContext.dockerAuth)
 * before docker uses that host's credentials (a push, a pull, a manifest read); other hosts go on.
 */
export const dockerAuthDone = async (ctx: ServiceContext, host: string): Promise<void> => {
	const pending = ctx.dockerAuth;
	if (pending?.host !== host) return;
	try {
		await pending.done;
	} catch (error) {
		if (isAbort(error) || error instanceof CancelledError || ctx.signal?.aborted) throw new CancelledError();
		throw new StepError(`docker cannot use ${host}: its docker authentication (gcloud auth configure-docker) failed.`, {
			fix: error instanceof StepError ? error.fix : undefined,
			reason: 'DOCKER_AUTH_FAILED',
			cause: error,
		});
	}
};
