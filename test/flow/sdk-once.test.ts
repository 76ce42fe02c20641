// The project's SDK is detected once per run, and every step (and every presenter's words) follows it.
import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, beforeAll, beforeEach, describe, expect, it, vi} from 'vitest';
import {defaultFlags, type Flags} from '../../source/flags.js';
import {createAsker, type Prompter} from '../../source/flow/ask.js';
import type {JourneyEvent} from '../../source/flow/events.js';
import {runJourney} from '../../source/flow/journey.js';
import {initialState, reduce} from '../../source/flow/state.js';
import {createPlainReporter} from '../../source/present/plain.js';
import {detectSdk} from '../../source/services/sdk.js';
import {openStore} from '../../source/services/store.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';

// Counted, not replaced: the real detection runs, and the test sees how often.
vi.mock('../../source/services/sdk.js', async original => {
	const real = await original<typeof import('../../source/services/sdk.js')>();
	return {...real, detectSdk: vi.fn(real.detectSdk)};
});

let fake: FakeArtifactRegistry;
const sandboxes: Sandbox[] = [];

beforeAll(async () => {
	fake = await startFakeArtifactRegistry();
	fake.addRepository('acme-ml', 'us-east1', 'ml-images');
}, 60_000);

afterAll(async () => {
	await fake?.stop();
	await Promise.all(sandboxes.map(async sandbox => sandbox.cleanup()));
});

beforeEach(() => {
	vi.mocked(detectSdk).mockClear();
});

/** A person who takes every default: the run's own questions, whatever they are. */
const defaults: Prompter = {
	select: async question => question.default ?? question.choices.find(choice => !choice.disabled)?.value ?? '',
	text: async question => question.default ?? '',
	confirm: async question => question.default,
};

const run = async (requirements: string, given: Partial<Flags>, person?: Prompter) => {
	const sandbox = await makeSandbox({env: {IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: '127.0.0.1:5999'}});
	sandboxes.push(sandbox);
	await loginOffline(sandbox);
	await writeFile(path.join(sandbox.project, 'requirements.txt'), requirements);
	const events: JourneyEvent[] = [];
	const lines: string[] = [];
	const plain = createPlainReporter(line => lines.push(line));
	const signal = new AbortController().signal;
	const result = await runJourney({
		flags: {...defaultFlags(), build: false, project: 'acme-ml', location: 'us-east1', repository: 'ml-images', image: 'trainer', ...given},
		cwd: sandbox.project,
		ctx: {platform: sandbox.platform, signal},
		ask: createAsker(person, signal),
		report(event) {
			events.push(event);
			plain(event);
		},
		store: await openStore({folder: sandbox.project, platform: sandbox.platform}),
	});
	const state = events.reduce(reduce, initialState());
	return {result, lines, titles: state.steps.map(step => step.title)};
};

describe('the SDK, detected once per run', () => {
	it('a Flyte 2 project, interactive: detected once (the checks and the image step share it); its steps say flyte.Image', async () => {
		const {result, lines, titles} = await run('flyte==2.6.5\n', {pythonVersion: '3.12', packages: ['pandas']}, defaults);
		expect(result).toMatchObject({ok: true, sdk: 'flyte', image: 'trainer'});
		expect(vi.mocked(detectSdk)).toHaveBeenCalledTimes(1);
		// The checks asked about flyte, as the image step wrote flyte.Image: one answer, both steps.
		expect(result.checks?.map(check => check.id)).toContain('flyte-sdk');
		expect(titles).toContain('flyte.Image');
		expect(titles).not.toContain('ImageSpec');
		expect(lines).toContain('flyte.Image: started');
		expect(lines.some(line => line.startsWith('flyte.Image: done — '))).toBe(true);
		expect(lines.join('\n')).not.toContain('ImageSpec');
	}, 60_000);

	it('an ImageSpec project, interactive: detected once (the checks, the image step and the module it writes); its steps say ImageSpec', async () => {
		const {result, lines, titles} = await run('flytekit>=1.16\n', {pythonVersion: '3.12', baseImage: 'python:3.12-slim', packages: ['pandas']}, defaults);
		expect(result).toMatchObject({ok: true, image: 'trainer', specFile: expect.stringMatching(/image_specs\.py$/)});
		expect(vi.mocked(detectSdk)).toHaveBeenCalledTimes(1);
		// flytekit, as detected: the module imports it, not union.
		expect(await readFile(result.specFile!, 'utf8')).toContain('flytekit.ImageSpec(');
		expect(titles).toContain('ImageSpec');
		expect(titles).not.toContain('flyte.Image');
		expect(lines).toContain('ImageSpec: started');
	}, 60_000);

	it('--sdk names it: nothing is detected', async () => {
		const {result} = await run('flytekit>=1.16\n', {sdk: 'flyte', pythonVersion: '3.12', packages: ['pandas']});
		expect(result).toMatchObject({ok: true, sdk: 'flyte'});
		expect(vi.mocked(detectSdk)).not.toHaveBeenCalled();
	}, 60_000);
});
