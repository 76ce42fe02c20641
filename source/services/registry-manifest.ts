/**
 * Is an image's tag in its registry? Asked of the registry itself (the Docker Registry HTTP API v2:
 * one HEAD of the manifest) with docker's credentials for the host: for gcloud's helper, the token
 * in gcloud's own cache, else one helper start. Used when Artifact Registry's API cannot answer.
 * `docker manifest inspect` answered the same, but docker starts the credential helper (a gcloud
 * start, ~0.5-1 s) about six times for one tag.
 */
import type {ServiceContext} from './context.js';
import {credentialSourceFor, dockerAuthDone, readDockerConfig} from './docker-config.js';
import {CancelledError, StepError} from './errors.js';
import {runTool} from './exec.js';
import {cachedAccessToken, gcloudEnvForHost} from './gcloud.js';
import {executable} from './platform.js';

export type ImageExistence = {state: 'present' | 'absent' | 'unknown'; digest?: string; detail?: string};

/** The registry host of an image reference (docker's rule: a first part with '.', ':' or 'localhost'). */
export const registryHostOfImage = (imageRef: string): string => {
	const first = imageRef.split('/')[0] ?? '';
	return imageRef.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
};

/** Plain-HTTP registries docker itself trusts: loopback only. */
const isLoopbackHost = (host: string): boolean => /^(localhost|127(\.\d+){3}|\[::1\])(:\d+)?$/.test(host);

