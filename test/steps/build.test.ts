import {randomBytes} from 'node:crypto';
import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it, type TestContext} from 'vitest';
import {defaultFlags, type Flags} from '../../source/flags.js';
import {createAsker, type Prompter} from '../../source/flow/ask.js';
import type {JourneyEvent} from '../../source/flow/events.js';
import type {DockerInfo} from '../../source/services/docker.js';
import {openArtifactRegistry} from '../../source/services/artifact-registry.js';
import {CancelledError, StepError} from '../../source/services/errors.js';
import {configureDocker} from '../../source/services/gcloud.js';
import {computeTag, imageUri, type ImageSpec} from '../../source/services/imagespec.js';
import {renderModule, variableName} from '../../source/services/spec-module.js';
import type {ProjectAnswers} from '../../source/services/store.js';
import {buildImage, chooseBuilder, findInRepository, localBuildCertain} from '../../source/steps/build.js';
import type {StepContext} from '../../source/steps/context.js';
import type {AuthoredSpec} from '../../source/steps/imagespec.js';
import {dockerEngine, requireDocker, startRegistry, type Registry} from '../support/docker.js';
import {flytekitBaseImage, requirePythonBase} from '../support/python-base.js';
import {standInFlytekit, startPythonIndex} from '../support/python-index.js';
import {makeSandbox, pathHiding, withEnv, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {FAKE_TOKEN, loginOffline, shimTool} from '../support/gcloud.js';
import {scriptedPerson} from '../support/scripted-person.js';

const engine = await dockerEngine();
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const FLYTEKIT_PATH = [path.join(FIXTURES, 'flytekit-engine'), path.join(FIXTURES, 'union-stub')].join(path.delimiter);
const unique = () => randomBytes(4).toString('hex');

type Harness = StepContext & {events: JourneyEvent[]; notes: () => string[]};

const harness = (box: Sandbox, options: {flags?: Partial<Flags>; person?: Prompter; saved?: ProjectAnswers; platform?: Sandbox['platform']} = {}): Harness => {
	const events: JourneyEvent[] = [];
	const controller = new AbortController();
	return {
		flags: {...defaultFlags(), ...options.flags},
		cwd: box.project,
		folder: box.project,
		ctx: {platform: options.platform ?? box.platform, signal: controller.signal},
		ask: createAsker(options.person, controller.signal),
		report: event => events.push(event),
		saved: options.saved ?? {},
		sdk: 'union',
		events,
		notes: () => events.flatMap(event => (event.type === 'note' ? [event.text] : [])),
	};
};

describe('chooseBuilder', () => {
	let box: Sandbox;
	beforeAll(async () => {
		box = await makeSandbox();
	});
	afterAll(async () => box?.cleanup());

	const up = {cliInstalled: true, engineReachable: true, engineVersion: '20.10'};
	const down = {cliInstalled: true, engineReachable: false};
	const missing = {cliInstalled: false, engineReachable: false};

	let hints: Record<string, string> = {};
	const ask = async (docker: DockerInfo, arch = 'x64') => {
		let asked: {choices: Array<{value: string; disabled?: boolean; hint?: string}>; default?: string} | undefined;
		const person = scriptedPerson([
			[
				/How should the image be built\?/,
				question => {
					asked = question as typeof asked;
					return (question as {default?: string}).default ?? '';
				},
			],
		]);
		const answer = await chooseBuilder(harness(box, {person: person.prompter, platform: {...box.platform, arch}}), {docker});
		hints = Object.fromEntries(asked!.choices.map(choice => [choice.value, choice.hint ?? '']));
		return {answer, order: asked!.choices.map(choice => choice.value), disabled: asked!.choices.filter(choice => choice.disabled).map(choice => choice.value)};
	};

	it('amd64 with a running engine: docker first and by default', async () => {
		expect(await ask(up)).toEqual({answer: 'local', order: ['local', 'union'], disabled: []});
	});

	it('arm64 (emulated amd64 builds): Union first and by default', async () => {
		expect(await ask(up, 'arm64')).toEqual({answer: 'union', order: ['union', 'local'], disabled: []});
	});

	it("the engine's own architecture decides: an amd64 engine from an arm64 laptop builds natively; an arm64 engine says how slow", async () => {
		expect(await ask({...up, engineArch: 'amd64'}, 'arm64')).toEqual({answer: 'local', order: ['local', 'union'], disabled: []});
		const emulated = await ask({...up, engineArch: 'arm64'}, 'x64');
		expect(emulated).toEqual({answer: 'union', order: ['union', 'local'], disabled: []});
		expect(hints.local).toBe('linux/amd64 is built under emulation, often 5-20x slower on this arm64 engine');
	});

	it('the engine down: Union first; docker not installed: the local build cannot be chosen', async () => {
		expect(await ask(down)).toMatchObject({answer: 'union', order: ['union', 'local'], disabled: []});
		expect(await ask(missing)).toMatchObject({answer: 'union', order: ['union', 'local'], disabled: ['local']});
	});

	it('choosing the local build while the engine is still down stops with the fix, before anything is written', async () => {
		const person = scriptedPerson([[/How should the image be built\?/, 'local']]);
		const platform = withEnv(box.platform, {DOCKER_HOST: 'unix:///nonexistent.sock'});
		const error = await chooseBuilder(harness(box, {person: person.prompter, platform}), {docker: down}).catch((error_: unknown) => error_);
		expect(error).toMatchObject({reason: 'DOCKER_DOWN', fix: expect.stringContaining('--builder union')});
	});

	it('--builder, --no-build and scripts are never asked; scripts keep the saved builder', async () => {
		const nobody = scriptedPerson([]);
		expect(await chooseBuilder(harness(box, {person: nobody.prompter, flags: {builder: 'union'}}), {docker: up})).toBe('union');
		expect(await chooseBuilder(harness(box, {person: nobody.prompter, flags: {build: false}}), {docker: up})).toBe('local');
		const saved: ProjectAnswers = {images: {trainer: {name: 'trainer', tag: 't', imageUri: 'u', specFile: 'f', builder: 'union', updatedAt: ''}}};
		expect(await chooseBuilder(harness(box, {saved}), {docker: missing})).toBe('union');
		expect(await chooseBuilder(harness(box), {docker: missing})).toBe('local');
		expect(nobody.asked).toEqual([]);
		// Step 1 requires docker only when nobody will be asked.
		expect(localBuildCertain({flags: defaultFlags(), ask: createAsker(undefined, new AbortController().signal), saved: {}})).toBe(true);
		expect(localBuildCertain({flags: defaultFlags(), ask: createAsker(nobody.prompter, new AbortController().signal), saved: {}})).toBe(false);
		expect(localBuildCertain({flags: {...defaultFlags(), builder: 'union'}, ask: createAsker(undefined, new AbortController().signal), saved: {}})).toBe(false);
	});
});

requirePythonBase(requireDocker(describe, engine))('buildImage on the real engine, registry and a fake Artifact Registry that reads the registry', () => {
	let registry: Registry;
	let open: Registry;
	let fake: FakeArtifactRegistry;
	let baseImage: string;
	const auth = {user: '_dcgcloud_token', password: FAKE_TOKEN};
	const where = {project: 'acme-ml', location: 'us-east1', repository: 'union-images'};

	beforeAll(async () => {
		// Pushes need gcloud's token (through docker-credential-gcloud), like Artifact Registry.
		registry = await startRegistry({auth});
		fake = await startFakeArtifactRegistry({dockerImages: {host: registry.host, auth}});
		open = await startRegistry();
		baseImage = await flytekitBaseImage(engine!.dockerHost, open.host);
	});

	afterAll(async () => {
		await fake?.stop();
		await registry?.stop();
		await open?.stop();
	});

	/** A logged-in person with docker configured for the registry, and every docker call recorded. */
	const personBox = async (context: TestContext, env: Record<string, string> = {}) => {
		const box = await makeSandbox({
			env: {
				DOCKER_HOST: engine!.dockerHost,
				IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint,
				IMAGESPEC_GAR_REGISTRY_HOST: registry.host,
				CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY: 'true',
				...env,
			},
		});
		context.onTestFinished(async () => box.cleanup());
		await Promise.all([loginOffline(box), configureDocker(box.context(), registry.host)]);
		const log = path.join(box.root, 'docker-calls.log');
		const real = (await execa('sh', ['-c', 'command -v docker'], {env: box.env, extendEnv: false})).stdout.trim();
		await shimTool(box, 'docker', `echo "$1" >> '${log}'\nexec '${real}' "$@"`);
		const dockerCalls = async () => (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
		return {box, dockerCalls};
	};

	const authored = async (box: Sandbox, fields: Partial<ImageSpec> = {}, write = false): Promise<AuthoredSpec> => {
		const spec: ImageSpec = {
			name: `trainer-${unique()}`,
			python_version: '3.11',
			registry: `${registry.host}/acme-ml/union-images`,
			base_image: baseImage,
			platform: 'linux/amd64',
			commands: ['echo built > /built'],
			...fields,
		};
		const tag = await computeTag(spec, {baseDir: box.project});
		const moduleFile = path.join(box.project, 'image_specs.py');
		if (write) await writeFile(moduleFile, renderModule([spec], {sdk: 'union'}));
		return {spec, tag, uri: imageUri(spec, tag), moduleFile, specFile: write ? moduleFile : undefined, variable: variableName(spec.name), sdk: 'union'};
	};

	it("builds, pushes, and proves it with Artifact Registry's listing; a rerun builds and pushes nothing; --force does both again", async context => {
		const {box, dockerCalls} = await personBox(context);
		const image = await authored(box);
		const calls = fake.calls.length;

		const first = harness(box);
		const built = await buildImage(first, image, where);
		expect(built).toMatchObject({pushed: true, engine: 'docker'});
		expect(built.digest).toMatch(/^sha256:[a-f\d]{64}$/);
		expect(await dockerCalls()).toEqual(['buildx', 'build', 'run', 'push']);
		// Live progress: Dockerfile steps, layers, the log tail, and the log file named.
		const steps = first.events.filter(event => event.type === 'build-step').map(event => (event as {text: string}).text);
		expect(steps[0]).toBe(`Step 1/${steps.length} : FROM ${baseImage}`);
		expect(steps).toContain(`Step ${steps.length - 5}/${steps.length} : RUN echo built > /built`);
		// The image ran once before the push: flytekit imports in it.
		const checking = `checking that ${image.spec.name}:${image.tag} can run a Flyte task (import flytekit)`;
		expect(first.events).toContainEqual(expect.objectContaining({type: 'step', step: 'build', detail: checking}));
		expect(first.events.some(event => event.type === 'layer' && /Pushed|Mounted|exists/.test(event.status))).toBe(true);
		expect(first.notes()).toContain(`Full build log: ${built.logFile}`);
		expect(await readFile(built.logFile!, 'utf8')).toContain(`digest: ${built.digest}`);
		// The proof came from Artifact Registry (the fake reads the registry), on the pushed digest.
		expect(first.notes()).toContain(`Artifact Registry lists ${image.spec.name}:${image.tag} → ${built.digest}.`);
		const asked = fake.calls.slice(calls).map(call => call.method);
		expect(asked).toEqual(['GetTag', 'GetTag', 'GetDockerImage']);
		expect(fake.calls.at(-1)!.request.name).toBe(
			`projects/acme-ml/locations/us-east1/repositories/union-images/dockerImages/${image.spec.name}@${built.digest}`,
		);

		// The journey lends its own client: the lookup goes through it, no second client is opened.
		const client = await openArtifactRegistry(box.context());
		context.onTestFinished(async () => client.close());
		let lent = 0;
		const journeyClient = {
			async open() {
				lent++;
				return client;
			},
		};

		const rerun = harness(box);
		expect(await buildImage(rerun, image, where, journeyClient)).toEqual({pushed: false, digest: built.digest, skipped: 'already in the repository'});
		expect(lent).toBe(1);
		expect(await dockerCalls()).toEqual(['buildx', 'build', 'run', 'push']);
		expect(rerun.notes()[0]).toMatch(/is already in the repository .*--force rebuilds it/);

		const forced = harness(box, {flags: {force: true}});
		const again = await buildImage(forced, image, where);
		expect(again.pushed).toBe(true);
		expect(await dockerCalls()).toEqual(['buildx', 'build', 'run', 'push', 'buildx', 'build', 'run', 'push']);
	});

	it('a nested image name (team/trainer) is found under its URL-encoded package', async context => {
		const {box} = await personBox(context);
		const image = await authored(box, {name: `team/trainer-${unique()}`});
		const built = await buildImage(harness(box), image, where);
		expect(await findInRepository(harness(box), image, where)).toMatchObject({
			state: 'present',
			via: 'artifact-registry',
			digest: built.digest,
			tags: [image.tag],
		});
	});

	it("without a reachable Artifact Registry API: the registry's manifest answers instead", async context => {
		const {box} = await personBox(context, {IMAGESPEC_GAR_API_ENDPOINT: '127.0.0.1:1'});
		// The open registry: docker's manifest lookups there need no credential helper (each run of it costs seconds).
		const image = await authored(box, {registry: `${open.host}/acme-ml/union-images`});
		expect(await findInRepository(harness(box), image, where)).toMatchObject({state: 'absent', via: 'registry'});
		const built = await buildImage(harness(box), image, where);
		expect(await findInRepository(harness(box), image, where)).toMatchObject({state: 'present', via: 'registry', digest: built.digest});
	});

	it('a registry that needs credentials, with gcloud logged out: the push fails with configure-docker and login as the fix', async context => {
		const {box, dockerCalls} = await personBox(context);
		const loggedOut = withEnv(box.platform, {CLOUDSDK_CONFIG: path.join(box.root, 'logged-out')});
		await execa('mkdir', ['-p', loggedOut.env.CLOUDSDK_CONFIG!]);
		const error = await buildImage(harness(box, {platform: loggedOut}), await authored(box), where).catch((error_: unknown) => error_);
		expect(error).toBeInstanceOf(StepError);
		expect(error).toMatchObject({reason: 'PUSH_UNAUTHENTICATED'});
		expect((error as StepError).fix).toBe(`Run \`gcloud auth configure-docker ${registry.host}\` and \`gcloud auth login\`, then retry.`);
		// Artifact Registry answered "absent" (no docker call for that); the build ran, the push was refused.
		expect(await dockerCalls()).toEqual(['buildx', 'build', 'run', 'push']);
	});

	it('docker-credential-gcloud missing from PATH: says so', async context => {
		const {box} = await personBox(context);
		const PATH = await pathHiding(box.env.PATH ?? '', ['docker-credential-gcloud']);
		const error = await buildImage(harness(box, {platform: withEnv(box.platform, {PATH})}), await authored(box), where).catch((error_: unknown) => error_);
		expect(error).toMatchObject({reason: 'CREDENTIAL_HELPER_MISSING'});
	});

	describe("flytekit's own engine", () => {
		it('offered when Python imports flytekit and the module is written; builds what the module declares', async context => {
			const {box, dockerCalls} = await personBox(context, {PYTHONPATH: FLYTEKIT_PATH});
			const record = path.join(box.root, 'flytekit-builds.jsonl');
			box.env.IMAGESPEC_STUB_BUILDS = record;
			const image = await authored(box, {}, true);
			const person = scriptedPerson([[/^Build with:/, 'flytekit']]);
			const c = harness(box, {person: person.prompter});
			const built = await buildImage(c, image, where);
			expect(built).toMatchObject({pushed: true, engine: 'flytekit'});
			expect(person.asked[0]).toMatchObject({kind: 'select'});
			expect(JSON.stringify(person.asked[0])).toContain('flytekit 1.16.24+stub');
			// flytekit (the stub) built the module's spec, under the tag imagespec-gar computed.
			expect(
				(await readFile(record, 'utf8'))
					.trim()
					.split('\n')
					.map(line => JSON.parse(line) as unknown),
			).toEqual([{image: image.uri, base_image: baseImage, platform: 'linux/amd64'}]);
			expect(await dockerCalls()).toEqual(['build', 'push']);
			const label = await execa('docker', ['inspect', '--format', '{{index .Config.Labels "built-by"}}', image.uri], {env: box.env, extendEnv: false});
			expect(label.stdout).toBe('flytekit-stub');
			expect(c.notes()).toContain(`Artifact Registry lists ${image.spec.name}:${image.tag} → ${built.digest}.`);
		});

		it("a failing flytekit build is mapped like docker's", async context => {
			const {box} = await personBox(context, {PYTHONPATH: FLYTEKIT_PATH, IMAGESPEC_STUB_FAIL: 'write /var/lib/docker/tmp/x: no space left on device'});
			const person = scriptedPerson([[/^Build with:/, 'flytekit']]);
			const error = await buildImage(harness(box, {person: person.prompter}), await authored(box, {}, true), where).catch((error_: unknown) => error_);
			expect(error).toMatchObject({reason: 'NO_SPACE'});
			expect((error as StepError).message).toMatch(/^flytekit's ImageBuildEngine failed: /);
		});

		it('Ctrl-C half-way: python, its docker child and the build container are all gone', async context => {
			const token = `isg-flytekit-${unique()}`;
			const {box} = await personBox(context, {PYTHONPATH: FLYTEKIT_PATH, IMAGESPEC_STUB_SLEEP: `60 # ${token}`});
			const person = scriptedPerson([[/^Build with:/, 'flytekit']]);
			const c = harness(box, {person: person.prompter});
			const controller = new AbortController();
			c.ctx = {...c.ctx, signal: controller.signal};
			c.ask = createAsker(person.prompter, controller.signal);
			c.report = event => {
				if (event.type === 'build-step' && event.text.includes(token)) setTimeout(() => controller.abort(), 300);
			};
			const started = Date.now();
			await expect(buildImage(c, await authored(box, {}, true), where)).rejects.toBeInstanceOf(CancelledError);
			expect(Date.now() - started).toBeLessThan(30_000);
			// Nothing that runs with this sandbox's config is left: no python, no docker CLI.
			const left = await execa('sh', ['-c', `grep -l '${box.cloudsdkConfig}' /proc/[0-9]*/environ 2>/dev/null || true`]);
			expect(left.stdout.trim()).toBe('');
			let containers = '';
			for (let attempt = 0; attempt < 40; attempt++) {
				// polling the engine
				containers = (await execa('docker', ['ps', '--no-trunc', '--format', '{{.Command}}'], {env: {...process.env, DOCKER_HOST: engine!.dockerHost}})).stdout;
				if (!containers.includes(token)) break;
				await new Promise(resolve => setTimeout(resolve, 250));
			}

			expect(containers).not.toContain(token);
		});

		it('not offered without flytekit (the real Python here), nor to scripts', async context => {
			const {box, dockerCalls} = await personBox(context);
			const nobody = scriptedPerson([]);
			expect(await buildImage(harness(box, {person: nobody.prompter}), await authored(box, {}, true), where)).toMatchObject({engine: 'docker'});
			expect(nobody.asked).toEqual([]);
			box.env.PYTHONPATH = FLYTEKIT_PATH;
			// flytekit's rule: the flytekit it appends is pinned to the one here, which the index serves.
			const index = await startPythonIndex(standInFlytekit.map(project => (project.name === 'flytekit' ? {...project, version: '1.16.24+stub'} : project)));
			context.onTestFinished(async () => index.stop());
			const pinned = await buildImage(harness(box), await authored(box, {pip_index: index.url}, true), where);
			expect(pinned).toMatchObject({engine: 'docker'});
			expect(await readFile(pinned.logFile!, 'utf8')).toContain('# requirements_uv.txt: flytekit==1.16.24+stub\n');
			expect(index.requests).toContain('/simple/flytekit/');
			expect((await dockerCalls()).filter(call => call === 'build')).toHaveLength(2);
		});
	});
});
