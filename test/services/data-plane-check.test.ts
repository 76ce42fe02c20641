import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {runChecks} from '../../source/services/checks.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';

const WORKER = 'acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com';
const where = {project: 'acme-ml', location: 'us-east1', repository: 'union-images'};

describe('doctor: may the saved data plane account pull from the repository?', () => {
	let fake: FakeArtifactRegistry;
	let sandbox: Sandbox;

	beforeAll(async () => {
		fake = await startFakeArtifactRegistry();
		fake.addRepository(where.project, where.location, where.repository);
		fake.setPolicy(`projects/${where.project}/locations/${where.location}/repositories/${where.repository}`, [
			{role: 'roles/artifactregistry.reader', members: [`serviceAccount:${WORKER}`]},
		]);
		sandbox = await makeSandbox({env: {IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint}});
	});

	afterAll(async () => {
		await fake?.stop();
		await sandbox?.cleanup();
	});

	const dataPlaneCheck = async (serviceAccount: string | undefined) => {
		const {checks} = await runChecks(sandbox.context(), {
			needDocker: false,
			needAdc: false,
			repository: where,
			python: false,
			dataPlaneServiceAccount: serviceAccount,
		});
		return checks.find(check => check.id === 'data-plane');
	};

	it('is ok when a reading role on the repository holds the account', async () => {
		expect(await dataPlaneCheck(WORKER)).toMatchObject({status: 'ok', required: false});
	});

	it('warns with the grant an admin can run when nothing does', async () => {
		const check = await dataPlaneCheck('other-flyteworker-x@other-gcp-dataplane.iam.gserviceaccount.com');
		expect(check).toMatchObject({status: 'warn', required: false});
		expect(check?.fix).toContain('roles/artifactregistry.reader');
		expect(check?.fix).toContain('serviceAccount:other-flyteworker-x@other-gcp-dataplane.iam.gserviceaccount.com');
	});

	it('is not run without a saved data plane account', async () => {
		expect(await dataPlaneCheck(undefined)).toBeUndefined();
	});
});
