import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {stripVTControlCharacters} from 'node:util';
import {cleanup, render} from 'ink-testing-library';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {App} from '../../source/app.js';
import {defaultFlags, type Flags} from '../../source/flags.js';
import {createAsker} from '../../source/flow/ask.js';
import {runJourney} from '../../source/flow/journey.js';
import {createInkSession} from '../../source/present/ink-session.js';
import {openStore} from '../../source/services/store.js';
import {computeTag} from '../../source/services/imagespec.js';
import {renderModule} from '../../source/services/spec-module.js';
import {computeFlyteUri, type FlyteImage} from '../../source/services/flyte-image.js';
import {renderFlyteModule} from '../../source/services/flyte-module.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';

const KEY = {enter: '\r', down: '\u001B[B'};
const tick = async (ms = 40) => new Promise(resolve => setTimeout(resolve, ms));

let fake: FakeArtifactRegistry;
const sandboxes: Sandbox[] = [];
const REGISTRY_HOST = '127.0.0.1:5999';

const newSandbox = async () => {
	const sandbox = await makeSandbox({env: {IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: REGISTRY_HOST}});
	sandboxes.push(sandbox);
	await loginOffline(sandbox);
	return sandbox;
};

/** The journey in-process, drawn by the real Ink view; `keys` answers what appears. */
const interactiveRun = async (sandbox: Sandbox, flags: Partial<Flags>) => {
	const session = createInkSession();
	const view = render(<App session={session} onCancel={() => undefined} />);
	const controller = new AbortController();
	const journey = runJourney({
		flags: {...defaultFlags(), build: false, ...flags},
		cwd: sandbox.project,
		ctx: {platform: sandbox.platform, signal: controller.signal},
		ask: createAsker(session.prompter, controller.signal),
		report: session.report,
		store: await openStore({folder: sandbox.project, platform: sandbox.platform}),
	});
	journey.catch(() => undefined);
	const screen = () => stripVTControlCharacters(view.frames.join('\n'));
	/** Waits until `text` is on screen (the journey runs real gcloud in between). */
	const waitFor = async (text: string, timeout = 20_000) => {
		const start = Date.now();
		while (!stripVTControlCharacters(view.lastFrame() ?? '').includes(text)) {
			if (Date.now() - start > timeout) throw new Error(`"${text}" never appeared; the screen was:\n${view.lastFrame() ?? ''}`);
			// polling the screen
			await tick(50);
		}
	};

	const type = async (...keys: string[]) => {
		for (const key of keys) {
			view.stdin.write(key);
			// one key at a time, as a person types
			await tick();
		}
	};

	return {journey, screen, waitFor, type};
};

beforeAll(async () => {
	fake = await startFakeArtifactRegistry();
	fake.addRepository('acme-ml', 'us-east1', 'union-images', {description: 'team images'});
});

afterEach(() => {
	cleanup();
});

afterAll(async () => {
	await fake?.stop();
	await Promise.all(sandboxes.map(async sandbox => sandbox.cleanup()));
});

describe('rerun in a configured folder', () => {
	it('opens on the saved setup, and adding an image asks only image questions', async () => {
		const sandbox = await newSandbox();
		const store = await openStore({folder: sandbox.project, platform: sandbox.platform});
		store.save(() => ({
			project: 'acme-ml',
			location: 'us-east1',
			repository: 'union-images',
			images: {
				trainer: {name: 'trainer', tag: 'abc123', imageUri: 'x', specFile: path.join(sandbox.project, 'image_specs.py'), pythonVersion: '3.11', updatedAt: ''},
			},
		}));

		const run = await interactiveRun(sandbox, {});
		await run.waitFor('What next?');
		const menu = run.screen();
		expect(menu).toContain('Saved setup for this folder');
		expect(menu).toMatch(/project\s+acme-ml/);
		expect(menu).toMatch(/location\s+us-east1/);
		expect(menu).toMatch(/repository\s+union-images/);
		expect(menu).toContain('trainer  :abc123');
		expect(menu).toContain('❯ Add another image');

		await run.type(KEY.enter);
		await run.waitFor('Image name');
		await run.type(...'evaluator', KEY.enter);
		await run.waitFor('Python version');
		await run.type(KEY.enter);
		await run.waitFor('Base image');
		await run.type(KEY.enter);
		await run.waitFor('Python packages');
		await run.type(...'pandas', KEY.enter);
		await run.waitFor('Set more options');
		await run.type(KEY.enter);
		await run.waitFor('Write image_specs.py?');
		await run.type(KEY.enter);
		const result = await run.journey;

		expect(result).toMatchObject({
			ok: true,
			project: 'acme-ml',
			location: 'us-east1',
			repository: 'union-images',
			image: 'evaluator',
			registry: `${REGISTRY_HOST}/acme-ml/union-images`,
		});
		const screen = run.screen();
		expect(screen).not.toContain('GCP project id');
		expect(screen).not.toContain('Docker repository in');
		expect(screen).not.toContain('Artifact Registry location');
		// No repository was created for a rerun.
		expect(fake.calls.filter(call => call.method === 'CreateRepository')).toHaveLength(0);
		const saved = (await openStore({folder: sandbox.project, platform: sandbox.platform})).load();
		expect(Object.keys(saved.images ?? {})).toEqual(['trainer', 'evaluator']);
	});
});

