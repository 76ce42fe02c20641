import {execFile} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';
import {schemaErrors} from '../support/schema.js';
import {dockerEngine, makeBaseImage, requireDocker, startRegistry, type Registry} from '../support/docker.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

type CliRun = {code: number; stdout: string; stderr: string};
const imagespecGar = async (args: string[], options: {cwd: string; env: NodeJS.ProcessEnv}): Promise<CliRun> => {
	try {
		const {stdout, stderr} = await run(process.execPath, [cli, ...args], {...options, timeout: 120_000});
		return {code: 0, stdout, stderr};
	} catch (error) {
		const failure = error as {code?: number; stdout: string; stderr: string};
		return {code: typeof failure.code === 'number' ? failure.code : -1, stdout: failure.stdout, stderr: failure.stderr};
	}
};

/** Nothing from the client library (gax/grpc warnings) may reach the person's screen. */
const expectNoLibraryNoise = (stderr: string) => {
	expect(stderr).not.toMatch(/\(node:\d+\)|[A-Z]\w*Warning|AutopaginateTrue|MetadataLookup|@grpc|google-gax|Unexpected error/);
};

const PROJECT = 'acme-ml';
const LOCATION = 'us-east1';

describe('the repository step, non-interactively, through the CLI', () => {
	let sandbox: Sandbox;
	let fake: FakeArtifactRegistry;
	let env: NodeJS.ProcessEnv;
	const base = ['--project', PROJECT, '--location', LOCATION, '--image', 'trainer', '--no-build', '--json'];

	beforeAll(async () => {
		[sandbox, fake] = await Promise.all([makeSandbox({ci: 'true'}), startFakeArtifactRegistry()]);
		await loginOffline(sandbox);
		env = {...sandbox.env, IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: '127.0.0.1:5999'};
	});

	afterAll(async () => {
		await fake?.stop();
		await sandbox?.cleanup();
	});

	afterEach(() => {
		fake.reset();
	});

	it('creates a missing repository with the settings given as flags', async () => {
		const result = await imagespecGar(
			[
				...base,
				'--repository',
				'ml-images',
				'--description',
				'ML team images',
				'--label',
				'team=ml',
				'--label',
				'env=dev',
				'--immutable-tags',
				'--cleanup',
				'keep:5',
			],
			{cwd: sandbox.project, env},
		);
		expect(result.code, result.stderr).toBe(0);
		expect(JSON.parse(result.stdout)).toMatchObject({ok: true, repository: 'ml-images', repositoryCreated: true});
		expect(fake.repositories.get(`projects/${PROJECT}/locations/${LOCATION}/repositories/ml-images`)).toMatchObject({
			format: 'DOCKER',
			description: 'ML team images',
			labels: {team: 'ml', env: 'dev', 'managed-by': 'imagespec-gar'},
			dockerConfig: {immutableTags: true},
			cleanupPolicies: {'imagespec-gar-keep-recent': {action: 'KEEP', mostRecentVersions: {keepCount: 5}}},
		});
		// Exactly what is created is said before it is.
		expect(result.stderr).toContain('labels          team=ml, env=dev, managed-by=imagespec-gar');
		expect(result.stderr).toContain('cleanup policy  keep the 5 most recent versions of each image, delete older ones');
		expectNoLibraryNoise(result.stderr);
	});

	it('--no-create: a missing repository is exit 1 with a clear message, and nothing is created', async () => {
		const result = await imagespecGar([...base, '--repository', 'missing', '--no-create'], {cwd: sandbox.project, env});
		expect(result.code, result.stderr).toBe(1);
		expect(result.stderr).toContain(
			`Repository missing does not exist in ${PROJECT} · ${LOCATION} (or you cannot see it), and --no-create forbids creating it.`,
		);
		expect(result.stderr).toContain(
			`fix: Create it: rerun without --no-create, or: gcloud artifacts repositories create ` +
				`missing --repository-format=docker --location ${LOCATION} --project ${PROJECT}`,
		);
		// --json on failure: everything known so far, and the step that failed.
		const failure = JSON.parse(result.stdout);
		expect(failure).toMatchObject({ok: false, pushed: false, project: PROJECT, location: LOCATION, error: {reason: 'NOT_FOUND', step: 'repository'}});
		expect(failure.checks.length).toBeGreaterThan(0);
		expect(failure).not.toHaveProperty('repository');
		expect(schemaErrors('result.schema.json', failure)).toEqual([]);
		expect(fake.calls.map(call => call.method)).not.toContain('CreateRepository');
		expectNoLibraryNoise(result.stderr);
	});

	it('API disabled: exit 1 with the enable command and the activation URL', async () => {
		fake.disabledProjects.add(PROJECT);
		const result = await imagespecGar([...base, '--repository', 'images'], {cwd: sandbox.project, env});
		expect(result.code, result.stderr).toBe(1);
		expect(result.stderr).toContain(`Artifact Registry API is disabled in project ${PROJECT}.`);
		expect(result.stderr).toContain(`fix: gcloud services enable artifactregistry.googleapis.com --project ${PROJECT}`);
		expect(result.stderr).toMatch(
			/fix: or enable it at https:\/\/console\.developers\.google\.com\/apis\/api\/artifactregistry\.googleapis\.com\/overview\?project=\d+/,
		);
		expect(JSON.parse(result.stdout)).toMatchObject({ok: false, error: {reason: 'SERVICE_DISABLED'}});
		expectNoLibraryNoise(result.stderr);
	});

	it('invalid --label or --cleanup: exit 2 naming the flag, before any call', async () => {
		const label = await imagespecGar([...base, '--repository', 'images', '--label', 'Team=ML'], {cwd: sandbox.project, env});
		expect(label.code).toBe(2);
		expect(label.stderr).toContain('--label is invalid: "Team": label keys are');
		const cleanup = await imagespecGar([...base, '--repository', 'images', '--cleanup', 'weekly'], {cwd: sandbox.project, env});
		expect(cleanup.code).toBe(2);
		expect(cleanup.stderr).toContain('--cleanup "weekly" is invalid: use none, keep:N');
		expect(fake.calls).toEqual([]);
	});

	it('--help lists the repository and data plane flags', async () => {
		const {stdout} = await imagespecGar(['--help'], {cwd: sandbox.project, env});
		for (const flag of ['--no-create', '--description', '--label', '--immutable-tags', '--cleanup', '--data-plane-sa', '--dry-run'])
			expect(stdout).toContain(flag);
	});

	it('--data-plane-sa grants Reader on the repository; --dry-run only shows it; a rerun remembers the account and sends nothing', async () => {
		const sa = 'acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com';
		const resource = `projects/${PROJECT}/locations/${LOCATION}/repositories/images`;
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.setPolicy(resource, [{role: 'roles/artifactregistry.writer', members: ['user:ana@example.com']}]);

		const dry = await imagespecGar([...base, '--repository', 'images', '--data-plane-sa', sa, '--dry-run'], {cwd: sandbox.project, env});
		expect(dry.code, dry.stderr).toBe(0);
		expect(dry.stderr).toContain(`--dry-run: would let ${sa} pull from images (roles/artifactregistry.reader):`);
		expect(dry.stderr).toContain(`  | + serviceAccount:${sa}`);
		expect(JSON.parse(dry.stdout)).toMatchObject({ok: true, dataPlaneAccess: {status: 'dry-run', serviceAccount: sa}});
		expect(fake.calls.map(call => call.method)).not.toContain('SetIamPolicy');

		const grant = await imagespecGar([...base, '--repository', 'images', '--data-plane-sa', sa], {cwd: sandbox.project, env});
		expect(grant.code, grant.stderr).toBe(0);
		expect(grant.stderr).toContain(`Data plane access: done — ${sa} may now pull from images (roles/artifactregistry.reader)`);
		expect(fake.policies.get(resource)!.bindings).toEqual([
			{role: 'roles/artifactregistry.writer', members: ['user:ana@example.com']},
			{role: 'roles/artifactregistry.reader', members: [`serviceAccount:${sa}`]},
		]);
		expect(JSON.parse(grant.stdout)).toMatchObject({dataPlaneAccess: {status: 'granted', serviceAccount: sa}});

		fake.calls.length = 0;
		const rerun = await imagespecGar([...base, '--repository', 'images'], {cwd: sandbox.project, env});
		expect(rerun.code, rerun.stderr).toBe(0);
		expect(rerun.stderr).toContain(`Data plane access: done — ${sa} can already pull from images`);
		expect(fake.calls.map(call => call.method)).not.toContain('SetIamPolicy');
		expectNoLibraryNoise(rerun.stderr);
		// Three whole runs: on a loaded 2-core machine each can take 20 s.
	}, 180_000);

	it('without permission to change the policy: exit 0, with the role and the command an admin runs', async () => {
		const sa = 'worker@other-dataplane.iam.gserviceaccount.com';
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.deniedPermissions.add('artifactregistry.repositories.setIamPolicy');
		const result = await imagespecGar([...base, '--repository', 'images', '--data-plane-sa', sa], {cwd: sandbox.project, env});
		expect(result.code, result.stderr).toBe(0);
		const command =
			`gcloud artifacts repositories add-iam-policy-binding images --project ${PROJECT} ` +
			`--location ${LOCATION} --member serviceAccount:${sa} --role roles/artifactregistry.reader`;
		expect(result.stderr).toContain('warning: You may not change who can read repository images: that needs artifactregistry.repositories.setIamPolicy on it.');
		expect(result.stderr).toContain(`  | ${command}`);
		expect(JSON.parse(result.stdout)).toMatchObject({
			ok: true,
			dataPlaneAccess: {status: 'needs-admin', serviceAccount: sa, fix: expect.stringContaining(command)},
		});
	});
});

