// Union's remote image builder's IAM on the repository: the real Artifact Registry client against
// the loopback fake, and the real gcloud (isolated config) listing the data plane's accounts.
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {defaultFlags, type Flags} from '../../source/flags.js';
import {createAsker, type Prompter, type TextQuestion} from '../../source/flow/ask.js';
import type {JourneyEvent} from '../../source/flow/events.js';
import {repositoryName, type ArtifactRegistry} from '../../source/services/artifact-registry.js';
import type {ProjectAnswers, SavedDataPlane} from '../../source/services/store.js';
import {flyteBuildsRemotely, grantBuilderAccess, remoteBuilderConfigured} from '../../source/steps/builder-access.js';
import type {StepContext} from '../../source/steps/context.js';
import type {FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {withFakeArtifactRegistry} from '../support/fake-client.js';
import {makeSandbox} from '../support/environment.js';
import {startFakeIam} from '../support/fake-iam.js';
import {loginOffline} from '../support/gcloud.js';
import {scriptedPerson} from '../support/scripted-person.js';
import {BUILDER, DATA_PLANE, PROXY, READER, WORKER, WRITER} from '../fixtures/union-accounts.js';

const PROJECT = 'acme-ml';
const LOCATION = 'us-east1';
const RESOURCE = repositoryName({project: PROJECT, location: LOCATION, repository: 'images'});
const ELSEWHERE: SavedDataPlane = {sameProject: false, serviceAccount: WORKER, project: DATA_PLANE};

let fake: FakeArtifactRegistry;
let registry: ArtifactRegistry;

withFakeArtifactRegistry((started, client) => {
	fake = started;
	registry = client;
});

const context = (options: {flags?: Partial<Flags>; saved?: ProjectAnswers; person?: Prompter; env?: NodeJS.ProcessEnv; folder?: string} = {}) => {
	const events: JourneyEvent[] = [];
	const controller = new AbortController();
	const c: StepContext = {
		flags: {...defaultFlags(), ...options.flags},
		cwd: options.folder ?? '/nonexistent',
		folder: options.folder ?? '/nonexistent',
		ctx: {platform: {os: 'linux', arch: 'x64', env: options.env ?? {PATH: ''}, home: '/nonexistent'}, signal: controller.signal},
		ask: createAsker(options.person, controller.signal),
		report: event => events.push(event),
		saved: options.saved ?? {},
		sdk: 'union',
	};
	return {c, events};
};

const run = async (known: SavedDataPlane | undefined, options: Parameters<typeof context>[0] = {}) => {
	fake.addRepository(PROJECT, LOCATION, 'images');
	const {c, events} = context(options);
	const outcome = await grantBuilderAccess(c, {project: PROJECT, location: LOCATION, repository: 'images', registry}, known);
	return {outcome, events};
};

const methods = () => fake.calls.map(call => call.method);
const grantCommand = (member: string, role: string) =>
	`gcloud artifacts repositories add-iam-policy-binding images --project ${PROJECT} --location ${LOCATION} --member ${member} --role ${role}`;

describe("Union's remote builder: Writer for its account, Reader for the operator proxy", () => {
	it('with the accounts as flags: grants both (read-modify-write), keeps every other binding, and remembers them', async () => {
		fake.setPolicy(RESOURCE, [{role: READER, members: [`serviceAccount:${WORKER}`]}]);
		const {outcome, events} = await run(ELSEWHERE, {flags: {builderSa: BUILDER, operatorProxySa: PROXY}});
		expect(outcome.status).toBe('checked');
		expect(outcome.grants).toEqual([
			{account: 'builder', serviceAccount: BUILDER, role: WRITER, status: 'granted', detail: `${BUILDER} may now push to images (${WRITER})`},
			{account: 'operator-proxy', serviceAccount: PROXY, role: READER, status: 'granted', detail: `${PROXY} may now pull from images (${READER})`},
		]);
		expect(fake.policies.get(RESOURCE)!.bindings).toEqual([
			{role: READER, members: [`serviceAccount:${WORKER}`, `serviceAccount:${PROXY}`]},
			{role: WRITER, members: [`serviceAccount:${BUILDER}`]},
		]);
		expect(outcome.saved).toEqual({...ELSEWHERE, builderServiceAccount: BUILDER, operatorProxyServiceAccount: PROXY});
		expect(events.filter(event => event.type === 'code').map(event => (event as {title: string}).title)).toEqual([
			'Changed the IAM policy of repository images',
			'Changed the IAM policy of repository images',
		]);
	});

	it('a rerun from the saved accounts finds both granted and writes nothing', async () => {
		fake.setPolicy(RESOURCE, [
			{role: WRITER, members: [`serviceAccount:${BUILDER}`]},
			{role: READER, members: [`serviceAccount:${PROXY}`]},
		]);
		const {outcome} = await run({...ELSEWHERE, builderServiceAccount: BUILDER, operatorProxyServiceAccount: PROXY});
		expect(outcome.grants.map(grant => grant.status)).toEqual(['already', 'already']);
		expect(outcome.saved).toBeUndefined();
		expect(methods()).toEqual(['GetIamPolicy', 'GetIamPolicy']);
	});

	it('Reader on the builder is not enough: Writer is added', async () => {
		fake.setPolicy(RESOURCE, [{role: READER, members: [`serviceAccount:${BUILDER}`, `serviceAccount:${PROXY}`]}]);
		const {outcome} = await run({...ELSEWHERE, builderServiceAccount: BUILDER, operatorProxyServiceAccount: PROXY});
		expect(outcome.grants.map(grant => [grant.account, grant.status])).toEqual([
			['builder', 'granted'],
			['operator-proxy', 'already'],
		]);
		expect(fake.policies.get(RESOURCE)!.bindings).toContainEqual({role: WRITER, members: [`serviceAccount:${BUILDER}`]});
	});

	it("the data plane's own project: nothing to grant, nothing read (Union's docs: same-project access is there by default)", async () => {
		const {outcome} = await run({sameProject: true});
		expect(outcome).toEqual({status: 'same-project', grants: [], detail: "Union's builder runs in acme-ml with the data plane: nothing to grant"});
		expect(methods()).toEqual([]);
	});

	it('nothing known and no flags: not asked, naming the flags to pass', async () => {
		const {outcome} = await run(undefined);
		expect(outcome).toEqual({
			status: 'not-asked',
			grants: [],
			detail: 'when the Union data plane runs in another project, pass --builder-sa and --operator-proxy-sa',
		});
		expect(methods()).toEqual([]);
	});

	it('one account known: that one is checked, the other named as the flag to pass', async () => {
		const {outcome} = await run(ELSEWHERE, {flags: {builderSa: BUILDER}});
		expect(outcome.grants.map(grant => grant.account)).toEqual(['builder']);
		expect(outcome.detail).toMatch(/not checked: pass --operator-proxy-sa$/);
	});

	it('--dry-run: each missing grant is planned in the build step, with its diff and command; nothing is written', async () => {
		const {outcome, events} = await run(ELSEWHERE, {flags: {builderSa: BUILDER, operatorProxySa: PROXY, dryRun: true}});
		expect(outcome.grants.map(grant => grant.status)).toEqual(['dry-run', 'dry-run']);
		const planned = events.flatMap(event => (event.type === 'plan' ? [event.change] : []));
		expect(planned).toEqual([
			{
				kind: 'grant-access',
				step: 'build',
				summary: `let ${BUILDER} push to images (${WRITER})`,
				content: `${WRITER}:\n+ serviceAccount:${BUILDER}\n(0 other bindings unchanged)`,
				command: grantCommand(`serviceAccount:${BUILDER}`, WRITER),
				data: {project: PROJECT, location: LOCATION, repository: 'images', member: `serviceAccount:${BUILDER}`, role: WRITER},
			},
			expect.objectContaining({step: 'build', summary: `let ${PROXY} pull from images (${READER})`, command: grantCommand(`serviceAccount:${PROXY}`, READER)}),
		]);
		// Each account: the check, then the grant's own read-modify-write stops before the write.
		expect(methods()).toEqual(['GetIamPolicy', 'GetIamPolicy', 'GetIamPolicy', 'GetIamPolicy']);
	});

	it('without the right to change the policy: the run goes on, each grant carrying the command an admin runs', async () => {
		fake.deniedPermissions.add('artifactregistry.repositories.setIamPolicy');
		const {outcome, events} = await run(ELSEWHERE, {flags: {builderSa: BUILDER, operatorProxySa: PROXY}});
		expect(outcome.grants.map(grant => [grant.status, grant.detail])).toEqual([
			['needs-admin', `not granted: an admin must let ${BUILDER} push (command above)`],
			['needs-admin', `not granted: an admin must let ${PROXY} pull (command above)`],
		]);
		expect(outcome.grants[0]!.fix).toContain(grantCommand(`serviceAccount:${BUILDER}`, WRITER));
		expect(outcome.grants[1]!.fix).toContain(grantCommand(`serviceAccount:${PROXY}`, READER));
		expect(events.filter(event => event.type === 'note').map(event => (event as {text: string}).text)).toEqual([
			// No gcloud on this PATH: the project's own grants cannot be read, and that is said once.
			'The IAM policy of project acme-ml could not be read (that needs resourcemanager.projects.getIamPolicy): ' +
				"a role granted on the whole project would not show, so only repository images's policy was checked.",
			'You may not change who can read repository images: that needs artifactregistry.repositories.setIamPolicy on it.',
			'You may not change who can read repository images: that needs artifactregistry.repositories.setIamPolicy on it.',
		]);
	});

	it("interactively: picks the builder from the data plane's userflyterol accounts and the proxy from all of them (the real gcloud lists), asks before each grant", async () => {
		const iam = await startFakeIam({[DATA_PLANE]: [WORKER, BUILDER, PROXY, `acme-userflyterol-dev@${DATA_PLANE}.iam.gserviceaccount.com`]});
		const sandbox = await makeSandbox();
		try {
			await loginOffline(sandbox);
			const person = scriptedPerson([
				[/^The remote image builder \(the data plane's user role\) service account in acme-gcp-dataplane:$/, BUILDER],
				[/^Let acme-userflyterol-prod@.* push to images\?$/, true],
				[/^The operator proxy service account in acme-gcp-dataplane:$/, PROXY],
				[/^Let acme-backend-prod@.* pull from images\?$/, false],
			]);
			const {outcome, events} = await run(ELSEWHERE, {person: person.prompter, env: {...sandbox.env, CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: iam.endpoint}});
			// Before the first question: why these accounts, and what they need.
			expect(events[0]).toEqual({
				type: 'note',
				level: 'info',
				text:
					"Union's remote builder pushes this image as the data plane's user role account, and the operator proxy reads it: " +
					'with the data plane in acme-gcp-dataplane, they need Artifact Registry Writer and Reader on images ' +
					'(Union\'s docs: Image Builder, "GCP cross project access").',
			});
			expect(outcome.detail).toBe("Union's builder: Writer granted; operator proxy: Reader declined");
			expect(person.asked[0]).toMatchObject({
				kind: 'select',
				choices: [{value: `acme-userflyterol-dev@${DATA_PLANE}.iam.gserviceaccount.com`}, {value: BUILDER}, {label: 'Another account (type its email)'}],
			});
			// Union documents no name for the operator proxy's account: every account of the project is offered.
			expect((person.asked[2] as {choices: Array<{value: string}>}).choices.map(choice => choice.value).slice(0, 4)).toEqual([
				PROXY,
				`acme-flyteworker-prod@${DATA_PLANE}.iam.gserviceaccount.com`,
				`acme-userflyterol-dev@${DATA_PLANE}.iam.gserviceaccount.com`,
				BUILDER,
			]);
			expect(outcome.grants.map(grant => [grant.account, grant.status])).toEqual([
				['builder', 'granted'],
				['operator-proxy', 'declined'],
			]);
			expect(outcome.grants[1]!.fix).toBe(grantCommand(`serviceAccount:${PROXY}`, READER));
			expect(events.filter(event => event.type === 'code').at(-1)).toEqual({
				type: 'code',
				title: 'Not granted: until this runs, the operator proxy cannot pull from images',
				code: grantCommand(`serviceAccount:${PROXY}`, READER),
			});
			expect(fake.policies.get(RESOURCE)!.bindings).toEqual([{role: WRITER, members: [`serviceAccount:${BUILDER}`]}]);
			expect(iam.listed).toEqual([DATA_PLANE, DATA_PLANE]);
		} finally {
			await iam.stop();
			await sandbox.cleanup();
		}
	});

	it("a role on the whole project (read by the real gcloud) covers the repository: nothing is offered; the project's policy is read once", async () => {
		const iam = await startFakeIam({}, {[PROJECT]: [{role: 'roles/artifactregistry.admin', members: [`serviceAccount:${BUILDER}`]}]});
		const sandbox = await makeSandbox();
		try {
			await loginOffline(sandbox);
			const env = {...sandbox.env, CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER: iam.endpoint};
			const {outcome, events} = await run(ELSEWHERE, {flags: {builderSa: BUILDER, operatorProxySa: PROXY}, env});
			expect(outcome.grants.map(grant => [grant.account, grant.status, grant.detail])).toEqual([
				['builder', 'already', `${BUILDER} may push to images (roles/artifactregistry.admin on project ${PROJECT})`],
				['operator-proxy', 'granted', `${PROXY} may now pull from images (${READER})`],
			]);
			expect(fake.policies.get(RESOURCE)!.bindings).toEqual([{role: READER, members: [`serviceAccount:${PROXY}`]}]);
			expect(iam.policiesRead).toEqual([PROJECT]);
			expect(events.some(event => event.type === 'note' && event.text.includes('could not be read'))).toBe(false);
		} finally {
			await iam.stop();
			await sandbox.cleanup();
		}
	});

	it('interactively with nothing to list: the accounts are typed; the operator proxy may be skipped (empty)', async () => {
		const person = scriptedPerson([
			[/^The remote image builder .* email in acme-gcp-dataplane:$/, BUILDER],
			[/^Let .* push to images\?$/, true],
			[/^The operator proxy service account email in acme-gcp-dataplane \(empty: skip\):$/, ''],
		]);
		const {outcome} = await run(ELSEWHERE, {person: person.prompter});
		expect(person.asked[0]).toMatchObject({placeholder: `<org>-userflyterol-<suffix>@${DATA_PLANE}.iam.gserviceaccount.com`});
		const validate = (person.asked[2] as TextQuestion).validate!;
		expect(validate('')).toBeUndefined();
		expect(validate('proxy@example.com')).toMatch(/ends with \.iam\.gserviceaccount\.com/);
		expect(outcome.grants.map(grant => grant.account)).toEqual(['builder']);
		expect(outcome.detail).toMatch(/not checked: pass --operator-proxy-sa$/);
	});
});

describe('which runs use the remote builder', () => {
	it("Flyte 2: --builder union, flyte's image.builder: remote, or no flyte CLI here; the local builder otherwise", async () => {
		const folder = await mkdtemp(path.join(tmpdir(), 'builder-access-'));
		const bin = path.join(folder, 'bin');
		try {
			await mkdir(bin);
			await writeFile(path.join(bin, 'flyte'), '#!/bin/sh\n', {mode: 0o755});
			const withCli = {folder, env: {PATH: bin}};
			expect(await flyteBuildsRemotely(context({...withCli, flags: {builder: 'union'}}).c)).toBe(true);
			expect(await flyteBuildsRemotely(context({...withCli, flags: {builder: 'local'}}).c)).toBe(false);
			expect(await flyteBuildsRemotely(context(withCli).c)).toBe(false);
			expect(await flyteBuildsRemotely(context({folder, env: {PATH: ''}}).c)).toBe(true);
			await writeFile(path.join(folder, 'config.yaml'), 'image:\n  builder: remote\n');
			expect(await flyteBuildsRemotely(context(withCli).c)).toBe(true);
			// doctor and export: the same config in a Flyte 2 project, or a saved builder="union".
			const platform = {os: 'linux' as const, arch: 'x64', env: {}, home: '/nonexistent'};
			expect(await remoteBuilderConfigured({sdk: 'flyte'}, [], {folder, platform})).toBe(true);
			expect(await remoteBuilderConfigured({sdk: 'union'}, [], {folder, platform})).toBe(false);
			expect(await remoteBuilderConfigured({sdk: 'union'}, [{builder: 'union'}], {folder, platform})).toBe(true);
			expect(await remoteBuilderConfigured({sdk: 'union', builder: 'local'}, [{builder: 'union'}], {folder, platform})).toBe(false);
		} finally {
			await rm(folder, {recursive: true, force: true});
		}
	});
});
