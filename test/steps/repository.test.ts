import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from 'vitest';
import {defaultFlags, type Flags} from '../../source/flags.js';
import {createAsker, type Choice, type Prompter, type SearchQuestion} from '../../source/flow/ask.js';
import type {JourneyEvent} from '../../source/flow/events.js';
import {ENDPOINT_ENV, openArtifactRegistry, repositoryName, type ArtifactRegistry} from '../../source/services/artifact-registry.js';
import {CancelledError, StepError, UsageError} from '../../source/services/errors.js';
import type {ProjectAnswers} from '../../source/services/store.js';
import type {StepContext} from '../../source/steps/context.js';
import {NEW_REPOSITORY, checkPushPermission, chooseRepository, isUnionRepository, validateRepositoryFlags} from '../../source/steps/repository.js';
import {formatBytes} from '../../source/format.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';
import {scriptedPerson} from '../support/scripted-person.js';

const PROJECT = 'acme-ml';
const LOCATION = 'us-east1';
const FAST = {retryDelaysMs: [1, 1, 1], operationPollDelaysMs: [5, 10]};
const TIMINGS = {enableRetryDelaysMs: [20, 50, 100], pageSize: 100};

let fake: FakeArtifactRegistry;
let sandbox: Sandbox;
let registry: ArtifactRegistry;

beforeAll(async () => {
	[fake, sandbox] = await Promise.all([startFakeArtifactRegistry(), makeSandbox()]);
	registry = await openArtifactRegistry({platform: {...sandbox.platform, env: {...sandbox.env, [ENDPOINT_ENV]: fake.endpoint}}}, FAST);
});

afterAll(async () => {
	await registry?.close();
	await fake?.stop();
	await sandbox?.cleanup();
});

afterEach(() => {
	fake.reset();
});

type Run = {events: JourneyEvent[]; notes: () => string[]; codes: () => string[]; controller: AbortController};

/** A StepContext over the sandbox: `person` answers when given (interactive), else nobody does. */
const context = (options: {flags?: Partial<Flags>; saved?: ProjectAnswers; person?: Prompter; env?: NodeJS.ProcessEnv} = {}): StepContext & Run => {
	const events: JourneyEvent[] = [];
	const controller = new AbortController();
	return {
		flags: {...defaultFlags(), ...options.flags},
		cwd: sandbox.project,
		folder: sandbox.project,
		ctx: {platform: {...sandbox.platform, env: options.env ?? sandbox.env}, signal: controller.signal},
		ask: createAsker(options.person, controller.signal),
		report: event => events.push(event),
		saved: options.saved ?? {},
		sdk: 'union',
		events,
		controller,
		notes: () => events.flatMap(event => (event.type === 'note' ? [event.text] : [])),
		codes: () => events.flatMap(event => (event.type === 'code' ? [`${event.title}\n${event.code}`] : [])),
	};
};

const choose = async (c: StepContext) => chooseRepository(c, {project: PROJECT, location: LOCATION, registry, timings: TIMINGS});
const stored = (id: string) => fake.repositories.get(repositoryName({project: PROJECT, location: LOCATION, repository: id}));
const methods = () => fake.calls.map(call => call.method);
const failure = async (promise: Promise<unknown>) =>
	promise.then(
		value => {
			throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
		},
		(error: unknown) => error,
	);

/** Reads a search question's pages the way the view does, noting when each arrived. */
const readPages = async (question: SearchQuestion) => {
	const pages: Choice[][] = [];
	for await (const page of question.pages) pages.push(page);
	return pages;
};