const engine = await dockerEngine();

requireDocker(describe, engine)('before the build', () => {
	let sandbox: Sandbox;
	let fake: FakeArtifactRegistry;
	let registry: Registry;
	let baseRegistry: Registry;
	let env: NodeJS.ProcessEnv;
	let baseImage: string;

	beforeAll(async () => {
		[sandbox, fake, registry, baseRegistry] = await Promise.all([makeSandbox({ci: 'true'}), startFakeArtifactRegistry(), startRegistry(), startRegistry()]);
		baseImage = await makeBaseImage(engine!.dockerHost, baseRegistry.host);
		await loginOffline(sandbox);
		env = {...sandbox.env, DOCKER_HOST: engine!.dockerHost, IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: registry.host};
	});

	afterAll(async () => {
		await fake?.stop();
		await registry?.stop();
		await baseRegistry?.stop();
		await sandbox?.cleanup();
	});

	it('without permission to push, says so before any build starts (exit 1)', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.deniedPermissions.add('artifactregistry.repositories.uploadArtifacts');
		const result = await imagespecGar(
			['--project', PROJECT, '--location', LOCATION, '--repository', 'images', '--image', 'denied', '--base-image', baseImage, '--json'],
			{cwd: sandbox.project, env},
		);
		expect(result.code, result.stderr).toBe(1);
		expect(result.stderr).toContain(
			`You may not push to repository images in ${PROJECT} · ${LOCATION}: you lack artifactregistry.repositories.uploadArtifacts`,
		);
		expect(result.stderr).toContain('--role roles/artifactregistry.writer');
		// --json on failure carries everything known so far: where the image was going, which image, and the failed step.
		const failure = JSON.parse(result.stdout);
		expect(failure).toMatchObject({
			ok: false,
			pushed: false,
			project: PROJECT,
			location: LOCATION,
			repository: 'images',
			image: 'denied',
			imageUri: expect.stringMatching(new RegExp(`/${PROJECT}/images/denied:`)),
			error: {reason: 'NO_PUSH_PERMISSION', step: 'build'},
		});
		expect(schemaErrors('result.schema.json', failure)).toEqual([]);
		// Nothing was built: no build log, no image in the registry.
		expect(result.stderr).not.toContain('Full build log');
		const catalog = await fetch(`http://${registry.host}/v2/_catalog`).then(async response => response.json() as Promise<{repositories: string[]}>);
		expect(catalog.repositories ?? []).not.toContain(`${PROJECT}/images/denied`);
		expect(fake.calls.filter(call => call.method === 'TestIamPermissions').at(-1)?.request).toEqual({
			resource: `projects/${PROJECT}/locations/${LOCATION}/repositories/images`,
			permissions: ['artifactregistry.repositories.uploadArtifacts'],
		});
		expectNoLibraryNoise(result.stderr);
	});
});
