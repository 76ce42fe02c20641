import {performance} from 'node:perf_hooks';
import {stripVTControlCharacters} from 'node:util';
import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from 'vitest';
import {cleanup, render} from 'ink-testing-library';
import {App} from '../../source/app.js';
import {defaultFlags} from '../../source/flags.js';
import {createAsker} from '../../source/flow/ask.js';
import type {JourneyEvent} from '../../source/flow/events.js';
import {createInkSession} from '../../source/present/ink-session.js';
import {ENDPOINT_ENV, openArtifactRegistry, type ArtifactRegistry} from '../../source/services/artifact-registry.js';
import type {ProjectAnswers} from '../../source/services/store.js';
import {chooseRepository} from '../../source/steps/repository.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';

const PROJECT = 'acme-ml';
const LOCATION = 'us-east1';
const KEY = {up: '\u001B[A', down: '\u001B[B', enter: '\r'};
const tick = async (ms = 30) => new Promise(resolve => setTimeout(resolve, ms));

let fake: FakeArtifactRegistry;
let sandbox: Sandbox;
let registry: ArtifactRegistry;

beforeAll(async () => {
	[fake, sandbox] = await Promise.all([startFakeArtifactRegistry(), makeSandbox()]);
	registry = await openArtifactRegistry(
		{platform: {...sandbox.platform, env: {...sandbox.env, [ENDPOINT_ENV]: fake.endpoint}}},
		{retryDelaysMs: [1], operationPollDelaysMs: [5]},
	);
});

afterAll(async () => {
	await registry?.close();
	await fake?.stop();
	await sandbox?.cleanup();
});

afterEach(() => {
	cleanup();
	fake.reset();
});

/** The repository step, interactive, drawn by the real Ink view: keys in, frames out. */
const start = (saved: ProjectAnswers = {}) => {
	const session = createInkSession();
	const controller = new AbortController();
	const events: JourneyEvent[] = [];
	const view = render(<App session={session} onCancel={() => controller.abort()} />);
	const report = (event: JourneyEvent) => {
		events.push(event);
		session.report(event);
	};
	report({type: 'step', step: 'repository', status: 'running'});
	const outcome = chooseRepository(
		{
			flags: defaultFlags(),
			cwd: sandbox.project,
			folder: sandbox.project,
			ctx: {platform: sandbox.platform, signal: controller.signal},
			ask: createAsker(session.prompter, controller.signal),
			report,
			saved,
			sdk: 'union',
		},
		{project: PROJECT, location: LOCATION, registry},
	);
	const frame = () => stripVTControlCharacters(view.lastFrame() ?? '');
	const type = async (...keys: string[]) => {
		for (const key of keys) {
			view.stdin.write(key);
			// Ink reads keys one at a time
			await tick();
		}
	};
	return {view, outcome, frame, type, events};
};

describe('the repository step on screen', () => {
	it('5,000 repositories: the first page is on screen at once, the saved one first; typing filters; Enter chooses', async () => {
		for (let index = 0; index < 5000; index++) {
			fake.addRepository(PROJECT, LOCATION, `team-${String(index).padStart(4, '0')}`, {description: `Images of team ${index}`, sizeBytes: index * 1_048_576});
		}
		fake.addRepository(PROJECT, LOCATION, 'maven-libs', {format: 'MAVEN', description: 'Java libraries'});
		const started = performance.now();
		const step = start({repository: 'team-4321'});
		await vi.waitFor(() => expect(step.frame()).toContain('team-4321'), {interval: 1, timeout: 10_000});
		const firstPage = performance.now() - started;
		// The first frame with the list holds the first page only (the saved one + 100), and more are loading.
		const firstListFrame = step.view.frames.map(frame => stripVTControlCharacters(frame)).find(frame => frame.includes('team-4321'))!;
		expect(firstListFrame).toContain('101 repositories · loading more…');
		expect(step.frame()).toContain('? Docker repository in acme-ml · us-east1:');
		expect(step.frame()).toMatch(/› team-4321 +Docker · us-east1 · 4\.2 GB · Images of team 4321 · last used/);
		await vi.waitFor(() => expect(step.frame()).toContain('5,001 repositories ·'), {interval: 5, timeout: 20_000});
		const allPages = performance.now() - started;
		const listCalls = fake.calls.filter(call => call.method === 'ListRepositories').map(call => (call.request as {pageSize: number}).pageSize);
		console.info(`5,000 repositories: first page on screen after ${firstPage.toFixed(0)} ms, all ${listCalls.length} pages after ${allPages.toFixed(0)} ms`);
		expect(listCalls).toEqual([100, 1000, 1000, 1000, 1000, 1000]);

		await step.type('m', 'a', 'v', 'e', 'n');
		// Greyed out and never focused: with no Docker match the cursor rests on "create".
		expect(step.frame()).toMatch(/\n {4}maven-libs +MAVEN, not Docker/);
		expect(step.frame()).toContain('› + Create a new repository');
		await step.type(KEY.down);
		expect(step.frame()).toContain('› + Create a new repository');
		await step.type(...'\u007F'.repeat(5), 't', 'e', 'a', 'm', ' ', '4', '9', '9', '9');
		expect(step.frame()).toContain('1 of 5,001 repositories match');
		await step.type(KEY.enter);
		expect(await step.outcome).toEqual({repository: 'team-4999', created: false});
		expect(fake.calls.map(call => call.method)).not.toContain('CreateRepository');
	});

	it('no permission to create: says which, then offers an existing repository on the same screen', async () => {
		fake.addRepository(PROJECT, LOCATION, 'existing', {description: 'made by an admin'});
		fake.deniedPermissions.add('artifactregistry.repositories.create');
		const step = start();
		await vi.waitFor(() => expect(step.frame()).toContain('  existing'));
		// "+ Create a new repository" is pinned above the list, and preselected when nothing is saved.
		expect(step.frame()).toContain('› + Create a new repository');
		await step.type(KEY.enter);
		await vi.waitFor(() => expect(step.frame()).toContain('New repository name:'));
		expect(step.frame()).toContain('union-images');
		await step.type(KEY.enter);
		await vi.waitFor(() => expect(step.frame()).toContain('Description:'));
		await step.type(KEY.enter);
		await vi.waitFor(() => expect(step.frame()).toContain('Labels'));
		await step.type(KEY.enter);
		await vi.waitFor(() => expect(step.frame()).toContain('Immutable tags'));
		await step.type(KEY.enter);
		await vi.waitFor(() => expect(step.frame()).toContain('Cleanup policy:'));
		await step.type(KEY.enter);
		await vi.waitFor(() => expect(step.frame()).toContain('Create repository union-images?'));
		const screen = () => stripVTControlCharacters(step.view.frames.join('\n'));
		expect(screen()).toContain('name            projects/acme-ml/locations/us-east1/repositories/union-images');
		expect(screen()).toContain('cleanup policy  none (every version is kept)');
		await step.type(KEY.enter);
		await vi.waitFor(() => expect(step.frame()).toContain('Choose an existing repository instead?'));
		expect(screen()).toContain('You do not have permission artifactregistry.repositories.create in project acme-ml');
		expect(screen()).toContain('Artifact Registry Administrator (roles/artifactregistry.admin)');
		await step.type(KEY.enter);
		await vi.waitFor(() => expect(step.frame()).toContain('› existing'));
		await step.type(KEY.enter);
		expect(await step.outcome).toEqual({repository: 'existing', created: false});
		expect(fake.repositories.size).toBe(1);
	});
});
