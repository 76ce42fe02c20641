import {spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {mkdir, mkdtemp, rm, symlink, writeFile, copyFile} from 'node:fs/promises';
import {createServer, type AddressInfo, type Socket} from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {REPO_ROOT} from './repo-root.js';

export type DockerEngine = {dockerHost: string};

/** Shared by every test file and run on this machine, so no test leaks a daemon of its own. */
export const TEST_ENGINE_DIR = '/tmp/imagespec-gar-test';

export const isCi = (env: NodeJS.ProcessEnv = process.env): boolean => Boolean(env.CI) && env.CI !== 'false' && env.CI !== '0';

const onPath = (name: string): boolean => (process.env.PATH ?? '').split(path.delimiter).some(dir => dir !== '' && existsSync(path.join(dir, name)));

let engine: Promise<DockerEngine | undefined> | undefined;

/**
 * The Docker engine the tests use: IMAGESPEC_GAR_TEST_DOCKER_HOST (CI, or .ci/services.sh by
 * hand), else a private dockerd under TEST_ENGINE_DIR that stays up for later test files,
 * else undefined (no root or no dockerd).
 */
export const dockerEngine = async (): Promise<DockerEngine | undefined> => {
	engine ??= (async () => {
		const given = process.env.IMAGESPEC_GAR_TEST_DOCKER_HOST;
		if (given) return {dockerHost: given};
		if (process.getuid?.() !== 0 || !onPath('dockerd') || !onPath('docker')) return undefined;
		// flock: two vitest workers must not start two daemons on one data root. -o: the daemon
		// must not inherit the lock, or it holds it for its whole life.
		const result = await execa(
			'flock',
			['-o', `${TEST_ENGINE_DIR}.start-lock`, 'bash', path.join(REPO_ROOT, '.ci', 'services.sh'), 'start-docker', TEST_ENGINE_DIR],
			{
				reject: false,
				stdin: 'ignore',
				timeout: 120_000,
			},
		);
		if (result.exitCode !== 0) throw new Error(`Could not start a private dockerd: ${result.stderr}`);
		return {dockerHost: `unix://${TEST_ENGINE_DIR}/docker.sock`};
	})();
	return engine;
};

/**
 * api (describe or it) when an engine is there, api.skip when none is; in CI a missing engine
 * is a failure, never a silent skip.
 */
export const requireDocker = <T extends {skip: unknown}>(api: T, found: DockerEngine | undefined): T => {
	if (found) return api;
	if (isCi()) {
		throw new Error('CI=true but no Docker engine: set IMAGESPEC_GAR_TEST_DOCKER_HOST (.ci/services.sh start) or run as root with dockerd installed.');
	}
	// describe.skip / it.skip take the same arguments as describe / it.
	return api.skip as T;
};

export const freePort = async (): Promise<number> =>
	new Promise((resolve, reject) => {
		const server = createServer();
		server.on('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const {port} = server.address() as AddressInfo;
			server.close(() => {
				resolve(port);
			});
		});
	});

export type Registry = {host: string; dir: string; stop: () => Promise<void>};

