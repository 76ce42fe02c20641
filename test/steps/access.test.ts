// steps/: one journey step at a time, with scripted answers, the loopback Artifact Registry fake
// and, for builds, a real Docker engine; a file is named after the step it tests.
import {describe, expect, it} from 'vitest';
import {defaultFlags, type Flags} from '../../source/flags.js';
import {createAsker, type Prompter, type TextQuestion} from '../../source/flow/ask.js';
import type {JourneyEvent} from '../../source/flow/events.js';
import {repositoryName, type ArtifactRegistry} from '../../source/services/artifact-registry.js';
import {UsageError} from '../../source/services/errors.js';
import type {ProjectAnswers} from '../../source/services/store.js';
import {grantDataPlaneAccess} from '../../source/steps/access.js';
import type {StepContext} from '../../source/steps/context.js';
import type {FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {withFakeArtifactRegistry} from '../support/fake-client.js';
import {makeSandbox} from '../support/environment.js';
import {startFakeIam} from '../support/fake-iam.js';
import {loginOffline} from '../support/gcloud.js';
import {scriptedPerson} from '../support/scripted-person.js';

const PROJECT = 'acme-ml';
const LOCATION = 'us-east1';
const RESOURCE = repositoryName({project: PROJECT, location: LOCATION, repository: 'images'});
const SA = 'acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com';
const READER = 'roles/artifactregistry.reader';

let fake: FakeArtifactRegistry;
let registry: ArtifactRegistry;

withFakeArtifactRegistry((started, client) => {
	fake = started;
	registry = client;
});

const run = async (options: {flags?: Partial<Flags>; saved?: ProjectAnswers; person?: Prompter; env?: NodeJS.ProcessEnv} = {}) => {
	fake.addRepository(PROJECT, LOCATION, 'images');
	const events: JourneyEvent[] = [];
	const controller = new AbortController();
	const c: StepContext = {
		flags: {...defaultFlags(), ...options.flags},
		cwd: '/nonexistent',
		folder: '/nonexistent',
		ctx: {platform: {os: 'linux', arch: 'x64', env: options.env ?? {}, home: '/nonexistent'}, signal: controller.signal},
		ask: createAsker(options.person, controller.signal),
		report: event => events.push(event),
		saved: options.saved ?? {},
		sdk: 'union',
	};
	const outcome = await grantDataPlaneAccess(c, {project: PROJECT, location: LOCATION, repository: 'images', registry});
	return {
		outcome,
		events,
		codes: events.flatMap(event => (event.type === 'code' ? [event] : [])),
		notes: events.flatMap(event => (event.type === 'note' ? [event.text] : [])),
	};
};

const methods = () => fake.calls.map(call => call.method);

describe('data plane access, non-interactively', () => {
	it('--data-plane-sa grants Reader, shows the change and remembers the account', async () => {
		const {outcome, codes} = await run({flags: {dataPlaneSa: SA}});
		expect(outcome).toEqual({
			done: true,
			status: 'granted',
			serviceAccount: SA,
			saved: {sameProject: false, serviceAccount: SA, project: 'acme-gcp-dataplane'},
			detail: `${SA} may now pull from images (${READER})`,
		});
		expect(fake.policies.get(RESOURCE)!.bindings).toEqual([{role: READER, members: [`serviceAccount:${SA}`]}]);
		expect(codes).toEqual([
			{type: 'code', title: 'Changed the IAM policy of repository images', code: `${READER}:\n+ serviceAccount:${SA}\n(0 other bindings unchanged)`},
		]);
	});

	it('a rerun from the saved account finds it granted and sends nothing', async () => {
		fake.setPolicy(RESOURCE, [{role: READER, members: [`serviceAccount:${SA}`]}]);
		const {outcome} = await run({saved: {dataPlane: {sameProject: false, serviceAccount: SA}}});
		expect(outcome).toMatchObject({done: true, status: 'already', detail: `${SA} can already pull from images`});
		expect(methods()).toEqual(['GetIamPolicy']);
	});

	it('without a flag or a saved answer: skipped, saying which flag to pass', async () => {
		const {outcome} = await run();
		expect(outcome).toEqual({done: false, status: 'not-asked', detail: 'when the Union data plane runs in another project, pass --data-plane-sa EMAIL'});
		expect(methods()).toEqual([]);
	});

	it('an invalid --data-plane-sa is a usage error naming the flag', async () => {
		const error = await run({flags: {dataPlaneSa: 'worker@example.com'}}).catch((error: unknown) => error);
		expect(error).toBeInstanceOf(UsageError);
		expect(error).toMatchObject({
			flag: 'data-plane-sa',
			message: expect.stringContaining('--data-plane-sa "worker@example.com" is invalid: a service account email ends with .iam.gserviceaccount.com'),
		});
	});

	it('--dry-run plans the change (its diff and the command) and sends nothing', async () => {
		fake.setPolicy(RESOURCE, [{role: 'roles/artifactregistry.writer', members: ['user:ana@example.com']}]);
		const {outcome, events} = await run({flags: {dataPlaneSa: SA, dryRun: true}});
		expect(outcome).toMatchObject({done: false, status: 'dry-run'});
		expect(events.filter(event => event.type === 'plan' || event.type === 'code')).toEqual([
			{
				type: 'plan',
				change: {
					kind: 'grant-access',
					step: 'access',
					summary: `let ${SA} pull from images (${READER})`,
					content: `${READER}:\n+ serviceAccount:${SA}\n(1 other binding unchanged)`,
					command:
						`gcloud artifacts repositories add-iam-policy-binding images --project ` +
						`${PROJECT} --location ${LOCATION} --member serviceAccount:${SA} --role ${READER}`,
					data: {project: PROJECT, location: LOCATION, repository: 'images', member: `serviceAccount:${SA}`, role: READER},
				},
			},
		]);
		expect(methods()).toEqual(['GetIamPolicy']);
	});

	it('without permission to set the policy: goes on, with the role needed and the exact command for an admin', async () => {
		fake.deniedPermissions.add('artifactregistry.repositories.setIamPolicy');
		const {outcome, notes, codes} = await run({flags: {dataPlaneSa: SA}});
		const command =
			`gcloud artifacts repositories add-iam-policy-binding images --project ` +
			`${PROJECT} --location ${LOCATION} --member serviceAccount:${SA} --role ${READER}`;
		expect(outcome).toMatchObject({done: false, status: 'needs-admin', detail: `not granted: an admin must let ${SA} pull (command above)`});
		expect(outcome.fix).toContain(command);
		expect(notes).toEqual(['You may not change who can read repository images: that needs artifactregistry.repositories.setIamPolicy on it.']);
		expect(codes[0]!.code).toContain(command);
		expect(codes[0]!.code).toContain('roles/artifactregistry.admin');
	});
});

describe('data plane access, interactively', () => {
	it('same project: nothing to grant, and the answer is remembered', async () => {
		const person = scriptedPerson([[/^Does your Union data plane run in project acme-ml too\?$/, true]]);
		const {outcome} = await run({person: person.prompter});
		expect(outcome).toEqual({done: false, status: 'same-project', saved: {sameProject: true}, detail: 'the data plane runs in acme-ml: nothing to grant'});
		expect(person.asked[0]).toMatchObject({kind: 'confirm', default: true});
		expect(methods()).toEqual([]);
	});

	it('another project, by service account: shows the change, asks, grants', async () => {
		const person = scriptedPerson([
			[/^Does your Union data plane run/, false],
			[/^The data plane worker service account \(or the data plane project id\):$/, SA],
			[/^Let acme-flyteworker-prod@.* pull from images\?$/, true],
		]);
		const {outcome, codes} = await run({person: person.prompter});
		expect(outcome).toMatchObject({done: true, status: 'granted', saved: {sameProject: false, serviceAccount: SA}});
		expect(codes.map(code => code.title)).toEqual(['Change to the IAM policy of repository images']);
		expect(fake.policies.get(RESOURCE)!.bindings).toEqual([{role: READER, members: [`serviceAccount:${SA}`]}]);
	});

	it('another project, by project id: then asks for the worker account in it; declining sends nothing', async () => {
		const person = scriptedPerson([
			[/^Does your Union data plane run/, false],
			[/^The data plane worker service account/, 'acme-gcp-dataplane'],
			[/^The data plane worker service account email in acme-gcp-dataplane:$/, SA],
			[/^Let .* pull from images\?$/, false],
		]);
		const {outcome} = await run({person: person.prompter});
		expect(outcome).toMatchObject({done: false, status: 'declined', saved: {sameProject: false, serviceAccount: SA, project: 'acme-gcp-dataplane'}});
		expect(person.asked[2]).toMatchObject({placeholder: '<org>-flyteworker-<suffix>@acme-gcp-dataplane.iam.gserviceaccount.com'});
		expect(methods()).toEqual(['GetIamPolicy']);
	});

	it("another project, by project id: offers that project's flyteworker accounts (listed by the real gcloud), then grants the one chosen", async () => {
		const iam = await startFakeIam({
			'acme-gcp-dataplane': [
				SA,
				'acme-flytepropeller@acme-gcp-dataplane.iam.gserviceaccount.com',
				'acme-flyteworker-dev@acme-gcp-dataplane.iam.gserviceaccount.com',
			],
		});
		const sandbox = await makeSandbox();
		try {
			await loginOffline(sandbox);
			const person = scriptedPerson([
				[/^Does your Union data plane run/, false],
				[/^The data plane worker service account/, 'acme-gcp-dataplane'],
				[/^The data plane worker service account in acme-gcp-dataplane:$/, SA],
				[/^Let .* pull from images\?$/, true],
			]);
			const {outcome} = await run({person: person.prompter, env: {...sandbox.env, CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: iam.endpoint}});
			expect(person.asked[2]).toMatchObject({
				kind: 'select',
				choices: [
					{label: 'acme-flyteworker-dev@acme-gcp-dataplane.iam.gserviceaccount.com', value: 'acme-flyteworker-dev@acme-gcp-dataplane.iam.gserviceaccount.com'},
					{label: SA, value: SA},
					{label: 'Another account (type its email)'},
				],
			});
			expect(iam.listed).toEqual(['acme-gcp-dataplane']);
			expect(outcome).toMatchObject({done: true, status: 'granted', saved: {sameProject: false, serviceAccount: SA, project: 'acme-gcp-dataplane'}});
		} finally {
			await iam.stop();
			await sandbox.cleanup();
		}
	});

	it('a rerun of the known setup asks nothing: the saved account is checked, or the flag is named', async () => {
		const person = scriptedPerson([]);
		const known = {project: PROJECT, location: LOCATION, repository: 'images'};
		expect((await run({person: person.prompter, saved: known})).outcome).toMatchObject({status: 'not-asked'});
		fake.reset();
		fake.setPolicy(RESOURCE, [{role: READER, members: [`serviceAccount:${SA}`]}]);
		expect((await run({person: person.prompter, saved: {...known, dataPlane: {sameProject: false, serviceAccount: SA}}})).outcome).toMatchObject({
			status: 'already',
		});
		expect(person.asked).toEqual([]);
	});

	it('offers the saved answers as defaults, and checks what is typed', async () => {
		const person = scriptedPerson([
			[/^Does your Union data plane run/, false],
			[/^The data plane worker service account/, question => (question as TextQuestion).default!],
			[/^Let .* pull/, true],
		]);
		await run({person: person.prompter, saved: {dataPlane: {sameProject: false, serviceAccount: SA}}});
		expect(person.asked[0]).toMatchObject({default: false});
		const validate = (person.asked[1] as TextQuestion).validate!;
		expect(validate(SA)).toBeUndefined();
		expect(validate('acme-gcp-dataplane')).toBeUndefined();
		expect(validate('worker@example.com')).toMatch(/ends with \.iam\.gserviceaccount\.com/);
		expect(validate('Not A Project')).toBe('enter a service account email or a project id');
	});
});