describe("Union's own repositories", () => {
	it('are recognised by label or name, marked in the list, and never preselected: "create a new repository" is, unless one is saved', async () => {
		fake.addRepository(PROJECT, LOCATION, 'flyte-registry');
		fake.addRepository(PROJECT, LOCATION, 'acme-union');
		fake.addRepository(PROJECT, LOCATION, 'fast-cache', {labels: {'managed-by': 'union-ai'}});
		fake.addRepository(PROJECT, LOCATION, 'union-images', {labels: {'managed-by': 'imagespec-gar'}});
		fake.addRepository(PROJECT, LOCATION, 'team-data');
		let pages: Choice[][] = [];
		const asked = async (saved?: string) => {
			const person = scriptedPerson([
				[
					/^Docker repository in/,
					async question => {
						pages = await readPages(question as SearchQuestion);
						return 'team-data';
					},
				],
			]);
			await choose(context({person: person.prompter, saved: saved ? {repository: saved} : {}}));
			return person.asked[0] as SearchQuestion;
		};

		expect((await asked()).default).toBe(NEW_REPOSITORY);
		const hints = Object.fromEntries(pages.flat().map(choice => [choice.value, choice.hint ?? '']));
		for (const union of ['flyte-registry', 'acme-union', 'fast-cache'])
			expect(hints[union], union).toMatch(/^Union's own: create one for your images · Docker/);
		for (const yours of ['union-images', 'team-data']) expect(hints[yours], yours).not.toContain("Union's own");
		expect((await asked('team-data')).default).toBe('team-data');
	});

	it('by these rules', () => {
		expect(isUnionRepository({id: 'union', labels: {}})).toBe(true);
		expect(isUnionRepository({id: 'acme-flyte', labels: {}})).toBe(true);
		expect(isUnionRepository({id: 'images', labels: {'union-org': 'acme'}})).toBe(true);
		expect(isUnionRepository({id: 'union-images', labels: {}})).toBe(false);
		expect(isUnionRepository({id: 'reunion', labels: {}})).toBe(false);
		expect(isUnionRepository({id: 'flyte-registry', labels: {'managed-by': 'imagespec-gar'}})).toBe(false);
	});
});

describe('selecting, non-interactively', () => {
	it('--repository names an existing Docker repository: used without a prompt or a create', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		expect(await choose(context({flags: {repository: 'images'}}))).toEqual({repository: 'images', created: false});
		expect(methods()).toEqual(['GetRepository']);
	});

	it('falls back to the saved repository, and names the flag when there is none', async () => {
		fake.addRepository(PROJECT, LOCATION, 'saved-one');
		expect(await choose(context({saved: {repository: 'saved-one'}}))).toEqual({repository: 'saved-one', created: false});
		const error = await failure(choose(context()));
		expect(error).toBeInstanceOf(UsageError);
		expect(error).toMatchObject({flag: 'repository', message: 'Missing --repository: Docker repository'});
	});

	it('refuses a repository that is not Docker', async () => {
		fake.addRepository(PROJECT, LOCATION, 'jars', {format: 'MAVEN'});
		const error = await failure(choose(context({flags: {repository: 'jars'}})));
		expect(error).toMatchObject({reason: 'NOT_DOCKER', message: `Repository jars in ${PROJECT} · ${LOCATION} holds MAVEN packages, not Docker images`});
	});

	it('creates a missing one with the settings from the flags, saying exactly what it creates', async () => {
		const c = context({
			flags: {repository: 'team-images', description: 'ML team', label: ['team=ml', 'env=dev'], immutableTags: true, cleanup: 'delete-untagged:14d'},
		});
		expect(await choose(c)).toEqual({repository: 'team-images', created: true});
		expect(stored('team-images')).toMatchObject({
			format: 'DOCKER',
			description: 'ML team',
			labels: {team: 'ml', env: 'dev', 'managed-by': 'imagespec-gar'},
			dockerConfig: {immutableTags: true},
			cleanupPolicies: {'imagespec-gar-delete-untagged': {action: 'DELETE', condition: {tagState: 'UNTAGGED', olderThan: {seconds: String(14 * 86_400)}}}},
		});
		expect(c.codes()).toEqual([
			[
				`Repository to create in ${PROJECT} · ${LOCATION}`,
				`name            projects/${PROJECT}/locations/${LOCATION}/repositories/team-images`,
				'format          Docker (standard repository)',
				'description     ML team',
				'labels          team=ml, env=dev, managed-by=imagespec-gar',
				'immutable tags  yes',
				'cleanup policy  delete untagged versions older than 14 days',
			].join('\n'),
		]);
	});

	it('creates with the defaults when no setting is given', async () => {
		expect(await choose(context({flags: {repository: 'plain'}}))).toEqual({repository: 'plain', created: true});
		expect(stored('plain')).toMatchObject({description: 'Union / Flyte images (created by imagespec-gar)', labels: {'managed-by': 'imagespec-gar'}});
		expect(Object.keys((stored('plain')!.cleanupPolicies as object | undefined) ?? {})).toEqual([]);
	});

	it('--no-create turns a missing repository into a clear failure, and creates nothing', async () => {
		const error = await failure(choose(context({flags: {repository: 'missing', create: false}})));
		expect(error).toBeInstanceOf(StepError);
		expect(error).toMatchObject({
			reason: 'NOT_FOUND',
			message: `Repository missing does not exist in ${PROJECT} · ${LOCATION} (or you cannot see it), and --no-create forbids creating it.`,
		});
		expect((error as StepError).fix).toContain(
			`gcloud artifacts repositories create missing --repository-format=docker --location ${LOCATION} --project ${PROJECT}`,
		);
		expect(methods()).toEqual(['GetRepository']);
	});

	it('an invalid name, label or cleanup is a usage error before any call', async () => {
		expect(() => validateRepositoryFlags({label: ['Team=ml']})).toThrow(UsageError);
		expect(() => validateRepositoryFlags({label: ['managed-by=x']})).toThrow('--label is invalid: managed-by is always imagespec-gar');
		expect(() => validateRepositoryFlags({label: [], cleanup: 'keep:none'})).toThrow('--cleanup "keep:none" is invalid: use none, keep:N');
		expect(() => validateRepositoryFlags({label: ['team=ml'], cleanup: 'keep:3'})).not.toThrow();
		const error = await failure(choose(context({saved: {repository: 'Bad_Name'}})));
		expect(error).toMatchObject({flag: 'repository', message: expect.stringContaining('lowercase letters, numbers, and hyphens')});
		expect(fake.calls).toEqual([]);
	});

	it('ALREADY_EXISTS while creating (a teammate was faster) is success for a Docker repository', async () => {
		// The repository appears between our get (missing) and our create.
		fake.failNext('GetRepository', {code: 5, message: 'Requested entity was not found.'});
		fake.addRepository(PROJECT, LOCATION, 'raced');
		const c = context({flags: {repository: 'raced'}});
		expect(await choose(c)).toEqual({repository: 'raced', created: false});
		expect(methods()).toEqual(['GetRepository', 'CreateRepository', 'GetRepository']);
		expect(c.notes()).toContain('Repository raced already existed (a Docker repository): using it.');
	});
});

