// flow/: the journey's middle, driven with scripted answers against the fakes: where an answer comes
// from, the rerun menu, the event reducer's state, and a --dry-run plan applied.
import {existsSync} from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {defaultFlags, type Flags} from '../../source/flags.js';
import {createAsker, type Prompter} from '../../source/flow/ask.js';
import type {JourneyEvent} from '../../source/flow/events.js';
import {runJourney} from '../../source/flow/journey.js';
import {planThenApply} from '../../source/flow/plan.js';
import {openStore} from '../../source/services/store.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';
import {scriptedPerson} from '../support/scripted-person.js';

const SA = 'acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com';
const NAME = 'projects/acme-ml/locations/us-east1/repositories/ml-images';

let fake: FakeArtifactRegistry;
let sandbox: Sandbox;

beforeAll(async () => {
	fake = await startFakeArtifactRegistry();
	sandbox = await makeSandbox({env: {IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: '127.0.0.1:5999'}});
	await loginOffline(sandbox);
}, 60_000);

afterAll(async () => {
	await fake?.stop();
	await sandbox?.cleanup();
});

const flags: Flags = {
	...defaultFlags(),
	dryRun: true,
	build: false,
	...{project: 'acme-ml', location: 'us-east1', repository: 'ml-images', description: 'ML', label: ['team=ml'], immutableTags: false, cleanup: 'none'},
	...{dataPlaneSa: SA, image: 'trainer', pythonVersion: '3.12', baseImage: 'python:3.12-slim', packages: ['pandas']},
};

describe('an interactive --dry-run ends on "Apply these changes?"', () => {
	it('yes applies the plan with the answers given once: nobody is asked twice, and the changes are made', async () => {
		const person = scriptedPerson([
			[/^Set more options/, false],
			[/^Apply these changes\?/, true],
		]);
		const controller = new AbortController();
		const store = await openStore({folder: sandbox.project, platform: sandbox.platform});
		const events: JourneyEvent[] = [];
		const run = async (prompter: Prompter, dryRun: boolean) =>
			runJourney({
				flags: {...flags, dryRun},
				cwd: sandbox.project,
				ctx: {platform: sandbox.platform, signal: controller.signal},
				ask: createAsker(prompter, controller.signal),
				report: event => events.push(event),
				store,
			});
		let shown: string[] = [];
		const result = await planThenApply(person.prompter, controller.signal, run, planned => {
			shown = (planned.plan ?? []).map(change => change.kind);
			// When the plan is shown, nothing has been made yet.
			expect(fake.repositories.has(NAME)).toBe(false);
			expect(existsSync(path.join(sandbox.project, 'image_specs.py'))).toBe(false);
		});

		expect(shown).toEqual(['create-repository', 'grant-access', 'configure-docker', 'write-file', 'save-answers']);
		expect(person.left()).toBe(0);
		expect(result).toMatchObject({ok: true, repositoryCreated: true, dataPlaneAccess: {status: 'granted'}});
		expect(result.plan).toBeUndefined();
		expect(fake.repositories.get(NAME)).toMatchObject({description: 'ML', labels: {team: 'ml', 'managed-by': 'imagespec-gar'}});
		expect(fake.policies.get(NAME)?.bindings).toEqual([{role: 'roles/artifactregistry.reader', members: [`serviceAccount:${SA}`]}]);
		expect(existsSync(path.join(sandbox.project, 'image_specs.py'))).toBe(true);
		expect(store.load()).toMatchObject({project: 'acme-ml', repository: 'ml-images'});
	}, 240_000);

	it('no leaves everything as it was', async () => {
		fake.reset();
		const person = scriptedPerson([
			[/^Set more options/, false],
			[/^Apply these changes\?/, false],
		]);
		const controller = new AbortController();
		const store = await openStore({folder: path.join(sandbox.root, 'elsewhere'), platform: sandbox.platform});
		const run = async (prompter: Prompter, dryRun: boolean) =>
			runJourney({
				flags: {...flags, dryRun, repository: 'other'},
				cwd: sandbox.project,
				ctx: {platform: sandbox.platform, signal: controller.signal},
				ask: createAsker(prompter, controller.signal),
				report() {},
				store,
			});
		const result = await planThenApply(person.prompter, controller.signal, run, () => undefined);
		expect(result).toMatchObject({ok: true, dryRun: true});
		expect(person.left()).toBe(0);
		expect(fake.calls.map(call => call.method)).not.toContain('CreateRepository');
		expect(store.load()).toEqual({});
	}, 240_000);
});
