import {readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import {stripVTControlCharacters} from 'node:util';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';
import {dockerEngine, requireDocker, startRegistry, type Registry} from '../support/docker.js';
import {flytekitBaseImage, requirePythonBase} from '../support/python-base.js';
import {KEY, spawnCli} from '../support/pty.js';
import {interruptCli, processesOf} from '../support/build-world.js';
import {useRepositoryWorld, whereFlags} from '../support/repository-world.js';

const engine = await dockerEngine();
const describeDocker = requirePythonBase(requireDocker(describe, engine));

describeDocker('Ctrl-C (SIGINT) and SIGTERM at each step of a real run', () => {
	let fake: FakeArtifactRegistry;
	let registry: Registry;
	let baseImage: string;
	const sandboxes: Sandbox[] = [];

	beforeAll(async () => {
		registry = await startRegistry();
		fake = await startFakeArtifactRegistry({dockerImages: {host: registry.host}});
		baseImage = await flytekitBaseImage(engine!.dockerHost, registry.host);
	});

	afterAll(async () => {
		await fake?.stop();
		await registry?.stop();
		await Promise.all(sandboxes.map(async sandbox => sandbox.cleanup()));
	});

	/** Starts a run, waits for `when` on stderr, sends the signal; resolves with what was left behind. */
	const interrupt = async (when: RegExp, signal: NodeJS.Signals, image: string) => {
		const sandbox = await makeSandbox({ci: 'true'});
		sandboxes.push(sandbox);
		await loginOffline(sandbox);
		const env = {...sandbox.env, DOCKER_HOST: engine!.dockerHost, IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: registry.host};
		// A build step that takes long enough to be interrupted (busybox sleep; no network needed).
		const args = [...whereFlags('cancel-me'), '--image', image, '--base-image', baseImage, '--python-version', '3.11', '--commands', 'sleep 60', '--json'];
		return {...(await interruptCli(args, {cwd: sandbox.project, env, sandbox}, when, signal)), sandbox};
	};

	const expectCleanCancel = async ({code, stderr, stdout, sandbox, left}: Awaited<ReturnType<typeof interrupt>>) => {
		expect(code, stderr).toBe(130);
		expect(stderr).toMatch(/Cancelled\. .* rerun imagespec-gar to resume/);
		expect(JSON.parse(stdout)).toMatchObject({ok: false, error: {reason: 'CANCELLED'}});
		expect(left).toEqual([]);
		// No partial file: only whole files (or nothing) in the project folder.
		expect((await readdir(sandbox.project)).filter(name => name !== 'image_specs.py')).toEqual([]);
		const saved = await readFile(path.join(sandbox.xdgConfig, 'imagespec-gar-nodejs', 'config.json'), 'utf8').catch(() => '{}');
		expect(() => JSON.parse(saved)).not.toThrow();
	};

	it('while the prerequisites run (their child processes)', async () => {
		const outcome = await interrupt(/Prerequisites: started/, 'SIGINT', 'during-checks');
		await expectCleanCancel(outcome);
		expect(outcome.stderr).toContain('Nothing was changed');
	});

	it('while docker authentication runs (gcloud configure-docker)', async () => {
		const outcome = await interrupt(/Docker authentication: started/, 'SIGTERM', 'during-auth');
		await expectCleanCancel(outcome);
		expect(outcome.stderr).toMatch(/Completed: .*Repository/);
	});

	it('during the build: the docker child is stopped and no build container keeps running', async () => {
		const outcome = await interrupt(/Step \d+\/\d+ : RUN sleep 60/, 'SIGINT', 'during-build');
		await expectCleanCancel(outcome);
		expect(outcome.stderr).toMatch(/Completed: .*ImageSpec/);
		// The interrupted step says so; it is not listed as completed.
		expect(outcome.stderr).toContain('Build and push: cancelled');
		expect(outcome.stderr).not.toMatch(/Completed: .*Build and push/);
		// The module was written whole before the build began.
		const module = await readFile(path.join(outcome.sandbox.project, 'image_specs.py'), 'utf8');
		expect(module).toContain('name="during-build"');
		const running = await execa('docker', ['ps', '--format', '{{.Command}}'], {env: {...process.env, DOCKER_HOST: engine!.dockerHost}});
		expect(running.stdout).not.toContain('sleep 60');
		// Answers saved up to the last finished step, and nothing claims a push.
		const saved = JSON.parse(await readFile(path.join(outcome.sandbox.xdgConfig, 'imagespec-gar-nodejs', 'config.json'), 'utf8'));
		expect(saved.projects[outcome.sandbox.project]).toMatchObject({project: 'acme-ml', location: 'us-east1', repository: 'cancel-me'});
	});
});

describe('Ctrl-C at each question of an interactive run (a real terminal)', () => {
	const world = useRepositoryWorld();

	// Each run is given the answers before the question (as flags), then Ctrl-C is pressed there.
	const questions: Array<[string, string[]]> = [
		['GCP project id', []],
		['Artifact Registry location', ['acme-ml']],
		['Docker repository in', ['acme-ml', 'us-east1']],
		['Image name', ['acme-ml', 'us-east1', 'union-images']],
	];

	it('as soon as the header is up, before Ink has loaded: exit 130 and the resume line', async () => {
		const {sandbox} = world();
		const run = spawnCli(['--no-build'], {cwd: sandbox.project, env: sandbox.env});
		try {
			await run.waitFor('imagespec-gar ·', {timeout: 60_000});
			await run.press(KEY.ctrlC);
			expect(await run.waitForExit(30_000)).toMatchObject({exitCode: 130});
			expect(stripVTControlCharacters(run.output())).toMatch(/Cancelled\. Nothing was changed\./);
			expect(await processesOf(sandbox)).toEqual([]);
			expect(await readdir(sandbox.project)).toEqual([]);
		} finally {
			run.kill();
		}
	});

	it.each(questions)('at "%s": exit 130, the resume line, nothing left running or half-written', async (question, answers) => {
		const {sandbox} = world();
		const flags = ['--project', '--location', '--repository'].flatMap((flag, index) => (answers[index] ? [flag, answers[index]] : []));
		const run = spawnCli(['--no-build', ...flags], {cwd: sandbox.project, env: sandbox.env});
		try {
			if (question === 'Image name') {
				await run.waitFor('? Does your Union data plane run in project acme-ml', {timeout: 60_000});
				await run.press(KEY.enter);
			}

			await run.waitFor(`? ${question}`, {timeout: 60_000});
			await run.press(KEY.ctrlC);
			expect(await run.waitForExit(30_000)).toMatchObject({exitCode: 130});
			expect(stripVTControlCharacters(run.output())).toMatch(/Cancelled\. .*Your answers so far are saved: rerun imagespec-gar to resume\./);
			expect(await processesOf(sandbox)).toEqual([]);
			expect(await readdir(sandbox.project)).toEqual([]);
		} finally {
			run.kill();
		}
	});
});