describe('selecting, interactively', () => {
	it('lists page by page with the saved repository first, non-Docker ones disabled, each with its details', async () => {
		for (let index = 0; index < 250; index++)
			fake.addRepository(PROJECT, LOCATION, `repo-${String(index).padStart(3, '0')}`, {description: `team ${index}`, sizeBytes: index * 1024 * 1024});
		fake.addRepository(PROJECT, LOCATION, 'jars', {format: 'MAVEN', description: 'Java'});
		fake.addRepository(PROJECT, LOCATION, 'zz-saved', {description: 'the one from last time'});
		let callsWhenAsked = 0;
		let pages: Choice[][] = [];
		const person = scriptedPerson([
			[
				/^Docker repository in acme-ml · us-east1:/,
				async question => {
					// The question is on screen after one list call: later pages load while it is.
					callsWhenAsked = methods().filter(method => method === 'ListRepositories').length;
					pages = await readPages(question as SearchQuestion);
					return 'repo-007';
				},
			],
		]);
		const c = context({person: person.prompter, saved: {repository: 'zz-saved'}});
		expect(await choose(c)).toEqual({repository: 'repo-007', created: false});

		expect(callsWhenAsked).toBe(1);
		expect(methods().filter(method => method === 'ListRepositories')).toHaveLength(3);
		const question = person.asked[0] as SearchQuestion;
		expect(question).toMatchObject({
			kind: 'search',
			flag: 'repository',
			default: 'zz-saved',
			pinned: [{label: '+ Create a new repository', value: NEW_REPOSITORY}],
		});
		expect(pages.map(page => page.length)).toEqual([101, 100, 51]);
		const all = pages.flat();
		expect(all[0]).toEqual({
			label: 'zz-saved',
			value: 'zz-saved',
			hint: `Docker · ${LOCATION} · 0 B · the one from last time · last used`,
			keywords: 'the one from last time',
		});
		expect(all.filter(choice => choice.value === 'zz-saved')).toHaveLength(1);
		expect(all.find(choice => choice.value === 'jars')).toEqual({
			label: 'jars',
			value: 'jars',
			hint: `MAVEN, not Docker · ${LOCATION} · 0 B · Java`,
			keywords: 'Java',
			disabled: true,
		});
		expect(all.find(choice => choice.value === 'repo-012')?.hint).toBe(`Docker · ${LOCATION} · 12 MB · team 12`);
		// A choice from the list needs no second look-up and no create.
		expect(methods()).not.toContain('CreateRepository');
	});

	it('with no repository yet, goes straight to naming one, asks every setting, shows the plan and creates it', async () => {
		const person = scriptedPerson([
			[/^New repository name:/, 'ml-images'],
			[/^Description:/, 'ML images'],
			[/^Labels/, 'team=ml'],
			[/^Immutable tags/, true],
			[/^Cleanup policy:/, 'keep'],
			[/^How many recent versions/, '5'],
			[/^Create repository ml-images\?/, true],
		]);
		const c = context({person: person.prompter});
		expect(await choose(c)).toEqual({repository: 'ml-images', created: true});
		expect(person.left()).toBe(0);
		expect(person.asked[0]).toMatchObject({kind: 'text', default: 'union-images'});
		expect(c.notes()).toContain(`No repositories in ${PROJECT} · ${LOCATION} yet: name the one to create.`);
		expect(c.codes()[0]).toContain('cleanup policy  keep the 5 most recent versions of each image, delete older ones');
		expect(stored('ml-images')).toMatchObject({
			description: 'ML images',
			labels: {team: 'ml', 'managed-by': 'imagespec-gar'},
			dockerConfig: {immutableTags: true},
		});
	});

	it('offers a named repository that does not exist for creation; declining creates nothing', async () => {
		const person = scriptedPerson([
			[/^Description:/, 'x'],
			[/^Labels/, ''],
			[/^Immutable tags/, false],
			[/^Cleanup policy:/, 'none'],
			[/^Create repository new-one\?/, false],
		]);
		const c = context({person: person.prompter, flags: {repository: 'new-one'}});
		const error = await failure(choose(c));
		expect(error).toMatchObject({reason: 'NOT_CREATED', message: `Repository new-one was not created, and it does not exist in ${PROJECT} · ${LOCATION}.`});
		expect(c.notes()).toContain(`Repository new-one does not exist in ${PROJECT} · ${LOCATION} yet.`);
		expect(methods()).toEqual(['GetRepository']);
	});

	it('IAM_PERMISSION_DENIED on create: names the permission and role, and offers an existing repository instead', async () => {
		fake.addRepository(PROJECT, LOCATION, 'existing');
		fake.deniedPermissions.add('artifactregistry.repositories.create');
		const person = scriptedPerson([
			[/^Docker repository in/, NEW_REPOSITORY],
			[/^New repository name:/, 'mine'],
			[/^Description:/, 'x'],
			[/^Labels/, ''],
			[/^Immutable tags/, false],
			[/^Cleanup policy:/, 'none'],
			[/^Create repository mine\?/, true],
			[/^Choose an existing repository instead\?/, true],
			[/^Docker repository in/, 'existing'],
		]);
		const c = context({person: person.prompter});
		expect(await choose(c)).toEqual({repository: 'existing', created: false});
		expect(c.notes()).toContain(
			`You do not have permission artifactregistry.repositories.create in project ${PROJECT}, which is needed ` +
				`to create repository ${'mine'} in ${LOCATION}.\n→ Ask a project owner to grant you Artifact Registry ` +
				`Administrator (roles/artifactregistry.admin) on project ${PROJECT}, or pick an existing repository.`,
		);
		// The list was fetched once and shown twice.
		expect(methods().filter(method => method === 'ListRepositories')).toHaveLength(1);
		expect(stored('mine')).toBeUndefined();
	});

	it('IAM_PERMISSION_DENIED on create, non-interactively: exit with the permission and the role', async () => {
		fake.deniedPermissions.add('artifactregistry.repositories.create');
		const error = await failure(choose(context({flags: {repository: 'mine'}})));
		expect(error).toMatchObject({reason: 'IAM_PERMISSION_DENIED', fix: expect.stringContaining('roles/artifactregistry.admin')});
	});

	it('PERMISSION_DENIED on get: "does not exist or you cannot see it", with both fixes', async () => {
		fake.deniedPermissions.add('artifactregistry.repositories.get');
		const error = await failure(choose(context({flags: {repository: 'hidden'}})));
		expect(error).toMatchObject({reason: 'NOT_FOUND', message: expect.stringContaining('it does not exist or you cannot see it')});
		expect((error as StepError).fix).toMatch(/^If it exists: .*roles\/artifactregistry\.reader.*\nIf it does not: .*create it/);
		expect(methods()).toEqual(['GetRepository']);
	});

	it('UNAVAILABLE is retried with backoff, then a clear message', async () => {
		fake.failNext('ListRepositories', {code: 14, message: 'connection reset'}, 2);
		fake.addRepository(PROJECT, LOCATION, 'images');
		const person = scriptedPerson([[/^Docker repository in/, 'images']]);
		expect(await choose(context({person: person.prompter}))).toEqual({repository: 'images', created: false});
		fake.failNext('GetRepository', {code: 4, message: 'deadline'}, 10);
		const error = await failure(choose(context({flags: {repository: 'images'}})));
		expect(error).toMatchObject({reason: 'DEADLINE_EXCEEDED', fix: expect.stringMatching(/network/)});
		expect(methods().filter(method => method === 'GetRepository')).toHaveLength(4);
	});
});

