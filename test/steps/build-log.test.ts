import {execFile} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {chmod, lstat, mkdir, readFile, stat, symlink, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {promisify} from 'node:util';
import {afterAll, beforeAll, describe, expect, it, type TestContext} from 'vitest';
import {defaultFlags} from '../../source/flags.js';
import {createAsker} from '../../source/flow/ask.js';
import type {JourneyEvent} from '../../source/flow/events.js';
import {StepError} from '../../source/services/errors.js';
import {configureDocker} from '../../source/services/gcloud.js';
import {computeTag, imageUri, type ImageSpec} from '../../source/services/imagespec.js';
import {logFolder} from '../../source/services/log-folder.js';
import {buildImage} from '../../source/steps/build.js';
import type {StepContext} from '../../source/steps/context.js';
import {dockerEngine, requireDocker, startRegistry, type Registry} from '../support/docker.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {FAKE_TOKEN, loginOffline} from '../support/gcloud.js';
import {flytekitBaseImage, requirePythonBase} from '../support/python-base.js';

const run = promisify(execFile);
const engine = await dockerEngine();
// Another local user: planting needs root to become them (CI runs the tests as root).
const asRoot = process.getuid?.() === 0;
const OTHER = 65_534; // nobody

/** Runs a shell command as the other local user. */
const asOther = async (script: string) => run('setpriv', [`--reuid=${OTHER}`, `--regid=${OTHER}`, '--clear-groups', 'sh', '-c', script]);

const harness = (box: Sandbox): StepContext & {events: JourneyEvent[]} => {
	const events: JourneyEvent[] = [];
	const controller = new AbortController();
	return {
		flags: {...defaultFlags(), force: true},
		cwd: box.project,
		folder: box.project,
		ctx: {platform: box.platform, signal: controller.signal},
		ask: createAsker(undefined, controller.signal),
		report: event => events.push(event),
		saved: {},
		sdk: 'union',
		events,
	};
};

(asRoot ? requirePythonBase(requireDocker(describe, engine)) : describe.skip)('the build log, with another local user on the machine (as root)', () => {
	let registry: Registry;
	let open: Registry;
	let fake: FakeArtifactRegistry;
	let baseImage: string;
	const auth = {user: '_dcgcloud_token', password: FAKE_TOKEN};

	beforeAll(async () => {
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

	const setup = async (context: TestContext) => {
		const box = await makeSandbox({
			env: {
				DOCKER_HOST: engine!.dockerHost,
				IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint,
				IMAGESPEC_GAR_REGISTRY_HOST: registry.host,
				CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY: 'true',
			},
		});
		context.onTestFinished(async () => box.cleanup());
		await Promise.all([loginOffline(box), configureDocker(box.context(), registry.host)]);
		// The sandbox's parents are private to root; the shared temp folder must be reachable by the other user.
		await chmod(box.root, 0o755);
		const spec: ImageSpec = {
			name: `trainer-${randomBytes(4).toString('hex')}`,
			python_version: '3.11',
			registry: `${registry.host}/acme-ml/union-images`,
			base_image: baseImage,
			platform: 'linux/amd64',
		};
		const tag = await computeTag(spec, {baseDir: box.project});
		return {
			box,
			authored: {spec, tag, uri: imageUri(spec, tag), moduleFile: path.join(box.project, 'image_specs.py'), variable: 'trainer_image', sdk: 'union' as const},
		};
	};

	it('a link planted at the old predictable name in a shared temp folder is never written through; the log is 0600 in a 0700 folder of ours', async context => {
		const {box, authored} = await setup(context);
		// A root-owned secret, and a world-writable temp folder like /tmp.
		const victim = path.join(box.root, 'root-secret');
		await writeFile(victim, 'root only\n', {mode: 0o600});
		const shared = path.join(box.root, 'shared-tmp');
		await mkdir(shared);
		await chmod(shared, 0o1777);
		await asOther(`mkdir -m 777 '${shared}/imagespec-gar' && ln -s '${victim}' '${shared}/imagespec-gar/${authored.spec.name}-${authored.tag}.log'`);

		const before = process.env.TMPDIR;
		process.env.TMPDIR = shared;
		context.onTestFinished(() => {
			if (before === undefined) delete process.env.TMPDIR;
			else process.env.TMPDIR = before;
		});
		const built = await buildImage(harness(box), authored);

		expect(await readFile(victim, 'utf8')).toBe('root only\n');
		expect(built.logFile).toBe(path.join(logFolder(box.platform), `${authored.spec.name}-${authored.tag}.log`));
		expect(built.logFile!.startsWith(box.home)).toBe(true);
		expect((await stat(built.logFile!)).mode & 0o777).toBe(0o600);
		expect((await stat(path.dirname(built.logFile!))).mode & 0o777).toBe(0o700);
		expect(await readFile(built.logFile!, 'utf8')).toContain(`digest: ${built.digest}`);
	});

	it('a log folder that belongs to another user is refused before anything is built, with the fix', async context => {
		const {box, authored} = await setup(context);
		const state = path.join(box.root, 'state');
		await mkdir(state, {mode: 0o1777});
		await chmod(state, 0o1777);
		await asOther(`mkdir -p -m 777 '${state}/imagespec-gar/logs'`);
		box.env.XDG_STATE_HOME = state;

		const error = await buildImage(harness(box), authored).catch((error: unknown) => error);
		expect(error).toBeInstanceOf(StepError);
		expect((error as StepError).message).toBe(
			`The build log folder ${state}/imagespec-gar/logs belongs to another user (uid ${OTHER}): imagespec-gar writes its logs only into a folder of your own.`,
		);
		expect((error as StepError).fix).toContain('XDG_STATE_HOME');
		// Nothing was pushed: the registry does not have the tag.
		const manifest = await fetch(`http://${registry.host}/v2/acme-ml/union-images/${authored.spec.name}/manifests/${authored.tag}`, {
			method: 'HEAD',
			headers: {authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`},
		});
		expect(manifest.status).toBe(404);
	});

	it('a secret the person insisted on (--allow-secrets) is masked in the live output and the log', async context => {
		const {box, authored} = await setup(context);
		const spec: ImageSpec = {...authored.spec, env: {HF_TOKEN: 'hf_live_0123456789'}, pip_index: 'http://deploy:s3cr3t-pw@127.0.0.1:9/simple'};
		const tag = await computeTag(spec, {baseDir: box.project});
		const run = harness(box);
		const built = await buildImage(run, {...authored, spec, tag, uri: imageUri(spec, tag)});
		const log = await readFile(built.logFile!, 'utf8');
		expect(log).toContain('HF_TOKEN="***"');
		const shown = JSON.stringify(run.events);
		expect(shown).toContain('HF_TOKEN=\\"***\\"');
		for (const text of [log, shown]) expect(text).not.toMatch(/hf_live_0123456789|s3cr3t-pw/);
	});

	it('a link planted in our own log folder (from before it was private) is replaced, not followed', async context => {
		const {box, authored} = await setup(context);
		const victim = path.join(box.root, 'root-secret');
		await writeFile(victim, 'root only\n', {mode: 0o600});
		const folder = logFolder(box.platform);
		await mkdir(folder, {recursive: true, mode: 0o755});
		await symlink(victim, path.join(folder, `${authored.spec.name}-${authored.tag}.log`));

		const built = await buildImage(harness(box), authored);
		expect(await readFile(victim, 'utf8')).toBe('root only\n');
		expect((await lstat(built.logFile!)).isFile()).toBe(true);
		expect((await stat(folder)).mode & 0o777).toBe(0o700);
	});
});
