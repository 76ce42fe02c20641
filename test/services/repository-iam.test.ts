import {describe, expect, it} from 'vitest';
import {repositoryName, type ArtifactRegistry} from '../../source/services/artifact-registry.js';
import {StepError} from '../../source/services/errors.js';
import {accountAccess, grantOnRepository, validateServiceAccount, withMember} from '../../source/services/repository-iam.js';
import type {FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {withFakeArtifactRegistry} from '../support/fake-client.js';

const PROJECT = 'acme-ml';
const LOCATION = 'us-east1';
const WHERE = {project: PROJECT, location: LOCATION, repository: 'images'};
const RESOURCE = repositoryName({project: PROJECT, location: LOCATION, repository: 'images'});
const SA = 'acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com';
const MEMBER = `serviceAccount:${SA}`;
const READER = 'roles/artifactregistry.reader';
const FAST = {conflictRetryDelaysMs: [1, 1, 1]};

let fake: FakeArtifactRegistry;
let registry: ArtifactRegistry;

withFakeArtifactRegistry((started, client) => {
	fake = started;
	registry = client;
});

const methods = () => fake.calls.map(call => call.method);
const policyNow = () => fake.policies.get(RESOURCE)?.bindings;
const failure = async (promise: Promise<unknown>) =>
	promise.then(
		value => {
			throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
		},
		(error: unknown) => error,
	);

/** Bindings of a real-looking policy: other roles, a conditional reader binding, a reader binding with someone else. */
const busyPolicy = () => [
	{role: 'roles/artifactregistry.writer', members: ['user:ana@example.com', 'group:ml@example.com']},
	{
		role: READER,
		members: ['serviceAccount:ci@acme-ml.iam.gserviceaccount.com'],
		condition: {expression: 'request.time < timestamp("2030-01-01T00:00:00Z")', title: 'until 2030'},
	},
	{role: READER, members: ['user:bob@example.com']},
	{role: 'roles/artifactregistry.repoAdmin', members: ['user:admin@example.com']},
];

describe('grantOnRepository (Reader for the data plane), against the fake', () => {
	it('grants into an empty policy: one read, one write with the etag it read', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		const outcome = await grantOnRepository(registry, WHERE, MEMBER, FAST);
		expect(outcome).toMatchObject({status: 'granted', attempts: 1});
		expect(policyNow()).toEqual([{role: READER, members: [MEMBER]}]);
		expect(methods()).toEqual(['GetIamPolicy', 'SetIamPolicy']);
		// The empty policy's etag (ACAB) went back with the write.
		const sent = fake.calls[1]!.request as {resource: string; policy: {etag: Buffer; bindings: unknown[]}};
		expect(sent.resource).toBe(RESOURCE);
		expect(Buffer.from(sent.policy.etag).toString('base64')).toBe('ACAB');
		expect((fake.calls[0]!.request as {options?: {requestedPolicyVersion?: number}}).options?.requestedPolicyVersion).toBe(3);
	});

	it('keeps every other binding and member exactly, and adds the member to the unconditional reader binding', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.setPolicy(RESOURCE, busyPolicy());
		const outcome = await grantOnRepository(registry, WHERE, MEMBER, FAST);
		expect(outcome.status).toBe('granted');
		const expected = busyPolicy();
		expected[2]!.members.push(MEMBER);
		expect(policyNow()).toEqual(expected);
		// A policy with conditions is written as version 3, or Google would refuse it.
		expect((fake.calls[1]!.request as {policy: {version: number}}).policy.version).toBe(3);
		expect(outcome).toMatchObject({change: `${READER}:\n  user:bob@example.com\n+ ${MEMBER}\n(3 other bindings unchanged)`});
	});

	it('already granted: nothing is sent', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.setPolicy(RESOURCE, [{role: READER, members: ['user:bob@example.com', MEMBER]}]);
		expect(await grantOnRepository(registry, WHERE, MEMBER, FAST)).toEqual({status: 'already'});
		expect(methods()).toEqual(['GetIamPolicy']);
	});

	it('a concurrent change between read and write (ABORTED on the etag): reads again and keeps both changes', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.setPolicy(RESOURCE, [{role: 'roles/artifactregistry.writer', members: ['user:ana@example.com']}]);
		let raced = false;
		fake.beforeSetIamPolicy = () => {
			if (raced) return;
			raced = true;
			// A teammate's write lands first, with its own new etag.
			fake.setPolicy(RESOURCE, [{role: 'roles/artifactregistry.writer', members: ['user:ana@example.com', 'user:carl@example.com']}]);
		};
		const outcome = await grantOnRepository(registry, WHERE, MEMBER, FAST);
		expect(outcome).toMatchObject({status: 'granted', attempts: 2});
		expect(methods()).toEqual(['GetIamPolicy', 'SetIamPolicy', 'GetIamPolicy', 'SetIamPolicy']);
		expect(policyNow()).toEqual([
			{role: 'roles/artifactregistry.writer', members: ['user:ana@example.com', 'user:carl@example.com']},
			{role: READER, members: [MEMBER]},
		]);
	});

	it('FAILED_PRECONDITION is a conflict too; a conflict that never ends gives up', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.failNext('SetIamPolicy', {code: 9, message: 'etag mismatch'});
		expect(await grantOnRepository(registry, WHERE, MEMBER, FAST)).toMatchObject({status: 'granted', attempts: 2});
		fake.reset();
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.failNext('SetIamPolicy', {code: 10, message: 'There were concurrent policy changes.'}, 10);
		const error = await failure(grantOnRepository(registry, WHERE, MEMBER, FAST));
		// Issue 16: an endless conflict used to end with the API's words and no fix.
		expect(error).toMatchObject({
			reason: 'POLICY_CONFLICT',
			message: 'The IAM policy of repository images kept changing while it was being written (4 tries).',
		});
		expect((error as StepError).fix).toMatch(
			/^Something else is changing it right now .*wait a minute and rerun, or an admin runs:\ngcloud artifacts repositories add-iam-policy-binding images /,
		);
		expect(methods().filter(method => method === 'SetIamPolicy')).toHaveLength(4);
	});

	it('without permission to set the policy: names the permission and a role, and prints the admin command', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.deniedPermissions.add('artifactregistry.repositories.setIamPolicy');
		const error = await failure(grantOnRepository(registry, WHERE, MEMBER, FAST));
		expect(error).toBeInstanceOf(StepError);
		expect(error).toMatchObject({
			reason: 'NEEDS_ADMIN',
			message: 'You may not change who can read repository images: that needs artifactregistry.repositories.setIamPolicy on it.',
		});
		const fix = (error as StepError).fix!.split('\n');
		expect(fix[0]).toContain('Artifact Registry Administrator (roles/artifactregistry.admin)');
		expect(fix[1]).toBe(
			`gcloud artifacts repositories add-iam-policy-binding images --project ${PROJECT} --location ${LOCATION} --member ${MEMBER} --role ${READER}`,
		);
		expect(policyNow()).toBeUndefined();
	});

	it('without permission to read the policy: the same way out', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.deniedPermissions.add('artifactregistry.repositories.getIamPolicy');
		// Issue 16: the denied read was reported as a missing setIamPolicy.
		expect(await failure(grantOnRepository(registry, WHERE, MEMBER, FAST))).toMatchObject({
			reason: 'NEEDS_ADMIN',
			message: 'You may not read who can read repository images: that needs artifactregistry.repositories.getIamPolicy on it.',
		});
		expect(methods()).toEqual(['GetIamPolicy']);
	});

	it('--dry-run reads and describes the change, and sends nothing', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.setPolicy(RESOURCE, busyPolicy());
		const outcome = await grantOnRepository(registry, WHERE, MEMBER, {...FAST, dryRun: true});
		expect(outcome).toEqual({status: 'dry-run', change: `${READER}:\n  user:bob@example.com\n+ ${MEMBER}\n(3 other bindings unchanged)`});
		expect(methods()).toEqual(['GetIamPolicy']);
		expect(policyNow()).toEqual(busyPolicy());
	});

	it('asks for approval once, before the first write', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		const asked: string[] = [];
		expect(
			await grantOnRepository(registry, WHERE, MEMBER, {
				...FAST,
				approve: async change => {
					asked.push(change);
					return false;
				},
			}),
		).toMatchObject({
			status: 'declined',
		});
		expect(asked).toEqual([`${READER}:\n+ ${MEMBER}\n(0 other bindings unchanged)`]);
		expect(methods()).toEqual(['GetIamPolicy']);
	});
});

