import {randomBytes} from 'node:crypto';
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it, type TestContext} from 'vitest';
import {
	buildAndPush,
	credentialHelperOnPath,
	dockerInfo,
	imageExists,
	hasBuildx,
	mapDockerFailure,
	NO_PYTHON_MARKER,
	parseBuildLine,
	parsePushLine,
	renderDockerfile,
	type BuildEvent,
} from '../../source/services/docker.js';
import {CancelledError, StepError} from '../../source/services/errors.js';
import {configureDocker} from '../../source/services/gcloud.js';
import {dockerEngine, makeBaseImage, requireDocker, startRegistry, testRegistry, type Registry} from '../support/docker.js';
import {makeSandbox, pathHiding, withEnv, type Sandbox} from '../support/environment.js';
import {FAKE_TOKEN, loginOffline, shimTool} from '../support/gcloud.js';

const engine = await dockerEngine();

const sandbox = async (context: TestContext) => {
	const created = await makeSandbox({env: {DOCKER_HOST: engine?.dockerHost}});
	context.onTestFinished(async () => created.cleanup());
	return created;
};

const unique = () => randomBytes(4).toString('hex');

describe('renderDockerfile', () => {
	it('writes a classic-builder Dockerfile in flytekit field order', () => {
		const args = "--index-url https://pypi.example/simple --extra-index-url https://extra.example/simple -r /tmp/imagespec/requirements.txt pandas==2.2.2 'union>=0.1'";
		expect(
			renderDockerfile({
				name: 'my-image',
				python_version: '3.11',
				env: {MODE: 'prod', QUOTED: 'say "hi" to $USER'},
				apt_packages: ['git', 'libgomp1'],
				requirements: 'requirements.txt',
				packages: ['pandas==2.2.2', 'union>=0.1'],
				pip_index: 'https://pypi.example/simple',
				pip_extra_index_url: ['https://extra.example/simple'],
				commands: ['echo done', 'echo one\necho two'],
			}),
		).toBe(
			[
				'FROM python:3.11-slim',
				'ENV MODE="prod" QUOTED="say \\"hi\\" to \\$USER"',
				'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git libgomp1 && rm -rf /var/lib/apt/lists/*',
				'COPY requirements.txt /tmp/imagespec/requirements.txt',
				`RUN PY="$(command -v python3 || command -v python)"; if [ -z "$PY" ]; then echo "${NO_PYTHON_MARKER} (no python3 or python on its PATH)" >&2; exit 1; elif command -v uv >/dev/null 2>&1; then uv pip install --python "$PY" --no-cache ${args}; else "$PY" -m pip install --no-cache-dir ${args}; fi`,
				'RUN echo done',
				'RUN ["/bin/sh","-c","echo one\\necho two"]',
				'',
			].join('\n'),
		);
	});

	it('uses base_image as is and skips pip without packages', () => {
		const dockerfile = renderDockerfile({name: 'x', base_image: 'ghcr.io/flyteorg/flytekit:py3.11-latest', python_version: '3.12'});
		expect(dockerfile).toBe('FROM ghcr.io/flyteorg/flytekit:py3.11-latest\n');
		expect(dockerfile).not.toMatch(/^#\s*syntax|--mount|<</m);
	});

	it('rejects an environment variable name docker cannot take', () => {
		expect(() => renderDockerfile({name: 'x', env: {'BAD NAME': '1'}})).toThrow(StepError);
	});
});

describe('output parsing', () => {
	it('reads classic and BuildKit step lines', () => {
		expect(parseBuildLine('Step 2/4 : ENV A=1')).toEqual({type: 'step', text: 'Step 2/4 : ENV A=1', index: 2, total: 4});
		expect(parseBuildLine('#6 [2/3] RUN echo hi')).toEqual({type: 'step', text: 'Step 2/3 : RUN echo hi', index: 2, total: 3});
		expect(parseBuildLine('#6 [stage-1 2/3] RUN echo hi')).toMatchObject({index: 2, total: 3});
		expect(parseBuildLine(' ---> Running in 81e955f5e639')).toBeUndefined();
	});

	it('reads push layer lines, with progress when docker prints it', () => {
		expect(parsePushLine('3d362a67dfbb: Preparing')).toEqual({type: 'layer', id: '3d362a67dfbb', status: 'Preparing'});
		expect(parsePushLine('3d362a67dfbb: Mounted from base/busybox')).toMatchObject({status: 'Mounted from base/busybox'});
		expect(parsePushLine('f000fee81375: Pushing [=====>     ]  1.5MB/3MB')).toEqual({
			type: 'layer',
			id: 'f000fee81375',
			status: 'Pushing',
			current: 1_500_000,
			total: 3_000_000,
		});
		expect(parsePushLine('The push refers to repository [127.0.0.1:5000/t/img]')).toBeUndefined();
	});
});

describe('mapDockerFailure', () => {
	const gar = 'us-east1-docker.pkg.dev/acme-ml/images/trainer:abc';
	it.each([
		['push', 'denied: Permission "artifactregistry.repositories.uploadArtifacts" denied on resource "projects/acme-ml/locations/us-east1/repositories/images" (or it may not exist)', 'PUSH_DENIED', 'roles/artifactregistry.writer'],
		['push', 'unauthorized: Unauthenticated request. Unauthenticated requests do not have permission "artifactregistry.repositories.uploadArtifacts"', 'PUSH_UNAUTHENTICATED', 'gcloud auth configure-docker us-east1-docker.pkg.dev'],
		['push', 'no basic auth credentials', 'PUSH_UNAUTHENTICATED', 'gcloud auth login'],
		['push', 'error getting credentials - err: exec: "docker-credential-gcloud": executable file not found in $PATH, out: ``', 'CREDENTIAL_HELPER_MISSING', 'PATH'],
		['build', 'Step 1/2 : FROM us-east1-docker.pkg.dev/acme-ml/base/py:1\nmanifest for us-east1-docker.pkg.dev/acme-ml/base/py:1 not found: manifest unknown', 'BASE_IMAGE_UNAVAILABLE', 'base_image'],
		['build', 'write /var/lib/docker/tmp/x: no space left on device', 'NO_SPACE', 'docker system prune'],
		['push', 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?', 'DOCKER_DOWN', 'Start Docker'],
	] as const)('%s: %s', (phase, output, reason, fix) => {
		const error = mapDockerFailure(phase, output, gar);
		expect(error.reason).toBe(reason);
		expect(error.fix).toContain(fix);
	});

	it('names the base image and how to log in to its registry when FROM fails', () => {
		const error = mapDockerFailure('build', 'unauthorized: authentication required', gar, {failingStep: 'FROM us-east1-docker.pkg.dev/acme-ml/base/py:1'});
		expect(error.reason).toBe('BASE_IMAGE_UNAVAILABLE');
		expect(error.fix).toContain('docker pull us-east1-docker.pkg.dev/acme-ml/base/py:1');
		expect(error.fix).toContain('gcloud auth configure-docker us-east1-docker.pkg.dev');
	});

	it('blames the missing helper when docker, without it, only says "no basic auth credentials"', () => {
		expect(mapDockerFailure('push', 'no basic auth credentials', gar, {gcloudHelper: true, helperMissing: true}).reason).toBe('CREDENTIAL_HELPER_MISSING');
		expect(mapDockerFailure('push', 'no basic auth credentials', gar, {gcloudHelper: true, helperMissing: false}).reason).toBe('PUSH_UNAUTHENTICATED');
	});
});

describe('dockerInfo and PATH lookups without an engine', () => {
	it('reports an engine that does not answer', async (context) => {
		const box = await sandbox(context);
		const info = await dockerInfo({platform: withEnv(box.platform, {DOCKER_HOST: 'unix:///nonexistent.sock'})});
		expect(info.cliInstalled).toBe(true);
		expect(info.cliVersion).toMatch(/^\d+\.\d+/);
		expect(info.engineReachable).toBe(false);
		expect(info.engineVersion).toBeUndefined();
		expect(info.error).toContain('Cannot connect to the Docker daemon');
	});

	it('reports docker missing from PATH', async (context) => {
		const box = await sandbox(context);
		const PATH = await pathHiding(box.env.PATH ?? '', ['docker']);
		expect(await dockerInfo({platform: withEnv(box.platform, {PATH})})).toMatchObject({cliInstalled: false, engineReachable: false});
	});

	it('finds docker-credential-gcloud on PATH, and not once hidden', async (context) => {
		const box = await sandbox(context);
		expect(await credentialHelperOnPath(box.platform)).toMatch(/docker-credential-gcloud$/);
		const PATH = await pathHiding(box.env.PATH ?? '', ['docker-credential-gcloud']);
		expect(await credentialHelperOnPath(withEnv(box.platform, {PATH}))).toBeUndefined();
	});

	it('finds a .cmd helper through PATHEXT on Windows', async (context) => {
		const box = await sandbox(context);
		const {writeFile} = await import('node:fs/promises');
		await writeFile(path.join(box.root, 'docker-credential-gcloud.cmd'), '@echo off\r\n');
		// A bare docker-credential-gcloud next to it must not win: cmd.exe would not run it.
		await writeFile(path.join(box.root, 'docker-credential-gcloud'), '#!/bin/sh\n', {mode: 0o755});
		const windows = {...box.platform, os: 'win32' as const, env: {Path: box.root, PATHEXT: '.exe;.cmd'}}; // lower case: this file system is case-sensitive
		expect(await credentialHelperOnPath(windows)).toBe(path.join(box.root, 'docker-credential-gcloud.cmd'));
	});

	it('calls an unreachable registry unknown, not absent', async (context) => {
		const box = await sandbox(context);
		const result = await imageExists(box.context(), '127.0.0.1:1/nothing/here:1');
		expect(result.state).toBe('unknown');
		expect(result.detail).toBeTruthy();
	});
});

const describeDocker = requireDocker(describe, engine);

describeDocker('with the Docker engine', () => {
	let registry: Pick<Registry, 'host'>;
	let baseImage: string;

	beforeAll(async () => {
		registry = await testRegistry();
		baseImage = await makeBaseImage(engine!.dockerHost, registry.host);
	});

	/** A local image FROM the busybox base with stand-in tools at /usr/local/bin that log their arguments. */
	const baseWith = async (box: Sandbox, tools: string[]) => {
		const tag = `isg-tools-base:${unique()}`;
		const dockerfile = [
			`FROM ${baseImage}`,
			...tools.map((tool) => `RUN mkdir -p /usr/local/bin && printf '#!/bin/sh\\necho "${tool} $*" >> /installs.log\\n' > /usr/local/bin/${tool} && chmod +x /usr/local/bin/${tool}`),
		].join('\n');
		await execa('docker', ['build', '-t', tag, '-'], {env: {...box.env, DOCKER_BUILDKIT: '0'}, extendEnv: false, input: dockerfile});
		return tag;
	};

	const installs = async (box: Sandbox, imageRef: string) =>
		(await execa('docker', ['run', '--rm', '--network', 'none', imageRef, 'cat', '/installs.log'], {env: box.env, extendEnv: false})).stdout;

	it('installs packages with the base image\'s own pip, with uv when it has uv, and says when it has no Python', async (context) => {
		const box = await sandbox(context);
		const spec = {name: 'py', packages: ['pandas==2.2.2', 'union>=0.1']};
		const build = async (base: string, name: string) => {
			const imageRef = `${registry.host}/test/${name}-${unique()}:1`;
			await buildAndPush(box.context(), {imageRef, spec: {...spec, base_image: base}, contextDir: box.project, logFile: path.join(box.root, `${name}.log`)}, () => undefined);
			return imageRef;
		};

		const [pip, uv] = await Promise.all([baseWith(box, ['python3']), baseWith(box, ['python3', 'uv'])]);
		expect(await installs(box, await build(pip, 'pip'))).toBe('python3 -m pip install --no-cache-dir pandas==2.2.2 union>=0.1');
		expect(await installs(box, await build(uv, 'uv'))).toBe('uv pip install --python /usr/local/bin/python3 --no-cache pandas==2.2.2 union>=0.1');
		const error = await build(baseImage, 'no-python').catch((error_: unknown) => error_);
		expect(error).toMatchObject({reason: 'NO_PYTHON_IN_BASE'});
		expect((error as StepError).fix).toContain('--base-image');
	});

	it('uses BuildKit only where docker has buildx; the classic builder otherwise', async (context) => {
		const box = await sandbox(context);
		expect(await hasBuildx(box.context())).toBe(false);
		const log = path.join(box.root, 'builds.log');
		const real = (await execa('sh', ['-c', 'command -v docker'], {env: box.env, extendEnv: false})).stdout.trim();
		const build = async () => {
			await buildAndPush(box.context(), {imageRef: `${registry.host}/test/bk-${unique()}:1`, spec: {name: 'bk', base_image: baseImage}, contextDir: box.project, logFile: path.join(box.root, 'bk.log')}, () => undefined);
			return (await readFile(log, 'utf8')).trim().split('\n').at(-1);
		};

		// A docker whose buildx answers (this engine still builds classically underneath).
		await shimTool(box, 'docker', [`[ "$1" = buildx ] && { echo "github.com/docker/buildx v0.17.1"; exit 0; }`, `[ "$1" = build ] && echo "DOCKER_BUILDKIT=$DOCKER_BUILDKIT" >> '${log}'`, `DOCKER_BUILDKIT=0 exec '${real}' "$@"`].join('\n'));
		expect(await hasBuildx(box.context())).toBe(true);
		expect(await build()).toBe('DOCKER_BUILDKIT=1');
		await shimTool(box, 'docker', [`[ "$1" = build ] && echo "DOCKER_BUILDKIT=$DOCKER_BUILDKIT" >> '${log}'`, `exec '${real}' "$@"`].join('\n'));
		expect(await build()).toBe('DOCKER_BUILDKIT=0');
	});

	it("reports the engine version and architecture (this machine's engine is local)", async (context) => {
		const box = await sandbox(context);
		const info = await dockerInfo(box.context());
		expect(info).toMatchObject({cliInstalled: true, engineReachable: true});
		expect(info.engineVersion).toMatch(/^\d+\.\d+/);
		expect(info.engineArch).toBe(process.arch === 'x64' ? 'amd64' : process.arch);
		expect(info.error).toBeUndefined();
	});

	it('builds and pushes a spec, streaming steps and layers, and returns the digest', async (context) => {
		const box = await sandbox(context);
		const imageRef = `${registry.host}/test/build-${unique()}:v1`;
		expect((await imageExists(box.context(), imageRef)).state).toBe('absent');

		const events: BuildEvent[] = [];
		const logFile = path.join(box.root, 'logs', 'build.log');
		const result = await buildAndPush(
			box.context(),
			{imageRef, spec: {name: 'build', base_image: baseImage, env: {GREETING: 'hello world'}, commands: ['echo "$GREETING" > /greeting']}, contextDir: box.project, logFile},
			(event) => events.push(event),
		);

		expect(result.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
		expect(result.imageRef).toBe(imageRef);
		const phases = events.filter((event) => event.type === 'phase').map((event) => event.phase);
		expect(phases).toEqual(['build', 'push']);
		const steps = events.flatMap((event) => (event.type === 'step' ? [event.text] : []));
		expect(steps).toEqual([`Step 1/3 : FROM ${baseImage}`, 'Step 2/3 : ENV GREETING="hello world"', 'Step 3/3 : RUN echo "$GREETING" > /greeting']);
		const layers = events.filter((event) => event.type === 'layer');
		expect(layers.length).toBeGreaterThan(0);
		expect(layers.some((event) => event.type === 'layer' && /Pushed|already exists|Mounted/.test(event.status))).toBe(true);
		const log = await readFile(logFile, 'utf8');
		expect(log).toContain('Successfully tagged');
		expect(log).toContain(`digest: ${result.digest}`);

		const after = await imageExists(box.context(), imageRef);
		expect(after).toMatchObject({state: 'present', digest: result.digest});
		// The RUN step really ran in the image.
		const run = await execa('docker', ['run', '--rm', '--network', 'none', imageRef, 'cat', '/greeting'], {env: box.env});
		expect(run.stdout).toBe('hello world');
	});

	it('maps a failing RUN step and a missing base image', async (context) => {
		const box = await sandbox(context);
		const common = {contextDir: box.project, logFile: path.join(box.root, 'fail.log')};
		const failing = buildAndPush(box.context(), {...common, imageRef: `${registry.host}/test/fail:1`, spec: {name: 'fail', base_image: baseImage, commands: ['exit 3']}}, () => undefined);
		await expect(failing).rejects.toMatchObject({reason: 'BUILD_FAILED'});
		const missing = buildAndPush(
			box.context(),
			{...common, imageRef: `${registry.host}/test/fail:2`, spec: {name: 'fail', base_image: `${registry.host}/base/does-not-exist:1`}},
			() => undefined,
		);
		await expect(missing).rejects.toMatchObject({reason: 'BASE_IMAGE_UNAVAILABLE'});
		expect(await readFile(common.logFile, 'utf8')).toContain('does-not-exist');
	});

	it('stops a build on abort: CancelledError, and no docker child or build container left', async (context) => {
		const box = await sandbox(context);
		const token = `isg-abort-${unique()}`;
		const controller = new AbortController();
		const started = Date.now();
		const build = buildAndPush(
			box.context(controller.signal),
			{imageRef: `${registry.host}/test/abort:1`, spec: {name: 'abort', base_image: baseImage, commands: [`sleep 60 # ${token}`]}, contextDir: box.project, logFile: path.join(box.root, 'abort.log')},
			(event) => {
				if (event.type === 'step' && event.text.includes('sleep 60')) setTimeout(() => controller.abort(), 300);
			},
		);
		await expect(build).rejects.toBeInstanceOf(CancelledError);
		expect(Date.now() - started).toBeLessThan(15_000);
		const children = await execa('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], {reject: false});
		expect(children.stdout).not.toMatch(/^\s*\d+\s+docker\s*$/m);
		// The engine drops the build once its client is gone.
		let containers = '';
		for (let attempt = 0; attempt < 40; attempt++) {
			containers = (await execa('docker', ['ps', '--no-trunc', '--format', '{{.Command}}'], {env: box.env})).stdout;
			if (!containers.includes(token)) break;
			await new Promise((resolve) => setTimeout(resolve, 250));
		}
		expect(containers).not.toContain(token);
	});

	describe('a registry that demands credentials', () => {
		let locked: Registry;
		beforeAll(async () => {
			// gcloud's helper answers with this user and the fake token.
			locked = await startRegistry({auth: {user: '_dcgcloud_token', password: FAKE_TOKEN}});
		});
		afterAll(async () => locked?.stop());

		// docker-credential-gcloud also refuses hosts gcloud does not know, unless told.
		const chainSandbox = async (context: TestContext) => {
			const box = await sandbox(context);
			box.env.CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY = 'true';
			return box;
		};

		const push = async (box: Sandbox, name: string, platform = box.platform) =>
			buildAndPush(
				{platform},
				{imageRef: `${locked.host}/test/${name}:1`, spec: {name, base_image: baseImage}, contextDir: box.project, logFile: path.join(box.root, `${name}.log`)},
				() => undefined,
			);

		it('without credentials: a StepError saying how to log in', async (context) => {
			const box = await sandbox(context);
			const error = await push(box, 'anonymous').catch((error_: unknown) => error_);
			expect(error).toBeInstanceOf(StepError);
			expect(error).toMatchObject({reason: 'PUSH_UNAUTHENTICATED'});
			expect((error as StepError).fix).toContain(`docker login ${locked.host}`);
		});

		it('with the gcloud helper but logged out: the fix names configure-docker and gcloud auth login', async (context) => {
			const box = await chainSandbox(context);
			await configureDocker(box.context(), locked.host);
			const error = await push(box, 'logged-out').catch((error_: unknown) => error_);
			expect(error).toMatchObject({reason: 'PUSH_UNAUTHENTICATED'});
			expect((error as StepError).fix).toContain(`gcloud auth configure-docker ${locked.host}`);
			expect((error as StepError).fix).toContain('gcloud auth login');
		});

		it('with the helper missing from PATH: says so', async (context) => {
			const box = await chainSandbox(context);
			await configureDocker(box.context(), locked.host);
			const PATH = await pathHiding(box.env.PATH ?? '', ['docker-credential-gcloud']);
			const error = await push(box, 'no-helper', withEnv(box.platform, {PATH})).catch((error_: unknown) => error_);
			expect(error).toMatchObject({reason: 'CREDENTIAL_HELPER_MISSING'});
		});

		it('logged in (offline gcloud): the whole credential chain pushes, and the image is found', async (context) => {
			const box = await chainSandbox(context);
			await Promise.all([loginOffline(box), configureDocker(box.context(), locked.host)]);
			const result = await push(box, 'logged-in');
			expect(result.digest).toMatch(/^sha256:/);
			expect(await imageExists(box.context(), `${locked.host}/test/logged-in:1`)).toMatchObject({state: 'present', digest: result.digest});
		});
	});
});
