import {randomBytes} from 'node:crypto';
import {existsSync} from 'node:fs';
import {mkdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it, type TestContext} from 'vitest';
import {
	buildAndPush,
	dockerInfo,
	imageExists,
	hasBuildx,
	mapDockerFailure,
	parseBuildLine,
	parsePushLine,
	renderDockerfile,
	type BuildEvent,
} from '../../source/services/docker.js';
import {credentialHelperOnPath} from '../../source/services/credential-helper.js';
import {CancelledError, StepError} from '../../source/services/errors.js';
import {configureDocker} from '../../source/services/gcloud.js';
import {computeTag, imageUri, type ImageSpec} from '../../source/services/imagespec.js';
import {imageSpecId} from '../../source/services/local-build.js';
import {dockerEngine, makeBaseImage, requireDocker, startRegistry, testRegistry, type Registry} from '../support/docker.js';
import {flytekitBaseImage, pythonBaseImage, requirePythonBase} from '../support/python-base.js';
import {standInFlytekit, startPythonIndex, STAND_IN_FLYTEKIT, type PythonIndex} from '../support/python-index.js';
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
	it("is the local build plan's Dockerfile: classic-builder syntax, FROM base_image as is", () => {
		const dockerfile = renderDockerfile({name: 'x', base_image: 'ghcr.io/flyteorg/flytekit:py3.11-latest', python_version: '3.12'});
		expect(dockerfile.split('\n')[0]).toBe('FROM ghcr.io/flyteorg/flytekit:py3.11-latest');
		expect(dockerfile).not.toMatch(/^#\s*syntax|--mount|<</m);
	});
});