/** A `docker-registry serve` on 127.0.0.1, optionally demanding htpasswd credentials. */
export const startRegistry = async (options: {auth?: {user: string; password: string}} = {}): Promise<Registry> => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'imagespec-gar-registry-'));
	const port = await freePort();
	const lines = [
		'version: 0.1',
		'log: {level: warn, accesslog: {disabled: true}}',
		`storage: {filesystem: {rootdirectory: ${JSON.stringify(path.join(dir, 'data'))}}, delete: {enabled: true}}`,
		`http: {addr: "127.0.0.1:${port}"}`,
	];
	if (options.auth) {
		const htpasswd = await execa('htpasswd', ['-Bbn', options.auth.user, options.auth.password]);
		await writeFile(path.join(dir, 'htpasswd'), `${htpasswd.stdout.trim()}\n`);
		lines.push(`auth: {htpasswd: {realm: test, path: ${JSON.stringify(path.join(dir, 'htpasswd'))}}}`);
	}
	await writeFile(path.join(dir, 'config.yml'), `${lines.join('\n')}\n`);
	// Lifeline: the shell stops the registry when our stdin pipe closes, which also happens when
	// vitest kills the worker outright (no 'exit' handler runs then).
	const child = spawn(
		'sh',
		[
			'-c',
			'docker-registry serve "$1" & pid=$!; trap \'kill $pid\' TERM; read _; kill $pid 2>/dev/null; wait $pid; rm -rf "$2"',
			'sh',
			path.join(dir, 'config.yml'),
			dir,
		],
		{stdio: ['pipe', 'ignore', 'pipe']},
	);
	// Never the reason a test process stays alive; the lifeline still ends the registry with it.
	child.unref();
	(child.stdin as Socket | null)?.unref();
	(child.stderr as Socket | null)?.unref();
	let stderr = '';
	child.stderr?.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	const host = `127.0.0.1:${port}`;
	const stop = async () => {
		if (child.exitCode === null && child.signalCode === null) {
			const exited = new Promise(resolve => child.once('exit', resolve));
			child.stdin?.end();
			await exited;
		}
		await rm(dir, {recursive: true, force: true});
	};
	for (let attempt = 0; attempt < 100; attempt++) {
		if (child.exitCode !== null) break;
		// 200 open, 401 with auth: either way it serves.
		const ok = await fetch(`http://${host}/v2/`).then(
			response => response.status === 200 || response.status === 401,
			() => false,
		);
		if (ok) return {host, dir, stop};
		await new Promise(resolve => setTimeout(resolve, 100));
	}
	await stop();
	throw new Error(`docker-registry did not start on ${host}: ${stderr}`);
};

let sharedRegistry: Promise<Registry> | undefined;

/** IMAGESPEC_GAR_TEST_REGISTRY when set, else one open registry for this test process. */
export const testRegistry = async (): Promise<Pick<Registry, 'host'>> => {
	const given = process.env.IMAGESPEC_GAR_TEST_REGISTRY;
	if (given) return {host: given};
	// It ends with the test process (startRegistry's lifeline).
	sharedRegistry ??= startRegistry();
	return sharedRegistry;
};

const baseImages = new Map<string, Promise<string>>();

/**
 * A tiny base image nothing has to download: busybox-static's binary plus its applet links,
 * imported and pushed to registryHost. Cached per registry.
 */
export const makeBaseImage = async (dockerHost: string, registryHost: string): Promise<string> => {
	const key = `${dockerHost} ${registryHost}`;
	let image = baseImages.get(key);
	if (!image) {
		image = buildBaseImage(dockerHost, registryHost);
		baseImages.set(key, image);
		image.catch(() => baseImages.delete(key));
	}
	return image;
};

const buildBaseImage = async (dockerHost: string, registryHost: string): Promise<string> => {
	const ref = `${registryHost}/base/busybox:1`;
	const env = {...process.env, DOCKER_HOST: dockerHost};
	const busybox = (process.env.PATH ?? '')
		.split(path.delimiter)
		.map(dir => path.join(dir, 'busybox'))
		.find(file => existsSync(file));
	if (!busybox) throw new Error('busybox not found: apt-get install busybox-static');
	const root = await mkdtemp(path.join(os.tmpdir(), 'imagespec-gar-rootfs-'));
	try {
		await Promise.all(['bin', 'tmp', 'etc', 'root'].map(async dir => mkdir(path.join(root, dir), {recursive: true})));
		await copyFile(busybox, path.join(root, 'bin', 'busybox'));
		const applets = (await execa(busybox, ['--list'])).stdout.split('\n').filter(name => /^[\w.[-]+$/.test(name) && name !== 'busybox');
		await Promise.all(applets.map(async name => symlink('busybox', path.join(root, 'bin', name))));
		await execa('tar', ['-C', root, '-c', '.'], {env}).pipe('docker', ['import', '-', ref], {env});
		const push = await execa('docker', ['push', ref], {env, reject: false});
		if (push.exitCode !== 0) throw new Error(`docker push ${ref} failed: ${push.stderr}`);
		return ref;
	} finally {
		await rm(root, {recursive: true, force: true});
	}
};
