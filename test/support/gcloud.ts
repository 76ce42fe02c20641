import {spawn} from 'node:child_process';
import {generateKeyPairSync, randomBytes} from 'node:crypto';
import {mkdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import type {Sandbox} from './environment.js';

export const FAKE_TOKEN = 'ya29.fake-token';
export const DEFAULT_ACCOUNT = 'ci-bot@acme-ml.iam.gserviceaccount.com';

export type TokenEndpoint = {url: string; stop: () => Promise<void>};

// Any POST gets a fixed access token. (No "id_token": null in the answer: gcloud fails on it.)
const TOKEN_SERVER = `
const server = require('node:http').createServer((request, response) => {
	request.resume();
	request.on('end', () => {
		if (request.method !== 'POST') return response.writeHead(405).end();
		response.writeHead(200, {'content-type': 'application/json'});
		response.end(JSON.stringify({access_token: ${JSON.stringify(FAKE_TOKEN)}, expires_in: 3600, token_type: 'Bearer'}));
	});
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
// Ends with the test process that started it.
process.stdin.on('end', () => process.exit(0)).resume();
`;

/**
 * Google's OAuth token endpoint, faked on loopback, in a process of its own: the wizard runs
 * `gcloud auth login` synchronously (it owns the terminal meanwhile), which blocks the test
 * process that calls the step while gcloud asks this endpoint for a token.
 */
export const startTokenEndpoint = async (): Promise<TokenEndpoint> => {
	const server = spawn(process.execPath, ['-e', TOKEN_SERVER], {stdio: ['pipe', 'pipe', 'inherit']});
	const port = await new Promise<string>((resolve, reject) => {
		server.stdout.once('data', (data: Buffer) => {
			resolve(String(data).trim());
		});
		server.once('error', reject);
		server.once('exit', code => {
			reject(new Error(`the token endpoint exited (${code})`));
		});
	});
	// Never the reason a test process stays alive.
	server.unref();
	for (const stream of [server.stdin, server.stdout]) (stream as unknown as {unref?: () => void}).unref?.();
	return {
		url: `http://127.0.0.1:${port}/token`,
		async stop() {
			server.kill();
		},
	};
};

let shared: Promise<TokenEndpoint> | undefined;

/** One endpoint per test process is enough: it answers everyone the same. */
export const sharedTokenEndpoint = async (): Promise<TokenEndpoint> => {
	shared ??= startTokenEndpoint();
	return shared;
};

const privateKeyPem = (): string =>
	generateKeyPairSync('rsa', {modulusLength: 2048, privateKeyEncoding: {type: 'pkcs8', format: 'pem'}, publicKeyEncoding: {type: 'spki', format: 'pem'}})
		.privateKey;

const serviceAccountKey = (account: string, tokenUrl: string) => ({
	type: 'service_account',
	project_id: account.split('@')[1]?.split('.')[0] ?? 'acme-ml',
	private_key_id: randomBytes(20).toString('hex'),
	private_key: privateKeyPem(),
	client_email: account,
	client_id: '100000000000000000001',
	token_uri: tokenUrl,
});

/**
 * A service-account key for the local token endpoint: what a person's sign-in ends in, offline.
 * The sandbox's env points gcloud at that endpoint for tokens and refreshes.
 */
export const writeLoginKey = async (sandbox: Sandbox, options: {account?: string; endpoint?: TokenEndpoint} = {}): Promise<string> => {
	const endpoint = options.endpoint ?? (await sharedTokenEndpoint());
	const keyFile = path.join(sandbox.root, `key-${randomBytes(4).toString('hex')}.json`);
	await writeFile(keyFile, JSON.stringify(serviceAccountKey(options.account ?? DEFAULT_ACCOUNT, endpoint.url)), {mode: 0o600});
	sandbox.env.CLOUDSDK_AUTH_TOKEN_HOST = endpoint.url;
	return keyFile;
};

/** The real gcloud on the sandbox's PATH (before any shim wraps it). */
export const realGcloud = async (sandbox: Sandbox): Promise<string> =>
	(await execa('sh', ['-c', 'command -v gcloud'], {env: sandbox.env, extendEnv: false})).stdout.trim();

/** A logged-in gcloud without network: activates a fake service-account key against the local token endpoint. */
export const loginOffline = async (sandbox: Sandbox, options: {account?: string; endpoint?: TokenEndpoint} = {}): Promise<string> => {
	const account = options.account ?? DEFAULT_ACCOUNT;
	const keyFile = await writeLoginKey(sandbox, {...options, account});
	const result = await execa('gcloud', ['auth', 'activate-service-account', `--key-file=${keyFile}`], {
		env: sandbox.env,
		extendEnv: false,
		stdin: 'ignore',
		reject: false,
	});
	if (result.exitCode !== 0) throw new Error(`gcloud auth activate-service-account failed: ${result.stderr}`);
	return account;
};

/** Writes Application Default Credentials where gcloud would ($CLOUDSDK_CONFIG). Returns the path. */
export const writeAdc = async (sandbox: Sandbox, options: {type?: 'authorized_user' | 'service_account'; content?: string} = {}): Promise<string> => {
	const file = path.join(sandbox.cloudsdkConfig, 'application_default_credentials.json');
	const type = options.type ?? 'authorized_user';
	const json =
		type === 'authorized_user'
			? {
					type,
					client_id: '764086051850-fake.apps.googleusercontent.com',
					client_secret: 'd-fake',
					refresh_token: '1//fake-refresh-token',
					quota_project_id: 'acme-ml',
				}
			: serviceAccountKey(DEFAULT_ACCOUNT, 'https://oauth2.googleapis.com/token');
	await writeFile(file, options.content ?? JSON.stringify(json, null, 2));
	return file;
};

/** Puts a shell script named name first on the sandbox's PATH (a fake or a wrapper of the real tool). */
export const shimTool = async (sandbox: Sandbox, name: string, body: string): Promise<string> => {
	const dir = path.join(sandbox.root, 'shims');
	await mkdir(dir, {recursive: true});
	const file = path.join(dir, name);
	await writeFile(file, `#!/bin/sh\n${body}\n`, {mode: 0o755});
	if (!sandbox.env.PATH?.startsWith(`${dir}${path.delimiter}`)) sandbox.env.PATH = `${dir}${path.delimiter}${sandbox.env.PATH ?? ''}`;
	return file;
};

export type GcloudCall = {args: string; start: number; end?: number};

/**
 * Wraps the real gcloud to record each call's arguments and start/end times, so a test can
 * prove how many gcloud processes ran and whether they overlapped.
 */
export const recordGcloudCalls = async (sandbox: Sandbox): Promise<() => Promise<GcloudCall[]>> => {
	const real = await realGcloud(sandbox);
	const log = path.join(sandbox.root, 'gcloud-calls.log');
	await shimTool(
		sandbox,
		'gcloud',
		[`id=$$`, `echo "start $id $(date +%s%N) $*" >> '${log}'`, `'${real}' "$@"`, `rc=$?`, `echo "end $id $(date +%s%N)" >> '${log}'`, `exit $rc`].join('\n'),
	);
	return async () => {
		const text = await readFile(log, 'utf8').catch(() => '');
		const calls = new Map<string, GcloudCall>();
		for (const line of text.split('\n')) {
			const [kind, id = '', time = '0', ...args] = line.split(' ');
			if (kind === 'start') calls.set(id, {args: args.join(' '), start: Number(time) / 1e6});
			const call = calls.get(id);
			if (kind === 'end' && call) call.end = Number(time) / 1e6;
		}
		return [...calls.values()];
	};
};