describe('a field the local build cannot honour', () => {
	it('is refused before any docker command runs, naming the field and the fix', async context => {
		const box = await sandbox(context);
		const log = path.join(box.root, 'docker.log');
		await shimTool(box, 'docker', `echo "$*" >> '${log}'\nexit 1`);
		for (const [spec, field] of [
			[{name: 'x', conda_packages: ['numpy'], packages: ['pandas']}, 'conda_packages'],
			[{name: 'x', cuda: '12.1'}, 'cuda'],
			[{name: 'x', requirements: 'uv.lock'}, 'requirements'],
		] as Array<[ImageSpec, string]>) {
			const options = {imageRef: '127.0.0.1:1/t/x:1', spec, contextDir: box.project, logFile: path.join(box.root, 'refused.log')};
			const error = await buildAndPush(box.context(), options, () => undefined).catch((error_: unknown) => error_);
			expect(error).toMatchObject({reason: 'FIELD_NOT_BUILT_LOCALLY'});
			expect((error as StepError).message).toContain(`cannot honour ${field} (`);
			expect((error as StepError).fix).toMatch(/builder="union"/);
		}
		expect(existsSync(log)).toBe(false);
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
		[
			'push',
			'denied: Permission "artifactregistry.repositories.uploadArtifacts" denied on resource ' +
				'"projects/acme-ml/locations/us-east1/repositories/images" (or it may not exist)',
			'PUSH_DENIED',
			'roles/artifactregistry.writer',
		],
		[
			'push',
			'unauthorized: Unauthenticated request. Unauthenticated requests do not have permission "artifactregistry.repositories.uploadArtifacts"',
			'PUSH_UNAUTHENTICATED',
			'gcloud auth configure-docker us-east1-docker.pkg.dev',
		],
		['push', 'no basic auth credentials', 'PUSH_UNAUTHENTICATED', 'gcloud auth login'],
		[
			'push',
			'error getting credentials - err: exec: "docker-credential-gcloud": executable file not found in $PATH, out: ``',
			'CREDENTIAL_HELPER_MISSING',
			'PATH',
		],
		[
			'build',
			'Step 1/2 : FROM us-east1-docker.pkg.dev/acme-ml/base/py:1\nmanifest for us-east1-docker.pkg.dev/acme-ml/base/py:1 not found: manifest unknown',
			'BASE_IMAGE_UNAVAILABLE',
			'base_image',
		],
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
	it('reports an engine that does not answer', async context => {
		const box = await sandbox(context);
		const info = await dockerInfo({platform: withEnv(box.platform, {DOCKER_HOST: 'unix:///nonexistent.sock'})});
		expect(info.cliInstalled).toBe(true);
		expect(info.cliVersion).toMatch(/^\d+\.\d+/);
		expect(info.engineReachable).toBe(false);
		expect(info.engineVersion).toBeUndefined();
		expect(info.error).toContain('Cannot connect to the Docker daemon');
	});

	it('reports docker missing from PATH', async context => {
		const box = await sandbox(context);
		const PATH = await pathHiding(box.env.PATH ?? '', ['docker']);
		expect(await dockerInfo({platform: withEnv(box.platform, {PATH})})).toMatchObject({cliInstalled: false, engineReachable: false});
	});

	it('finds docker-credential-gcloud on PATH, and not once hidden', async context => {
		const box = await sandbox(context);
		expect(await credentialHelperOnPath(box.platform)).toMatch(/docker-credential-gcloud$/);
		const PATH = await pathHiding(box.env.PATH ?? '', ['docker-credential-gcloud']);
		expect(await credentialHelperOnPath(withEnv(box.platform, {PATH}))).toBeUndefined();
	});

	it('finds a .cmd helper through PATHEXT on Windows', async context => {
		const box = await sandbox(context);
		const {writeFile} = await import('node:fs/promises');
		await writeFile(path.join(box.root, 'docker-credential-gcloud.cmd'), '@echo off\r\n');
		// A bare docker-credential-gcloud next to it must not win: cmd.exe would not run it.
		await writeFile(path.join(box.root, 'docker-credential-gcloud'), '#!/bin/sh\n', {mode: 0o755});
		const windows = {...box.platform, os: 'win32' as const, env: {Path: box.root, PATHEXT: '.exe;.cmd'}}; // lower case: this file system is case-sensitive
		expect(await credentialHelperOnPath(windows)).toBe(path.join(box.root, 'docker-credential-gcloud.cmd'));
	});

	it('calls an unreachable registry unknown, not absent', async context => {
		const box = await sandbox(context);
		const result = await imageExists(box.context(), '127.0.0.1:1/nothing/here:1');
		expect(result.state).toBe('unknown');
		expect(result.detail).toBeTruthy();
	});
});

// Every local build now installs flytekit and runs the image once: the builds need a real Python.
const describeDocker = requirePythonBase(requireDocker(describe, engine));

describeDocker('with the Docker engine', () => {
	let registry: Pick<Registry, 'host'>;
	/** Python with the stand-in flytekit: a base a Flyte task can start in. */
	let baseImage: string;
	/** Debian's own python3, externally managed (PEP 668), no flytekit. */
	let pythonImage: string;
	let busybox: string;
	let index: PythonIndex;

	beforeAll(async () => {
		registry = await testRegistry();
		[baseImage, pythonImage, busybox, index] = await Promise.all([
			flytekitBaseImage(engine!.dockerHost, registry.host),
			pythonBaseImage(engine!.dockerHost, registry.host),
			makeBaseImage(engine!.dockerHost, registry.host),
			startPythonIndex([...standInFlytekit, {name: 'teamlib', version: '2.0.0', files: {'teamlib/__init__.py': 'ANSWER = 42\n'}}]),
		]);
	});
	afterAll(async () => index?.stop());

	/** Runs sh in imageRef pulled afresh from its registry (the local copy removed first). */
	const inPushed = async (box: Sandbox, imageRef: string, script: string) => {
		await execa('docker', ['rmi', imageRef], {env: box.env, extendEnv: false});
		const args = ['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', imageRef, '-c', script];
		return (await execa('docker', args, {env: box.env, extendEnv: false})).stdout;
	};

	it("builds what the spec declares the way flytekit's builder does, proves flytekit imports, then pushes", async context => {
		const box = await sandbox(context);
		await mkdir(path.join(box.project, 'conf'), {recursive: true});
		await writeFile(path.join(box.project, 'conf', 'settings.toml'), 'mode = "prod"\n');
		await writeFile(path.join(box.project, 'notes.txt'), 'read me\n');
		const spec = {
			name: 'honoured',
			base_image: pythonImage,
			python_exec: '/usr/bin/python3',
			pip_index: index.url,
			packages: ['teamlib==2.0.0'],
			env: {GREETING: 'hello world'},
			commands: ['echo "$GREETING" > /root/greeting', 'teamlib_check=1'],
			copy: ['conf', 'notes.txt'],
			entrypoint: ['/root/.venv/bin/python', '-c', 'print("entry")'],
		};
		const imageRef = `${registry.host}/test/honoured-${unique()}:1`;
		const events: BuildEvent[] = [];
		const logFile = path.join(box.root, 'honoured.log');
		const options = {imageRef, spec, contextDir: box.project, logFile, localFlytekit: STAND_IN_FLYTEKIT};
		const result = await buildAndPush(box.context(), options, event => events.push(event));
		expect(events.filter(event => event.type === 'phase').map(event => event.phase)).toEqual(['build', 'check', 'push']);
		expect(await imageExists(box.context(), imageRef)).toMatchObject({state: 'present', digest: result.digest});
		// flytekit appended, pinned to the flytekit doing the build; all of it from the local index.
		const log = await readFile(logFile, 'utf8');
		expect(log).toContain('# requirements_uv.txt: teamlib==2.0.0\n# requirements_uv.txt: flytekit==1.16.24\n');
		expect(log).toContain(`the image imports flytekit ${STAND_IN_FLYTEKIT} on Python 3.11`);
		expect(index.requests).toEqual(expect.arrayContaining(['/simple/teamlib/', '/simple/flytekit/', '/simple/flyteidl/']));

		const seen = await inPushed(
			box,
			imageRef,
			[
				'id -un; pwd; echo "$PYTHONPATH|$GREETING|$_F_IMG_ID"',
				'cat /root/greeting /root/conf/settings.toml /root/notes.txt; stat -c %U /root/notes.txt',
				'python -c "import flytekit, teamlib; print(flytekit.__version__, teamlib.ANSWER)"; command -v python',
			].join('; '),
		);
		expect(seen.split('\n')).toEqual([
			'flytekit',
			'/root',
			`/root|hello world|${imageSpecId(spec)}`,
			'hello world',
			'mode = "prod"',
			'read me',
			'flytekit',
			`${STAND_IN_FLYTEKIT} 42`,
			'/root/.venv/bin/python',
		]);
		const inspect = ['image', 'inspect', '--format', '{{json .Config.Entrypoint}}', imageRef];
		const entrypoint = (await execa('docker', inspect, {env: box.env, extendEnv: false})).stdout;
		expect(JSON.parse(entrypoint)).toEqual(spec.entrypoint);
	});

	it('refuses to push an image whose Python cannot import flytekit, with the reason', async context => {
		const box = await sandbox(context);
		const imageRef = `${registry.host}/test/no-sdk-${unique()}:1`;
		const events: BuildEvent[] = [];
		// --no-deps: flytekit goes in without the flyteidl it imports, as a broken install would.
		const spec = {name: 'no-sdk', base_image: pythonImage, python_exec: '/usr/bin/python3', pip_index: index.url, pip_extra_args: '--no-deps'};
		const options = {imageRef, spec, contextDir: box.project, logFile: path.join(box.root, 'no-sdk.log')};
		const error = await buildAndPush(box.context(), options, event => events.push(event)).catch((error_: unknown) => error_);
		expect(error).toBeInstanceOf(StepError);
		expect(error).toMatchObject({reason: 'SDK_NOT_IMPORTABLE'});
		expect((error as StepError).message).toBe(
			'The built image cannot run a Flyte task: /root/.venv/bin/python -c "import flytekit" failed ' +
				"(ModuleNotFoundError: No module named 'flyteidl'); nothing was pushed.",
		);
		expect((error as StepError).fix).toContain(`docker run --rm -it --entrypoint sh ${imageRef}`);
		expect(events.filter(event => event.type === 'phase').map(event => event.phase)).toEqual(['build', 'check']);
		expect((await imageExists(box.context(), imageRef)).state).toBe('absent');
	});

	it("refuses to push when the base image's Python is not python_version, or there is no Python at all", async context => {
		const box = await sandbox(context);
		const common = {contextDir: box.project, logFile: path.join(box.root, 'mismatch.log')};
		const mismatch = `${registry.host}/test/mismatch-${unique()}:1`;
		const spec = {name: 'mismatch', base_image: baseImage, python_version: '3.12'};
		const error = await buildAndPush(box.context(), {...common, imageRef: mismatch, spec}, () => undefined).catch((error_: unknown) => error_);
		expect(error).toMatchObject({
			reason: 'PYTHON_VERSION_MISMATCH',
			message: "The built image runs Python 3.11, but the spec's python_version is 3.12; nothing was pushed.",
		});
		expect((await imageExists(box.context(), mismatch)).state).toBe('absent');
		// Debian's python3 without python_exec: pip refuses (PEP 668), and the fix names python_exec.
		const managedRef = `${registry.host}/test/managed-${unique()}:1`;
		const managed = buildAndPush(box.context(), {...common, imageRef: managedRef, spec: {name: 'managed', base_image: pythonImage}}, () => undefined);
		await expect(managed).rejects.toMatchObject({reason: 'EXTERNALLY_MANAGED_PYTHON', fix: expect.stringContaining('python_exec="/usr/bin/python3"')});
		const none = `${registry.host}/test/no-python-${unique()}:1`;
		const noPython = buildAndPush(box.context(), {...common, imageRef: none, spec: {name: 'none', base_image: busybox}}, () => undefined);
		await expect(noPython).rejects.toBeInstanceOf(StepError);
		expect((await imageExists(box.context(), none)).state).toBe('absent');
	});

	it('builds a nested base ImageSpec first when its registry lacks it, then the image FROM it', async context => {
		const box = await sandbox(context);
		const base = {
			name: `nested-base-${unique()}`,
			registry: `${registry.host}/test`,
			base_image: pythonImage,
			python_exec: '/usr/bin/python3',
			pip_index: index.url,
			packages: ['teamlib'],
		};
		const spec = {name: 'layered', base_image: base, pip_index: index.url, env: {LAYER: 'app'}};
		const baseRef = imageUri(base, await computeTag(base, {baseDir: box.project}));
		expect((await imageExists(box.context(), baseRef)).state).toBe('absent');
		const imageRef = `${registry.host}/test/layered-${unique()}:1`;
		const events: BuildEvent[] = [];
		const options = {imageRef, spec, contextDir: box.project, logFile: path.join(box.root, 'layered.log')};
		const build = async () => buildAndPush(box.context(), options, event => events.push(event));
		await build();
		expect(events.filter(event => event.type === 'phase').map(event => event.phase)).toEqual(['base', 'build', 'check', 'push', 'build', 'check', 'push']);
		const froms = events.flatMap(event => (event.type === 'step' && / : FROM /.test(event.text) ? [event.text.replace(/^Step \d+\/\d+ : /, '')] : []));
		expect(froms).toEqual([`FROM ${pythonImage}`, `FROM ${baseRef}`]);
		expect((await imageExists(box.context(), baseRef)).state).toBe('present');
		expect(await inPushed(box, imageRef, 'echo "$LAYER"; python3 -c "import flytekit, teamlib; print(teamlib.ANSWER)"')).toBe('app\n42');
		// The base is there now: a rebuild goes straight to the image.
		events.length = 0;
		await build();
		expect(events.filter(event => event.type === 'phase').map(event => event.phase)).toEqual(['build', 'check', 'push']);
	});

	it('uses BuildKit only where docker has buildx; the classic builder otherwise', async context => {
		const box = await sandbox(context);
		expect(await hasBuildx(box.context())).toBe(false);
		const log = path.join(box.root, 'builds.log');
		const real = (await execa('sh', ['-c', 'command -v docker'], {env: box.env, extendEnv: false})).stdout.trim();
		const build = async () => {
			await buildAndPush(
				box.context(),
				{
					imageRef: `${registry.host}/test/bk-${unique()}:1`,
					spec: {name: 'bk', base_image: baseImage},
					contextDir: box.project,
					logFile: path.join(box.root, 'bk.log'),
				},
				() => undefined,
			);
			return (await readFile(log, 'utf8')).trim().split('\n').at(-1);
		};

		// A docker whose buildx answers (this engine still builds classically underneath).
		await shimTool(
			box,
			'docker',
			[
				`[ "$1" = buildx ] && { echo "github.com/docker/buildx v0.17.1"; exit 0; }`,
				`[ "$1" = build ] && echo "DOCKER_BUILDKIT=$DOCKER_BUILDKIT" >> '${log}'`,
				`DOCKER_BUILDKIT=0 exec '${real}' "$@"`,
			].join('\n'),
		);
		expect(await hasBuildx(box.context())).toBe(true);
		expect(await build()).toBe('DOCKER_BUILDKIT=1');
		await shimTool(box, 'docker', [`[ "$1" = build ] && echo "DOCKER_BUILDKIT=$DOCKER_BUILDKIT" >> '${log}'`, `exec '${real}' "$@"`].join('\n'));
		expect(await build()).toBe('DOCKER_BUILDKIT=0');
	});

	it("reports the engine version and architecture (this machine's engine is local)", async context => {
		const box = await sandbox(context);
		const info = await dockerInfo(box.context());
		expect(info).toMatchObject({cliInstalled: true, engineReachable: true});
		expect(info.engineVersion).toMatch(/^\d+\.\d+/);
		expect(info.engineArch).toBe(process.arch === 'x64' ? 'amd64' : process.arch);
		expect(info.error).toBeUndefined();
	});

	it('builds and pushes a spec, streaming steps and layers, and returns the digest', async context => {
		const box = await sandbox(context);
		const imageRef = `${registry.host}/test/build-${unique()}:v1`;
		expect((await imageExists(box.context(), imageRef)).state).toBe('absent');

		const events: BuildEvent[] = [];
		const logFile = path.join(box.root, 'logs', 'build.log');
		const result = await buildAndPush(
			box.context(),
			{
				imageRef,
				spec: {name: 'build', base_image: baseImage, env: {GREETING: 'hello world'}, commands: ['echo "$GREETING" > /greeting']},
				contextDir: box.project,
				logFile,
			},
			event => events.push(event),
		);

		expect(result.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
		expect(result.imageRef).toBe(imageRef);
		const phases = events.filter(event => event.type === 'phase').map(event => event.phase);
		expect(phases).toEqual(['build', 'check', 'push']);
		const steps = events.flatMap(event => (event.type === 'step' ? [event.text] : []));
		expect(steps[0]).toMatch(new RegExp(`^Step 1/${steps.length} : FROM ${baseImage.replaceAll('.', '\\.')}$`));
		expect(steps.map(step => /^Step (\d+)\//.exec(step)?.[1])).toEqual(steps.map((_, index) => String(index + 1)));
		expect(steps).toContain(`Step ${steps.length - 5}/${steps.length} : RUN echo "$GREETING" > /greeting`);
		const layers = events.filter(event => event.type === 'layer');
		expect(layers.length).toBeGreaterThan(0);
		expect(layers.some(event => event.type === 'layer' && /Pushed|already exists|Mounted/.test(event.status))).toBe(true);
		const log = await readFile(logFile, 'utf8');
		expect(log).toContain('Successfully tagged');
		expect(log).toContain(`digest: ${result.digest}`);

		const after = await imageExists(box.context(), imageRef);
		expect(after).toMatchObject({state: 'present', digest: result.digest});
		// The RUN step really ran in the image.
		const run = await execa('docker', ['run', '--rm', '--network', 'none', imageRef, 'cat', '/greeting'], {env: box.env});
		expect(run.stdout).toBe('hello world');
	});

	it('maps a failing RUN step and a missing base image', async context => {
		const box = await sandbox(context);
		const common = {contextDir: box.project, logFile: path.join(box.root, 'fail.log')};
		const failing = buildAndPush(
			box.context(),
			{...common, imageRef: `${registry.host}/test/fail:1`, spec: {name: 'fail', base_image: baseImage, commands: ['exit 3']}},
			() => undefined,
		);
		await expect(failing).rejects.toMatchObject({reason: 'BUILD_FAILED'});
		const missing = buildAndPush(
			box.context(),
			{...common, imageRef: `${registry.host}/test/fail:2`, spec: {name: 'fail', base_image: `${registry.host}/base/does-not-exist:1`}},
			() => undefined,
		);
		await expect(missing).rejects.toMatchObject({reason: 'BASE_IMAGE_UNAVAILABLE'});
		expect(await readFile(common.logFile, 'utf8')).toContain('does-not-exist');
	});

	it('stops a build on abort: CancelledError, and no docker child or build container left', async context => {
		const box = await sandbox(context);
		const token = `isg-abort-${unique()}`;
		const controller = new AbortController();
		const started = Date.now();
		const build = buildAndPush(
			box.context(controller.signal),
			{
				imageRef: `${registry.host}/test/abort:1`,
				spec: {name: 'abort', base_image: baseImage, commands: [`sleep 60 # ${token}`]},
				contextDir: box.project,
				logFile: path.join(box.root, 'abort.log'),
			},
			event => {
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
			await new Promise(resolve => setTimeout(resolve, 250));
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

		it('without credentials: a StepError saying how to log in', async context => {
			const box = await sandbox(context);
			const error = await push(box, 'anonymous').catch((error_: unknown) => error_);
			expect(error).toBeInstanceOf(StepError);
			expect(error).toMatchObject({reason: 'PUSH_UNAUTHENTICATED'});
			expect((error as StepError).fix).toContain(`docker login ${locked.host}`);
		});

		it('with the gcloud helper but logged out: the fix names configure-docker and gcloud auth login', async context => {
			const box = await chainSandbox(context);
			await configureDocker(box.context(), locked.host);
			const error = await push(box, 'logged-out').catch((error_: unknown) => error_);
			expect(error).toMatchObject({reason: 'PUSH_UNAUTHENTICATED'});
			expect((error as StepError).fix).toContain(`gcloud auth configure-docker ${locked.host}`);
			expect((error as StepError).fix).toContain('gcloud auth login');
		});

		it('with the helper missing from PATH: says so', async context => {
			const box = await chainSandbox(context);
			await configureDocker(box.context(), locked.host);
			const PATH = await pathHiding(box.env.PATH ?? '', ['docker-credential-gcloud']);
			const error = await push(box, 'no-helper', withEnv(box.platform, {PATH})).catch((error_: unknown) => error_);
			expect(error).toMatchObject({reason: 'CREDENTIAL_HELPER_MISSING'});
		});

		it('logged in (offline gcloud): the whole credential chain pushes, and the image is found', async context => {
			const box = await chainSandbox(context);
			await Promise.all([loginOffline(box), configureDocker(box.context(), locked.host)]);
			const result = await push(box, 'logged-in');
			expect(result.digest).toMatch(/^sha256:/);
			expect(await imageExists(box.context(), `${locked.host}/test/logged-in:1`)).toMatchObject({state: 'present', digest: result.digest});
		});
	});
});