describe('onboarding a new team member', () => {
	it('proposes the setup from the module: no setup question, straight to the choice', async () => {
		const sandbox = await newSandbox();
		await writeFile(
			path.join(sandbox.project, 'image_specs.py'),
			renderModule(
				[
					{
						name: 'trainer',
						python_version: '3.11',
						registry: `${REGISTRY_HOST}/acme-ml/union-images`,
						base_image: 'busybox:1',
						packages: ['pandas'],
						platform: 'linux/amd64',
					},
				],
				{sdk: 'union'},
			),
		);
		const run = await interactiveRun(sandbox, {location: 'us-east1'});
		await run.waitFor('What next?');
		const screen = run.screen();
		expect(screen).toContain("Found your team's setup in image_specs.py: acme-ml · us-east1 · union-images");
		expect(screen).toContain("(your team's module)");
		expect(screen).toMatch(/trainer {2}:[\w-]{22}/);
		// Rebuild the team's image: every answer comes from the module.
		await run.type(KEY.down, KEY.enter);
		const result = await run.journey;
		expect(result).toMatchObject({ok: true, project: 'acme-ml', repository: 'union-images', image: 'trainer'});
		expect(run.screen()).not.toMatch(/GCP project id|Image name|Python version|Base image/);
	});
});

describe("the rerun menu and the module's missing images", () => {
	/** With the trainer pushed at `trainerTag` and the scorer not there at all: the menu offers the scorer, and hands it to build. */
	const offersToBuildScorer = async (sandbox: Sandbox, trainerTag: string) => {
		const repository = 'projects/acme-ml/locations/us-east1/repositories/union-images';
		fake.seedDockerImages(repository, [{image: 'trainer', digest: `sha256:${'a'.repeat(64)}`, tags: [trainerTag]}]);
		try {
			const run = await interactiveRun(sandbox, {location: 'us-east1'});
			await run.waitFor('What next?');
			expect(run.screen()).toContain('Build every missing image (1)');
			expect(run.screen()).toContain('scorer: not in the repository at their current tags');
			await run.type(KEY.down, KEY.enter);
			expect(await run.journey).toMatchObject({ok: true, repository: 'union-images', buildImages: ['scorer']});
			expect(fake.calls.filter(call => call.method === 'ListDockerImages')).not.toHaveLength(0);
		} finally {
			fake.reset();
			fake.addRepository('acme-ml', 'us-east1', 'union-images', {description: 'team images'});
		}
	};

	it('offers "Build every missing image" when status finds one, and hands those images to build', async () => {
		const sandbox = await newSandbox();
		const registry = `${REGISTRY_HOST}/acme-ml/union-images`;
		const trainer = {name: 'trainer', python_version: '3.11', registry, base_image: 'busybox:1', platform: 'linux/amd64'};
		const scorer = {...trainer, name: 'scorer'};
		await writeFile(path.join(sandbox.project, 'image_specs.py'), renderModule([trainer, scorer], {sdk: 'union'}));
		await offersToBuildScorer(sandbox, await computeTag(trainer, {baseDir: sandbox.project}));
	});

	it('a Flyte 2 team module: the same offer, from the URIs flyte computes (build builds flyte.Image too)', async () => {
		const sandbox = await newSandbox();
		await writeFile(path.join(sandbox.project, 'requirements.txt'), 'flyte==2.6.5\n');
		const image = (name: string): FlyteImage => ({
			name,
			registry: `${REGISTRY_HOST}/acme-ml/union-images`,
			platform: ['linux/amd64'],
			base: {kind: 'debian', pythonVersion: [3, 12]},
			layers: [{kind: 'pip_packages', packages: ['pandas']}],
		});
		await writeFile(path.join(sandbox.project, 'flyte_images.py'), renderFlyteModule([image('trainer'), image('scorer')]));
		const trainer = await computeFlyteUri(image('trainer'), {folder: sandbox.project, installedFlyte: '2.6.5'});
		if (!trainer.known) throw new Error(trainer.reason);
		await offersToBuildScorer(sandbox, trainer.tag);
	});
});