// Every manifest type a registry may hold for a tag: without them it answers 404 for some.
const ACCEPT = [
	'application/vnd.oci.image.index.v1+json',
	'application/vnd.docker.distribution.manifest.list.v2+json',
	'application/vnd.oci.image.manifest.v1+json',
	'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Where the manifest of imageRef is asked for, docker's defaults applied (Docker Hub, library/). */
const manifestUrl = (imageRef: string): {host: string; url: string} => {
	const host = registryHostOfImage(imageRef);
	let rest = host === 'docker.io' && !imageRef.startsWith('docker.io/') ? imageRef : imageRef.slice(host.length + 1);
	let reference = 'latest';
	const at = rest.indexOf('@');
	const colon = rest.lastIndexOf(':');
	if (at !== -1) {
		reference = rest.slice(at + 1);
		rest = rest.slice(0, at);
	} else if (colon > rest.lastIndexOf('/')) {
		reference = rest.slice(colon + 1);
		rest = rest.slice(0, colon);
	}
	if (host === 'docker.io' && !rest.includes('/')) rest = `library/${rest}`;
	const base = host === 'docker.io' ? 'https://registry-1.docker.io' : `${isLoopbackHost(host) ? 'http' : 'https'}://${host}`;
	return {host, url: `${base}/v2/${rest}/manifests/${reference}`};
};

/** cached: the token came from gcloud's cache, not from the helper (see cachedAccessToken). */
type Credentials = {username: string; secret: string; cached?: boolean};

/**
 * docker's credentials for host, as docker would find them (credHelpers, credsStore, auths), or
 * undefined (anonymous). A helper runs once (`get`, the host on stdin), as docker runs it; with
 * fromCache, gcloud's helper is not run and its cached token stands in (undefined when there is none).
 */
const credentialsFor = async (ctx: ServiceContext, host: string, fromCache: boolean): Promise<Credentials | undefined> => {
	await dockerAuthDone(ctx, host);
	const config = await readDockerConfig(ctx.platform).catch(() => undefined);
	const serverUrl = host === 'docker.io' ? 'https://index.docker.io/v1/' : host;
	const source = credentialSourceFor(config, host === 'docker.io' ? 'index.docker.io' : host);
	if (!source) return undefined;
	// gcloud's helper hands out the active account's token: gcloud's cache has it, no process needed.
	if (source.mechanism !== 'auths' && source.helper === 'gcloud' && fromCache) {
		const token = await cachedAccessToken(ctx.platform);
		return token ? {username: '_dcgcloud_token', secret: token, cached: true} : undefined;
	}
	if (source.mechanism === 'auths') {
		const entry = Object.entries(config?.auths ?? {}).find(
			([key]) =>
				key
					.replace(/^[a-z]+:\/\//i, '')
					.replace(/\/.*$/, '')
					.toLowerCase() === (host === 'docker.io' ? 'index.docker.io' : host.toLowerCase()),
		)?.[1];
		const decoded = entry?.auth ? Buffer.from(entry.auth, 'base64').toString('utf8') : '';
		const colon = decoded.indexOf(':');
		return colon > 0 ? {username: decoded.slice(0, colon), secret: decoded.slice(colon + 1)} : undefined;
	}
	const result = await runTool(
		ctx,
		source.helper === 'gcloud' ? executable(ctx.platform, 'docker-credential-gcloud') : `docker-credential-${source.helper}`,
		['get'],
		{
			input: `${serverUrl}\n`,
			timeout: 60_000,
			// As for configure-docker and docker's own push: gcloud's helper refuses a host it does not know.
			env: source.helper === 'gcloud' ? gcloudEnvForHost(host) : undefined,
		},
	);
	if (result.exitCode !== 0) return undefined;
	try {
		const answer = JSON.parse(result.stdout) as {Username?: unknown; Secret?: unknown};
		// "<token>" is an identity token (an OAuth refresh token for the registry's token service): not used here.
		if (typeof answer.Username === 'string' && typeof answer.Secret === 'string' && answer.Secret !== '' && answer.Username !== '<token>')
			return {username: answer.Username, secret: answer.Secret};
	} catch {
		// Not JSON: the helper's own error message.
	}
	return undefined;
};

const basic = (credentials: Credentials) => `Basic ${Buffer.from(`${credentials.username}:${credentials.secret}`).toString('base64')}`;

/** The challenge of a 401 (`Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`). */
const parseChallenge = (header: string | null): {scheme: string; params: Record<string, string>} | undefined => {
	const match = /^\s*(\w+)\s*(.*)$/.exec(header ?? '');
	if (!match) return undefined;
	const params: Record<string, string> = {};
	for (const [, key, quoted, bare] of match[2]!.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) params[key!.toLowerCase()] = quoted ?? bare ?? '';
	return {scheme: match[1]!.toLowerCase(), params};
};

/**
 * Whether imageRef is in its registry, without pulling. 'unknown' (auth, network) is kept apart
 * from 'absent' on purpose: flytekit treats any failure as "exists" and skips the build.
 */
export const imageExists = async (ctx: ServiceContext, imageRef: string): Promise<ImageExistence> => {
	const {host, url} = manifestUrl(imageRef);
	// One minute for the whole question, as the command it replaces had.
	const timeout = AbortSignal.timeout(60_000);
	const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
	const head = async (authorization?: string) => fetch(url, {method: 'HEAD', headers: {accept: ACCEPT, ...(authorization ? {authorization} : {})}, signal});
	const credentials = async (fromCache: boolean) =>
		credentialsFor(ctx, host, fromCache).catch((error: unknown) => {
			if (error instanceof CancelledError) throw error;
			return undefined;
		});
	/** The registry's answer to a 401 challenge, given these credentials (or none). */
	const answerChallenge = async (challenge: ReturnType<typeof parseChallenge>, known: Credentials | undefined): Promise<ImageExistence | Response> => {
		if (challenge?.scheme === 'basic')
			return known
				? head(basic(known))
				: {state: 'unknown', detail: `${host} answered HTTP 401 for ${imageRef}: no credentials for it from docker's config (unauthorized)`};
		if (challenge?.scheme !== 'bearer' || !challenge.params.realm)
			return {state: 'unknown', detail: `${host} asked for credentials it did not say how to give (${challenge?.scheme ?? 'no challenge'})`};
		const tokenUrl = new URL(challenge.params.realm);
		for (const key of ['service', 'scope'] as const) if (challenge.params[key]) tokenUrl.searchParams.set(key, challenge.params[key]);
		const tokenResponse = await fetch(tokenUrl, {headers: known ? {authorization: basic(known)} : {}, signal});
		const token = tokenResponse.ok ? ((await tokenResponse.json()) as {token?: string; access_token?: string}) : undefined;
		const bearer = token?.token ?? token?.access_token;
		if (bearer) return head(`Bearer ${bearer}`);
		return {
			state: 'unknown',
			detail: `${host} gave no token for ${imageRef} (HTTP ${tokenResponse.status}${known ? '' : ", no credentials for it in docker's config"})`,
		};
	};

	try {
		let answer: ImageExistence | Response = await head();
		if (answer.status === 401) {
			const challenge = parseChallenge(answer.headers.get('www-authenticate'));
			// Only now: a registry that answers anonymously needs no credentials. gcloud's cached
			// token first; the helper when there is none, or when the registry refuses it.
			const cached = await credentials(true);
			answer = cached ? await answerChallenge(challenge, cached) : answer;
			const refused = (reply: ImageExistence | Response) => !(reply instanceof Response) || reply.status === 401 || reply.status === 403;
			if (!cached || refused(answer)) answer = await answerChallenge(challenge, await credentials(false));
		}

		if (!(answer instanceof Response)) return answer;
		if (answer.ok) return {state: 'present', digest: answer.headers.get('docker-content-digest') ?? undefined};
		if (answer.status === 404) return {state: 'absent', detail: `${imageRef}: manifest unknown`};
		const refused = answer.status === 401 || answer.status === 403;
		return {
			state: 'unknown',
			detail: `${host} answered HTTP ${answer.status} for ${imageRef}${refused ? ': the credentials were refused (unauthorized)' : ''}`,
		};
	} catch (error) {
		if (ctx.signal?.aborted || error instanceof CancelledError) throw new CancelledError();
		if (error instanceof StepError) return {state: 'unknown', detail: error.message};
		const cause = (error as {cause?: {message?: string}}).cause?.message;
		return {state: 'unknown', detail: `${host}: ${cause ?? (error instanceof Error ? error.message : String(error))}`};
	}
};
