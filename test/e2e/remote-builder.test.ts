import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {imagespecGar} from '../support/cli.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {startFakeIam, type FakeIam} from '../support/fake-iam.js';
import {loginOffline} from '../support/gcloud.js';
import {BUILDER, PROXY, READER, WORKER, WRITER} from '../fixtures/union-accounts.js';
import {schemaErrors} from '../support/schema.js';

const PROJECT = 'acme-ml';
const LOCATION = 'us-east1';
const RESOURCE = `projects/${PROJECT}/locations/${LOCATION}/repositories/images`;
const ACCOUNTS = ['--data-plane-sa', WORKER, '--builder-sa', BUILDER, '--operator-proxy-sa', PROXY];

/**
 * Union's remote image builder through the CLI (no docker: Union builds): the repository's IAM
 * policy in the loopback Artifact Registry, the real gcloud logged in offline.
 */
describe("Union's remote builder's IAM, through the CLI", () => {
	let fake: FakeArtifactRegistry;
	let iam: FakeIam;
	const sandboxes: Sandbox[] = [];
	const world = async () => {
		const sandbox = await makeSandbox({ci: 'true'});
		sandboxes.push(sandbox);
		await loginOffline(sandbox);
		return {
			sandbox,
			env: {
				...sandbox.env,
				IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint,
				IMAGESPEC_GAR_REGISTRY_HOST: '127.0.0.1:5999',
				// The project's own policy: gcloud may not read it here, as for most developers.
				CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER: iam.endpoint,
			},
		};
	};

	beforeAll(async () => {
		[fake, iam] = await Promise.all([startFakeArtifactRegistry(), startFakeIam({})]);
		fake.addRepository(PROJECT, LOCATION, 'images');
	});

	afterAll(async () => {
		await Promise.all([fake?.stop(), iam?.stop()]);
		await Promise.all(sandboxes.map(sandbox => sandbox.cleanup()));
	});

	const setup = ['--project', PROJECT, '--location', LOCATION, '--repository', 'images', '--image', 'trainer', '--json'];
	const bindings = () => fake.policies.get(RESOURCE)?.bindings ?? [];

	it('ImageSpec builder="union": --dry-run plans the grants, a run makes them, doctor reads them, export writes them', async () => {
		const {sandbox, env} = await world();
		fake.setPolicy(RESOURCE, []);
		const dry = await imagespecGar([...setup, '--builder', 'union', ...ACCOUNTS, '--dry-run'], {cwd: sandbox.project, env});
		expect(dry.code, dry.stderr).toBe(0);
		const planned = JSON.parse(dry.stdout);
		expect(schemaErrors('result.schema.json', planned)).toEqual([]);
		expect(
			planned.plan.filter((change: {kind: string}) => change.kind === 'grant-access').map((change: {step: string; data: object}) => [change.step, change.data]),
		).toEqual([
			['access', expect.objectContaining({member: `serviceAccount:${WORKER}`, role: READER})],
			['build', expect.objectContaining({member: `serviceAccount:${BUILDER}`, role: WRITER})],
			['build', expect.objectContaining({member: `serviceAccount:${PROXY}`, role: READER})],
		]);
		expect(dry.stderr).toContain(`--dry-run: would let ${BUILDER} push to images (${WRITER}):`);
		expect(bindings()).toEqual([]);

		const run = await imagespecGar([...setup, '--builder', 'union', ...ACCOUNTS], {cwd: sandbox.project, env});
		expect(run.code, run.stderr).toBe(0);
		const result = JSON.parse(run.stdout);
		expect(schemaErrors('result.schema.json', result)).toEqual([]);
		expect(result.builderAccess).toEqual({
			status: 'checked',
			grants: [
				{account: 'builder', serviceAccount: BUILDER, role: WRITER, status: 'granted'},
				{account: 'operator-proxy', serviceAccount: PROXY, role: READER, status: 'granted'},
			],
		});
		expect(bindings()).toEqual([
			{role: READER, members: [`serviceAccount:${WORKER}`, `serviceAccount:${PROXY}`]},
			{role: WRITER, members: [`serviceAccount:${BUILDER}`]},
		]);
		expect(run.stderr).toContain("Union's builder: Writer granted; operator proxy: Reader granted");
		expect(run.stderr).toContain(`The IAM policy of project ${PROJECT} could not be read`);

		// The saved setup: doctor's row, ok; then the builder's Writer removed: a warning with the command.
		const doctor = async () => {
			const report = await imagespecGar(['doctor', '--json'], {cwd: sandbox.project, env});
			return (JSON.parse(report.stdout).checks as Array<{id: string; status: string; detail: string; fix?: string}>).find(
				check => check.id === 'remote-builder',
			);
		};
		expect(await doctor()).toMatchObject({status: 'ok', detail: expect.stringContaining(`${BUILDER} may push to images (${WRITER})`)});
		fake.setPolicy(RESOURCE, [{role: READER, members: [`serviceAccount:${WORKER}`, `serviceAccount:${PROXY}`]}]);
		const row = await doctor();
		expect(row).toMatchObject({status: 'warn', detail: expect.stringContaining(`${BUILDER} has no writing role on repository images`)});
		expect(row!.fix).toBe(
			`gcloud artifacts repositories add-iam-policy-binding images --project ${PROJECT} --location ${LOCATION} --member serviceAccount:${BUILDER} --role ${WRITER}`,
		);

		const exported = await imagespecGar(['export', '--format', 'gcloud'], {cwd: sandbox.project, env});
		expect(exported.code, exported.stderr).toBe(0);
		expect(exported.stdout).toContain(`--member serviceAccount:${BUILDER} --role ${WRITER} --condition=None`);
		expect(exported.stdout).toContain(`--member serviceAccount:${PROXY} --role ${READER} --condition=None`);
	}, 240_000);

	it("--help names the remote builder's two flags and what each account is granted", async () => {
		const {sandbox, env} = await world();
		const help = await imagespecGar(['--help'], {cwd: sandbox.project, env});
		expect(help.code).toBe(0);
		expect(help.stdout).toMatch(/--builder-sa EMAIL\s+with Union's remote builder/);
		expect(help.stdout).toMatch(/--operator-proxy-sa EMAIL\s+with Union's remote builder: the operator proxy's account/);
		expect(help.stdout).toContain('granted Writer');
	});

	it('a local build asks nothing of the remote builder: no builderAccess, no doctor row', async () => {
		const {sandbox, env} = await world();
		const run = await imagespecGar([...setup, '--builder', 'local', '--no-build', '--data-plane-sa', WORKER], {cwd: sandbox.project, env});
		expect(run.code, run.stderr).toBe(0);
		expect(JSON.parse(run.stdout)).not.toHaveProperty('builderAccess');
		const report = await imagespecGar(['doctor', '--json'], {cwd: sandbox.project, env});
		expect(JSON.parse(report.stdout).checks.map((check: {id: string}) => check.id)).not.toContain('remote-builder');
	}, 120_000);

	it("Flyte 2 with flyte's image.builder: remote: the same grants, and a rerun finds them", async () => {
		const {sandbox, env} = await world();
		fake.setPolicy(RESOURCE, []);
		await writeFile(path.join(sandbox.project, 'requirements.txt'), 'flyte==2.6.5\n');
		await writeFile(path.join(sandbox.project, 'config.yaml'), 'image:\n  builder: remote\n');
		const run = await imagespecGar([...setup, '--python-version', '3.12', '--no-build', ...ACCOUNTS], {cwd: sandbox.project, env});
		expect(run.code, run.stderr).toBe(0);
		const result = JSON.parse(run.stdout);
		expect(result).toMatchObject({sdk: 'flyte', builderAccess: {status: 'checked'}});
		expect(result.builderAccess.grants.map((grant: {status: string}) => grant.status)).toEqual(['granted', 'granted']);
		expect(bindings()).toContainEqual({role: WRITER, members: [`serviceAccount:${BUILDER}`]});

		fake.calls.length = 0;
		// The worker named again: the builder's saved accounts are kept with it.
		const rerun = await imagespecGar([...setup, '--no-build', '--data-plane-sa', WORKER], {cwd: sandbox.project, env});
		expect(rerun.code, rerun.stderr).toBe(0);
		expect(JSON.parse(rerun.stdout).builderAccess.grants.map((grant: {status: string}) => grant.status)).toEqual(['already', 'already']);
		expect(fake.calls.map(call => call.method)).not.toContain('SetIamPolicy');
	}, 240_000);
});
