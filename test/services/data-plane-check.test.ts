import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {runChecks, type CheckOptions, type RemoteBuilderAccounts} from '../../source/services/checks.js';
import {BUILDER, PROXY, WRITER} from '../fixtures/union-accounts.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {startFakeIam} from '../support/fake-iam.js';
import {loginOffline} from '../support/gcloud.js';

const WORKER = 'acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com';
const where = {project: 'acme-ml', location: 'us-east1', repository: 'union-images'};

describe('doctor: may the saved data plane account pull from the repository?', () => {
	let fake: FakeArtifactRegistry;
	let sandbox: Sandbox;

	beforeAll(async () => {
		fake = await startFakeArtifactRegistry();
		fake.addRepository(where.project, where.location, where.repository);
		fake.setPolicy(`projects/${where.project}/locations/${where.location}/repositories/${where.repository}`, [
			{role: 'roles/artifactregistry.reader', members: [`serviceAccount:${WORKER}`, `serviceAccount:${PROXY}`]},
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

	const remoteBuilderCheck = async (remoteBuilder: RemoteBuilderAccounts | undefined) => {
		const {checks} = await runChecks(sandbox.context(), {needDocker: false, needAdc: false, repository: where, python: false, remoteBuilder});
		return checks.find(check => check.id === 'remote-builder');
	};

	it("with Union's remote builder: its Writer and the operator proxy's Reader, each read from the policy", async () => {
		const missing = await remoteBuilderCheck({sameProject: false, builderServiceAccount: BUILDER, operatorProxyServiceAccount: PROXY});
		expect(missing).toMatchObject({
			status: 'warn',
			required: false,
			detail: expect.stringContaining(`${BUILDER} has no writing role on repository union-images`),
		});
		expect(missing?.fix).toBe(
			`gcloud artifacts repositories add-iam-policy-binding union-images --project acme-ml --location us-east1 --member serviceAccount:${BUILDER} --role ${WRITER}`,
		);
		expect(missing?.detail).toContain(`${PROXY} may pull from union-images`);
		// No gcloud answers for the project here: said, not guessed.
		expect(missing?.detail).toContain("project acme-ml's own grants could not be read");
	});

	/** The checks with a project policy the real gcloud reads (`gcloud projects get-iam-policy`, from the IAM fake). */
	const checksWithProjectPolicy = async (
		bindings: Array<{role: string; members: string[]}>,
		options: Omit<CheckOptions, 'needDocker' | 'needAdc' | 'python'>,
	) => {
		const iam = await startFakeIam({}, {'acme-ml': bindings});
		const box = await makeSandbox({env: {IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint}});
		try {
			await loginOffline(box);
			box.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER = iam.endpoint;
			const {checks} = await runChecks(box.context(), {needDocker: false, needAdc: false, python: false, ...options});
			return {checks, policiesRead: iam.policiesRead};
		} finally {
			await iam.stop();
			await box.cleanup();
		}
	};

	const remoteBuilder = {sameProject: false, builderServiceAccount: BUILDER, operatorProxyServiceAccount: PROXY};

	it("a Writer role on the whole project counts (the real gcloud reads the project's policy)", async () => {
		const {checks, policiesRead} = await checksWithProjectPolicy([{role: WRITER, members: [`serviceAccount:${BUILDER}`]}], {repository: where, remoteBuilder});
		expect(checks.find(check => check.id === 'remote-builder')).toMatchObject({
			status: 'ok',
			detail: `${BUILDER} may push to union-images (${WRITER} on project acme-ml); ${PROXY} may pull from union-images (roles/artifactregistry.reader)`,
		});
		expect(policiesRead).toEqual(['acme-ml']);
	});

	it("a Reader role on the whole project counts for the data plane's worker too; both rows read the project's policy once", async () => {
		const elsewhere = {...where, repository: 'no-grants'};
		fake.addRepository(elsewhere.project, elsewhere.location, elsewhere.repository);
		const {checks, policiesRead} = await checksWithProjectPolicy(
			[
				{role: 'roles/artifactregistry.reader', members: [`serviceAccount:${WORKER}`, `serviceAccount:${PROXY}`]},
				{role: WRITER, members: [`serviceAccount:${BUILDER}`]},
			],
			{repository: elsewhere, dataPlaneServiceAccount: WORKER, remoteBuilder},
		);
		expect(checks.find(check => check.id === 'data-plane')).toMatchObject({
			status: 'ok',
			detail: `${WORKER} may pull from no-grants (roles/artifactregistry.reader on project acme-ml)`,
		});
		expect(checks.find(check => check.id === 'remote-builder')).toMatchObject({status: 'ok'});
		expect(policiesRead).toEqual(['acme-ml']);
	});

	it("the remote builder in the data plane's own project needs nothing; not knowing where the data plane runs is said, with the flags", async () => {
		expect(await remoteBuilderCheck({sameProject: true})).toMatchObject({
			status: 'ok',
			detail: "the data plane runs in acme-ml: Union's builder needs no grant there",
		});
		const unknown = await remoteBuilderCheck({});
		expect(unknown).toMatchObject({status: 'warn', detail: expect.stringMatching(/^Not known yet where the Union data plane runs/)});
		expect(unknown?.fix).toBe('Run imagespec-gar (it asks), or: imagespec-gar --builder-sa EMAIL --operator-proxy-sa EMAIL');
		const half = await remoteBuilderCheck({sameProject: false, builderServiceAccount: BUILDER});
		expect(half?.detail).toMatch(/not known yet: --operator-proxy-sa$/);
		expect(await remoteBuilderCheck(undefined)).toBeUndefined();
	});
});