describe('the Artifact Registry API is disabled', () => {
	it('non-interactively: fails with the enable command and the activation URL', async () => {
		fake.disabledProjects.add(PROJECT);
		const error = await failure(choose(context({flags: {repository: 'images'}})));
		expect(error).toMatchObject({reason: 'SERVICE_DISABLED', message: `Artifact Registry API is disabled in project ${PROJECT}.`});
		expect((error as StepError).fix).toMatch(
			new RegExp(
				`^gcloud services enable artifactregistry\\.googleapis\\.com --project ${PROJECT}\\nor enable it at https://console\\.developers\\.google\\.com/\\S+$`,
			),
		);
	});

	it('interactively: offers to enable it, runs gcloud services enable, then retries and lists', async () => {
		await loginOffline(sandbox);
		fake.disabledProjects.add(PROJECT);
		fake.addRepository(PROJECT, LOCATION, 'images');
		const person = scriptedPerson([
			[/^Enable it now\? \(runs: gcloud services enable artifactregistry\.googleapis\.com --project acme-ml\)$/, true],
			[/^Docker repository in/, 'images'],
		]);
		// Real gcloud, sent to the fake's Service Usage API.
		const c = context({person: person.prompter, env: {...sandbox.env, CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE: fake.serviceUsageUrl}});
		expect(await choose(c)).toEqual({repository: 'images', created: false});
		expect(fake.enabled).toEqual([`${PROJECT}/artifactregistry.googleapis.com`]);
		expect(c.notes()).toEqual([`The Artifact Registry API is disabled in project ${PROJECT}.`, `Enabled the Artifact Registry API in project ${PROJECT}.`]);
		expect(methods().filter(method => method === 'ListRepositories')).toHaveLength(2);
	});

	it('interactively, declined: fails with the command', async () => {
		fake.disabledProjects.add(PROJECT);
		const person = scriptedPerson([[/^Enable it now\?/, false]]);
		const error = await failure(choose(context({person: person.prompter})));
		expect(error).toMatchObject({reason: 'SERVICE_DISABLED', fix: expect.stringContaining(`--project ${PROJECT}`)});
		expect(fake.enabled).toEqual([]);
	});
});

