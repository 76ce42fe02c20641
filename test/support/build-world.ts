// support/: what tests start and share: the loopback Artifact Registry fakes (gRPC, REST, IAM),
// sandboxed homes, gcloud logins, docker engines and registries, a pty driver, a scripted person.
import {spawn} from 'node:child_process';
import {readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {CLI_PATH} from './cli.js';
import {makeBaseImage, startRegistry, type DockerEngine, type Registry} from './docker.js';
import {makeSandbox, type Sandbox} from './environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from './fake-artifact-registry.js';
import {FAKE_TOKEN, loginOffline, shimTool} from './gcloud.js';

export type BuildWorld = {
	/** The registry pushes go to: it takes only the token gcloud hands docker. */
	registry: Registry;
	/** An open registry holding the base image. */
	open: Registry;
	/** The fake Artifact Registry, listing what `registry` holds. */
	fake: FakeArtifactRegistry;
	/** CI=true, logged in offline, docker recorded. */
	sandbox: Sandbox;
	/** The CLI's environment: the engine, the fake's endpoint, the registry as the docker host. */
	env: NodeJS.ProcessEnv;
	baseImage: string;
	/** Every docker subcommand run so far (`version`, the prerequisites' probe, left out). */
	dockerCommands: () => Promise<string[]>;
	stop: () => Promise<void>;
};

/** What a CI run of the built CLI meets: the real engine and registry, the fake API over them. */
export const startBuildWorld = async (
	engine: DockerEngine,
	/** Makes the base image in the open registry (default: busybox, nothing to download). */
	makeBase: (dockerHost: string, registryHost: string) => Promise<string> = makeBaseImage,
): Promise<BuildWorld> => {
	const auth = {user: '_dcgcloud_token', password: FAKE_TOKEN};
	const [registry, open] = await Promise.all([startRegistry({auth}), startRegistry()]);
	const fake = await startFakeArtifactRegistry({dockerImages: {host: registry.host, auth}});
	const baseImage = await makeBase(engine.dockerHost, open.host);
	const sandbox = await makeSandbox({ci: 'true'});
	await loginOffline(sandbox);
	const dockerLog = path.join(sandbox.root, 'docker.log');
	const real = (await execa('sh', ['-c', 'command -v docker'], {env: sandbox.env, extendEnv: false})).stdout.trim();
	await shimTool(sandbox, 'docker', `echo "$1" >> '${dockerLog}'\nexec '${real}' "$@"`);
	return {
		registry,
		open,
		fake,
		sandbox,
		baseImage,
		env: {...sandbox.env, DOCKER_HOST: engine.dockerHost, IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: registry.host},
		dockerCommands: async () =>
			(await readFile(dockerLog, 'utf8').catch(() => ''))
				.trim()
				.split('\n')
				.filter(command => command !== '' && command !== 'version'),
		async stop() {
			await fake.stop();
			await registry.stop();
			await open.stop();
			await sandbox.cleanup();
		},
	};
};

/** Processes whose environment points into the sandbox: a CLI's children, wherever they were reparented. */
export const processesOf = async (sandbox: Sandbox): Promise<string[]> => {
	const found: string[] = [];
	for (const pid of await readdir('/proc')) {
		if (!/^\d+$/.test(pid)) continue;
		// a scan of /proc
		const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
		if (environ.includes(`CLOUDSDK_CONFIG=${sandbox.cloudsdkConfig}\0`)) {
			found.push(`${pid} ${(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ')}`);
		}
	}

	return found;
};

const pause = async (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/**
 * Runs the built CLI until its stderr matches `when`, lets the work under way get going, sends
 * `signal`, and resolves with its exit code, output and the processes it left behind.
 */
export const interruptCli = async (
	args: string[],
	options: {cwd: string; env: NodeJS.ProcessEnv; sandbox: Sandbox},
	when: RegExp | ((stderr: string) => boolean),
	signal: NodeJS.Signals,
): Promise<{code: number | null; stdout: string; stderr: string; left: string[]}> => {
	const child = spawn(process.execPath, [CLI_PATH, ...args], {cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe']});
	const ready = typeof when === 'function' ? when : (text: string) => when.test(text);
	let stderr = '';
	let stdout = '';
	child.stdout.on('data', (chunk: Buffer) => {
		stdout += chunk.toString();
	});
	const exited = new Promise<number | null>(resolve => {
		child.on('exit', code => resolve(code));
	});
	await new Promise<void>((resolve, reject) => {
		child.stderr.on('data', (chunk: Buffer) => {
			stderr += chunk.toString();
			if (ready(stderr)) resolve();
		});
		void exited.then(() => reject(new Error(`exited before ${String(when)}:\n${stderr}`)));
	});
	// Let the step's child process get going.
	await pause(300);
	child.kill(signal);
	const code = await exited;
	await pause(500);
	return {code, stdout, stderr, left: await processesOf(options.sandbox)};
};