describe('accountAccess (for doctor and the remote builder)', () => {
	it('ok when a reading role on the repository holds the account', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.setPolicy(RESOURCE, [{role: 'roles/artifactregistry.writer', members: [MEMBER]}]);
		expect(await accountAccess(registry, WHERE, SA, READER)).toEqual({
			status: 'ok',
			role: 'roles/artifactregistry.writer',
			detail: `${SA} may pull from images (roles/artifactregistry.writer)`,
		});
	});

	it('missing when none does (a conditional binding does not count), with the grant command', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.setPolicy(RESOURCE, [{role: READER, members: [MEMBER], condition: {expression: 'false', title: 'never'}}]);
		const access = await accountAccess(registry, WHERE, SA, READER);
		expect(access).toMatchObject({
			status: 'missing',
			fix: `gcloud artifacts repositories add-iam-policy-binding images --project ${PROJECT} --location ${LOCATION} --member ${MEMBER} --role ${READER}`,
		});
		expect(access.detail).toContain('has no reading role on repository images');
	});

	it('unknown when the policy cannot be read', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.deniedPermissions.add('artifactregistry.repositories.getIamPolicy');
		const access = await accountAccess(registry, WHERE, SA, READER);
		expect(access.status).toBe('unknown');
		expect(access.detail).toContain('artifactregistry.repositories.getIamPolicy');
	});

	it('Writer is asked of the remote builder: Reader does not cover it, Writer and repoAdmin do', async () => {
		const WRITER = 'roles/artifactregistry.writer';
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.setPolicy(RESOURCE, [{role: READER, members: [MEMBER]}]);
		const reading = await accountAccess(registry, WHERE, SA, WRITER);
		expect(reading).toMatchObject({
			status: 'missing',
			fix: `gcloud artifacts repositories add-iam-policy-binding images --project ${PROJECT} --location ${LOCATION} --member ${MEMBER} --role ${WRITER}`,
		});
		expect(reading.detail).toContain('has no writing role on repository images');
		fake.setPolicy(RESOURCE, [{role: 'roles/artifactregistry.repoAdmin', members: [MEMBER]}]);
		expect(await accountAccess(registry, WHERE, SA, WRITER)).toEqual({
			status: 'ok',
			role: 'roles/artifactregistry.repoAdmin',
			detail: `${SA} may push to images (roles/artifactregistry.repoAdmin)`,
		});
	});
});

describe('pure parts', () => {
	it('validates service account emails', () => {
		expect(validateServiceAccount(SA)).toBeUndefined();
		expect(validateServiceAccount('worker@other-project.iam.gserviceaccount.com')).toBeUndefined();
		expect(validateServiceAccount('worker@example.com')).toMatch(/ends with \.iam\.gserviceaccount\.com/);
		expect(validateServiceAccount('Worker@p.iam.gserviceaccount.com')).toBe('service account emails are lowercase');
		expect(validateServiceAccount('@p.iam.gserviceaccount.com')).toMatch(/ends with/);
		expect(validateServiceAccount('')).toBe('a service account email is required');
	});

	it('withMember leaves a policy that already has the member as it is', () => {
		const policy = {bindings: [{role: READER, members: [MEMBER]}]};
		expect(withMember(policy, READER, MEMBER)).toEqual({policy, changed: false});
		expect(withMember({bindings: []}, READER, MEMBER)).toEqual({policy: {bindings: [{role: READER, members: [MEMBER]}]}, changed: true});
	});
});