describe('waiting for the create', () => {
	it('waits on a pending operation, showing that it waits', async () => {
		fake.createOperation = {polls: 2};
		const c = context({flags: {repository: 'slow'}});
		expect(await choose(c)).toEqual({repository: 'slow', created: true});
		const details = c.events.flatMap(event => (event.type === 'step' ? [event.detail] : []));
		expect(details).toEqual([`Creating slow in ${LOCATION}…`, `Creating slow in ${LOCATION}: waiting for Artifact Registry to finish…`]);
		expect(methods()).toEqual(['GetRepository', 'CreateRepository', 'GetOperation', 'GetOperation']);
	});

	it('an operation that fails is a step failure with its message', async () => {
		fake.createOperation = {polls: 1, error: {code: 3, message: 'Invalid cleanup policy'}};
		const error = await failure(choose(context({flags: {repository: 'broken'}})));
		expect(error).toMatchObject({reason: 'INVALID_ARGUMENT', message: 'Could not create repository broken in us-east1: Invalid cleanup policy'});
	});

	it('Ctrl-C while waiting: says the repository may still be created, and a rerun finds it', async () => {
		fake.createOperation = {polls: 1_000_000};
		const c = context({flags: {repository: 'slow'}});
		const pending = failure(choose(c));
		await vi.waitFor(() => expect(methods()).toContain('GetOperation'));
		c.controller.abort();
		expect(await pending).toBeInstanceOf(CancelledError);
		expect(c.notes()).toEqual([
			`Stopped waiting: repository slow may still be created in ${PROJECT} · ${LOCATION}. A rerun finds it (imagespec-gar --repository slow).`,
		]);

		// Google finishes it on its own; the rerun uses it.
		const operation = fake.calls.find(call => call.method === 'GetOperation')!.request.name as string;
		fake.createOperation = {};
		fake.addRepository(PROJECT, LOCATION, 'slow');
		expect(operation).toMatch(/operations\//);
		expect(await choose(context({saved: {repository: 'slow'}}))).toEqual({repository: 'slow', created: false});
	});
});

describe('checkPushPermission', () => {
	const where = {project: PROJECT, location: LOCATION, repository: 'images', account: 'ana@example.com'};

	it('passes when the account may upload, asking only for uploadArtifacts', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		expect(await checkPushPermission(context(), registry, where)).toBe(true);
		expect(fake.calls).toEqual([
			{
				method: 'TestIamPermissions',
				request: {
					resource: repositoryName({project: PROJECT, location: LOCATION, repository: 'images'}),
					permissions: ['artifactregistry.repositories.uploadArtifacts'],
				},
			},
		]);
	});

	it('says so before any build when it may not, with the grant an admin can run', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.deniedPermissions.add('artifactregistry.repositories.uploadArtifacts');
		const error = await failure(checkPushPermission(context(), registry, where));
		expect(error).toMatchObject({
			reason: 'NO_PUSH_PERMISSION',
			message:
				`You may not push to repository images in ${PROJECT} · ${LOCATION}: you lack ` +
				`artifactregistry.repositories.uploadArtifacts, so the push would fail. Nothing was built.`,
		});
		expect((error as StepError).fix).toContain(
			`gcloud artifacts repositories add-iam-policy-binding images --project ${PROJECT} ` +
				`--location ${LOCATION} --member user:ana@example.com --role roles/artifactregistry.writer`,
		);
	});

	it('only warns when the check itself cannot run', async () => {
		fake.failNext('TestIamPermissions', {code: 13, message: 'backend error'});
		const c = context();
		expect(await checkPushPermission(c, registry, {...where, account: 'ci@p.iam.gserviceaccount.com'})).toBe(false);
		expect(c.notes()).toEqual([
			'Could not check whether you may push to images (Could not check your permissions on repository images: backend error); trying the push anyway.',
		]);
	});
});

describe('formatBytes', () => {
	it('reads like a person would write it', () => {
		expect([0, 1023, 1024, 12 * 1024 * 1024, 1.5 * 1024 ** 3, 250 * 1024 ** 4].map(formatBytes)).toEqual([
			'0 B',
			'1023 B',
			'1.0 KB',
			'12 MB',
			'1.5 GB',
			'250 TB',
		]);
	});
});
