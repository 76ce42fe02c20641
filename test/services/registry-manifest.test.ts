import {createHash} from 'node:crypto';
import {appendFile, readFile} from 'node:fs/promises';
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it, type TestContext} from 'vitest';
import {DatabaseSync} from 'node:sqlite';
import {CancelledError} from '../../source/services/errors.js';
import {cachedAccessToken, configureDocker} from '../../source/services/gcloud.js';
import {imageExists} from '../../source/services/registry-manifest.js';
import {startRegistry, type Registry} from '../support/docker.js';
import {makeSandbox, withEnv} from '../support/environment.js';
import {FAKE_TOKEN, loginOffline, shimTool} from '../support/gcloud.js';

// A real registry that takes only what docker-credential-gcloud hands out for a logged-in gcloud
// (real gcloud, its own CLOUDSDK_CONFIG, configure-docker run for the host).
const AUTH = {user: '_dcgcloud_token', password: FAKE_TOKEN};
const basic = `Basic ${Buffer.from(`${AUTH.user}:${AUTH.password}`).toString('base64')}`;
let registry: Registry;
let digest: string;

/** Pushes a manifest (an empty config, no layers) over the registry's API: no docker engine needed. */
const pushManifest = async (host: string, name: string, tag: string) => {
	const config = Buffer.from('{}');
	const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
	const upload = await fetch(`http://${host}/v2/${name}/blobs/uploads/`, {method: 'POST', headers: {authorization: basic}});
	const location = new URL(upload.headers.get('location')!, `http://${host}`);
	location.searchParams.set('digest', configDigest);
	expect((await fetch(location, {method: 'PUT', headers: {authorization: basic, 'content-type': 'application/octet-stream'}, body: config})).status).toBe(201);
	const manifest = JSON.stringify({
		schemaVersion: 2,
		mediaType: 'application/vnd.oci.image.manifest.v1+json',
		config: {mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length},
		layers: [],
	});
	const put = await fetch(`http://${host}/v2/${name}/manifests/${tag}`, {
		method: 'PUT',
		headers: {authorization: basic, 'content-type': 'application/vnd.oci.image.manifest.v1+json'},
		body: manifest,
	});
	expect(put.status).toBe(201);
	return put.headers.get('docker-content-digest')!;
};

beforeAll(async () => {
	registry = await startRegistry({auth: AUTH});
	digest = await pushManifest(registry.host, 'acme-ml/union-images/trainer', 'v1');
});
afterAll(async () => registry?.stop());

/** A sandbox whose gcloud is logged in and registered as docker's helper for host; helper starts are logged. */
const loggedIn = async (context: TestContext, host: string) => {
	const box = await makeSandbox();
	context.onTestFinished(async () => box.cleanup());
	await loginOffline(box);
	await configureDocker({platform: withEnv(box.platform, {CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY: 'true'})}, host);
	const real = (await execa('sh', ['-c', 'command -v docker-credential-gcloud'], {env: box.env, extendEnv: false})).stdout.trim();
	const log = path.join(box.root, 'helper.log');
	await shimTool(box, 'docker-credential-gcloud', `echo "$*" >> '${log}'\nexec '${real}' "$@"`);
	const helperStarts = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
	/** A statement on gcloud's token cache, as gcloud keeps it (access_tokens.db). */
	const tokenCache = (sql: string, ...values: string[]) => {
		const database = new DatabaseSync(path.join(box.cloudsdkConfig, 'access_tokens.db'));
		database.prepare(sql).run(...values);
		database.close();
	};
	return {box, helperStarts, tokenCache};
};

/**
 * Artifact Registry's token flow in front of the real registry: HEAD answers 401 with a Bearer
 * challenge; the realm trades docker's Basic credentials for a token; the token then opens the
 * registry (reached with the Basic credentials it takes).
 */
const bearerRegistry = async (context: TestContext) => {
	const token = 'registry-token-1';
	const seen: string[] = [];
	const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
		const {port} = server.address() as AddressInfo;
		seen.push(`${request.method} ${request.url?.split('?')[0]}`);
		if (request.url?.startsWith('/v2/token')) {
			const url = new URL(request.url, 'http://x');
			const ok =
				request.headers.authorization === basic &&
				url.searchParams.get('service') === `127.0.0.1:${port}` &&
				url.searchParams.get('scope') === 'repository:acme-ml/union-images/trainer:pull';
			response.writeHead(ok ? 200 : 401, {'content-type': 'application/json'}).end(JSON.stringify(ok ? {token} : {errors: [{code: 'UNAUTHORIZED'}]}));
			return;
		}
		if (request.headers.authorization !== `Bearer ${token}`) {
			response
				.writeHead(401, {
					'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/v2/token",service="127.0.0.1:${port}",scope="repository:acme-ml/union-images/trainer:pull"`,
				})
				.end();
			return;
		}
		const upstream = await fetch(`http://${registry.host}${request.url}`, {
			method: request.method,
			headers: {authorization: basic, accept: String(request.headers.accept)},
		});
		response.writeHead(upstream.status, Object.fromEntries([...upstream.headers].filter(([key]) => key === 'docker-content-digest'))).end();
	});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	context.onTestFinished(() => {
		server.close();
	});
	return {host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen};
};

describe("imageExists asks the registry itself, with gcloud's cached token or one start of the credential helper", () => {
	it("a Basic-auth registry: present with its digest, absent; gcloud's cached token, else one helper start", async context => {
		const {box, helperStarts, tokenCache} = await loggedIn(context, registry.host);
		// Logged in, gcloud's cache (access_tokens.db) holds the account's token: no gcloud start at all.
		expect(await imageExists(box.context(), `${registry.host}/acme-ml/union-images/trainer:v1`)).toEqual({state: 'present', digest});
		expect(await imageExists(box.context(), `${registry.host}/acme-ml/union-images/trainer:v2`)).toMatchObject({state: 'absent'});
		expect(await imageExists(box.context(), `${registry.host}/acme-ml/union-images/never-pushed:v1`)).toMatchObject({state: 'absent'});
		expect(await helperStarts()).toBe(0);
		// No cached token: the helper, once per question (and it fills the cache again).
		tokenCache('DELETE FROM access_tokens');
		expect(await imageExists(box.context(), `${registry.host}/acme-ml/union-images/trainer:v2`)).toMatchObject({state: 'absent'});
		expect(await helperStarts()).toBe(1);
		expect(await imageExists(box.context(), `${registry.host}/acme-ml/union-images/trainer:v1`)).toEqual({state: 'present', digest});
		expect(await helperStarts()).toBe(1);
	});

	it('a cached token about to expire is not used; one the registry refuses is asked of the helper too, and stays unknown', async context => {
		const {box, helperStarts, tokenCache} = await loggedIn(context, registry.host);
		const ref = `${registry.host}/acme-ml/union-images/trainer:v1`;
		const utc = (ms: number) => new Date(Date.now() + ms).toISOString().replace('T', ' ').replace('Z', '');
		tokenCache('UPDATE access_tokens SET token_expiry = ?', utc(60_000));
		expect(await imageExists(box.context(), ref)).toEqual({state: 'present', digest});
		expect(await helperStarts()).toBe(1);
		// gcloud's helper reads the same cache: a revoked token is refused both ways, and never read as absent.
		tokenCache('UPDATE access_tokens SET access_token = ?, token_expiry = ?', 'ya29.revoked', utc(3_600_000));
		expect(await imageExists(box.context(), ref)).toMatchObject({state: 'unknown', detail: expect.stringMatching(/HTTP 401 .*unauthorized/)});
		expect(await helperStarts()).toBe(2);
	});

	it("Artifact Registry's Bearer token flow: docker's credentials for a token, then the manifest", async context => {
		const front = await bearerRegistry(context);
		const {box, helperStarts, tokenCache} = await loggedIn(context, front.host);
		tokenCache('DELETE FROM access_tokens');
		expect(await imageExists(box.context(), `${front.host}/acme-ml/union-images/trainer:v1`)).toEqual({state: 'present', digest});
		expect(front.seen).toEqual(['HEAD /v2/acme-ml/union-images/trainer/manifests/v1', 'GET /v2/token', 'HEAD /v2/acme-ml/union-images/trainer/manifests/v1']);
		expect(await helperStarts()).toBe(1);
		expect(await imageExists(box.context(), `${front.host}/acme-ml/union-images/trainer:missing`)).toMatchObject({state: 'absent'});
		expect(await helperStarts()).toBe(1);
	});

	it('credentials refused (gcloud logged out) is unknown, never absent', async context => {
		const {box} = await loggedIn(context, registry.host);
		const loggedOut = {platform: withEnv(box.platform, {CLOUDSDK_CONFIG: path.join(box.root, 'logged-out')})};
		const answer = await imageExists(loggedOut, `${registry.host}/acme-ml/union-images/trainer:v2`);
		expect(answer.state).toBe('unknown');
		expect(answer.detail).toMatch(/HTTP 401 .*unauthorized/);
		const front = await bearerRegistry(context);
		expect(await imageExists(loggedOut, `${front.host}/acme-ml/union-images/trainer:v1`)).toMatchObject({
			state: 'unknown',
			detail: expect.stringMatching(/gave no token/),
		});
	});

	it("gcloud's cached token stands in for the helper only when gcloud would hand it out as it is", async context => {
		const {box, tokenCache} = await loggedIn(context, registry.host);
		expect(await cachedAccessToken(box.platform)).toBe(FAKE_TOKEN);
		// Impersonation or a token file: the helper would give another token.
		expect(
			await cachedAccessToken(withEnv(box.platform, {CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT: 'builder@acme-ml.iam.gserviceaccount.com'})),
		).toBeUndefined();
		await appendFile(
			path.join(box.cloudsdkConfig, 'configurations', 'config_default'),
			'[auth]\nimpersonate_service_account = builder@acme-ml.iam.gserviceaccount.com\n',
		);
		expect(await cachedAccessToken(box.platform)).toBeUndefined();
		tokenCache('DELETE FROM access_tokens');
		expect(await cachedAccessToken(withEnv(box.platform, {CLOUDSDK_CONFIG: path.join(box.root, 'logged-out')}))).toBeUndefined();
	});

	it('cancelled: the question stops with the run', async context => {
		const {box} = await loggedIn(context, registry.host);
		const controller = new AbortController();
		controller.abort(new CancelledError());
		await expect(imageExists(box.context(controller.signal), `${registry.host}/acme-ml/union-images/trainer:v1`)).rejects.toBeInstanceOf(CancelledError);
	});
});
