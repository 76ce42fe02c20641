import {existsSync} from 'node:fs';
import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';
import {imagespecGar} from '../support/cli.js';
import {schemaErrors} from '../support/schema.js';
import {dockerEngine, requireDocker} from '../support/docker.js';

const PROJECT = 'acme-ml';
const LOCATION = 'us-east1';
const HOST = '127.0.0.1:5999';
const SA = 'acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com';
const MUTATING = ['CreateRepository', 'SetIamPolicy', 'UpdateRepository', 'DeleteRepository'];
const engine = await dockerEngine();

requireDocker(describe, engine)('--dry-run: the whole journey reads, changes nothing and ends on the plan', () => {
	let sandbox: Sandbox;
	let fake: FakeArtifactRegistry;
	let env: NodeJS.ProcessEnv;
	let files: {dockerConfig: string; module: string; conf: string};
	const where = ['--project', PROJECT, '--location', LOCATION, '--base-image', 'python:3.12-slim', '--json'];
	const base = [...where, '--repository', 'ml-images'];

	beforeAll(async () => {
		[sandbox, fake] = await Promise.all([makeSandbox({ci: 'true'}), startFakeArtifactRegistry()]);
		await loginOffline(sandbox);
		env = {...sandbox.env, DOCKER_HOST: engine!.dockerHost, IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: HOST};
		files = {
			dockerConfig: path.join(sandbox.dockerConfig, 'config.json'),
			module: path.join(sandbox.project, 'image_specs.py'),
			conf: path.join(sandbox.xdgConfig, 'imagespec-gar-nodejs', 'config.json'),
		};
	});

	afterAll(async () => {
		await fake?.stop();
		await sandbox?.cleanup();
	});

	afterEach(() => {
		fake.reset();
	});

	/** Each file's bytes, or null when it does not exist. */
	const snapshot = async () =>
		Object.fromEntries(await Promise.all(Object.entries(files).map(async ([key, file]) => [key, existsSync(file) ? await readFile(file) : null])));
	const mutations = () => fake.calls.map(call => call.method).filter(method => MUTATING.includes(method));

	it('a first setup: plans the repository, the grant, docker auth, the module, the build and the saved answers, and does none of them', async () => {
		await writeFile(files.dockerConfig, JSON.stringify({auths: {'ghcr.io': {auth: 'dXNlcjpwYXNz'}}, credsStore: 'desktop'}, null, '\t'));
		const before = await snapshot();
		const args = [
			...base,
			'--image',
			'trainer',
			'--packages',
			'pandas',
			'--description',
			'ML images',
			'--label',
			'team=ml',
			'--immutable-tags',
			'--cleanup',
			'keep:5',
			'--data-plane-sa',
			SA,
			'--dry-run',
		];
		const run = await imagespecGar(args, {cwd: sandbox.project, env});
		expect(run.code, run.stderr).toBe(0);

		// Nothing changed: no mutating call reached Artifact Registry; every file is as it was (absent ones stay absent).
		expect(mutations()).toEqual([]);
		expect(fake.calls.map(call => call.method)).toContain('GetRepository');
		expect(await snapshot()).toEqual(before);
		expect(before.module).toBeNull();
		expect(before.conf).toBeNull();

		const result = JSON.parse(run.stdout);
		expect(schemaErrors('result.schema.json', result)).toEqual([]);
		expect(result).toMatchObject({
			ok: true,
			dryRun: true,
			pushed: false,
			repository: 'ml-images',
			repositoryCreated: false,
			dataPlaneAccess: {status: 'dry-run'},
		});
		expect(result.plan.map((change: {kind: string}) => change.kind)).toEqual([
			'create-repository',
			'grant-access',
			'configure-docker',
			'write-file',
			'build-push',
			'save-answers',
		]);
		const [create, grant, docker, module, build] = result.plan;
		expect(create.data).toMatchObject({
			repository: 'ml-images',
			description: 'ML images',
			labels: {team: 'ml', 'managed-by': 'imagespec-gar'},
			immutableTags: true,
			cleanup: 'keep:5',
			cleanupPolicies: {'imagespec-gar-keep-recent': {action: 'KEEP', mostRecentVersions: {keepCount: 5}}},
		});
		expect(create.content).toContain('labels          team=ml, managed-by=imagespec-gar');
		expect(grant.content).toBe(`roles/artifactregistry.reader:\n+ serviceAccount:${SA}\n(0 other bindings unchanged)`);
		expect(docker.data).toEqual({host: HOST, configFile: files.dockerConfig, credHelpers: {[HOST]: 'gcloud'}});
		expect(module.data).toEqual({file: files.module, action: 'create'});
		expect(module.content).toContain(`registry="${HOST}/${PROJECT}/ml-images"`);
		expect(build.data).toMatchObject({imageUri: result.imageUri, platform: 'linux/amd64'});

		// The printed plan lists each change, numbered, and says nothing was changed.
		expect(run.stderr).toContain('Dry run: nothing was changed. The plan, in order:');
		for (const [index, change] of (result.plan as Array<{summary: string}>).entries()) expect(run.stderr).toContain(`${index + 1}. ${change.summary}`);
		expect(run.stderr).toContain('--dry-run: would create repository ml-images');
		expect(run.stderr).toContain(`  | + serviceAccount:${SA}`);
	}, 240_000);

	it('on an existing setup: only what is new is planned; docker config, module and saved answers stay byte for byte', async () => {
		// A real run first (no build): the repository, the module, docker's config and the answers exist.
		const first = await imagespecGar([...base, '--image', 'trainer', '--no-build'], {cwd: sandbox.project, env});
		expect(first.code, first.stderr).toBe(0);
		fake.calls.length = 0;
		const before = await snapshot();
		expect(Object.values(before).every(Boolean)).toBe(true);

		const run = await imagespecGar([...base, '--image', 'evaluator', '--packages', 'numpy', '--data-plane-sa', SA, '--dry-run'], {cwd: sandbox.project, env});
		expect(run.code, run.stderr).toBe(0);
		expect(mutations()).toEqual([]);
		expect(await snapshot()).toEqual(before);
		const result = JSON.parse(run.stdout);
		expect(schemaErrors('result.schema.json', result)).toEqual([]);
		expect(result.plan.map((change: {kind: string}) => change.kind)).toEqual(['grant-access', 'write-file', 'build-push', 'save-answers']);
		const module = result.plan[1];
		expect(module.data).toEqual({file: files.module, action: 'update'});
		// The module diff: the new declaration added, the old one kept.
		expect(module.content).toMatch(/^\+.*name="evaluator"/m);
		expect(module.content).not.toMatch(/^[-+].*name="trainer"/m);
		expect(run.stderr).toContain('Docker authentication: skipped');
	}, 300_000);

	it('with the API disabled: plans enabling it first, then a new repository, and enables nothing', async () => {
		fake.disabledProjects.add(PROJECT);
		const run = await imagespecGar([...where, '--repository', 'fresh', '--image', 'trainer', '--no-build', '--dry-run'], {cwd: sandbox.project, env});
		expect(run.code, run.stderr).toBe(0);
		const result = JSON.parse(run.stdout);
		expect(result.plan.slice(0, 2).map((change: {kind: string}) => change.kind)).toEqual(['enable-api', 'create-repository']);
		expect(result.plan[0].command).toBe(`gcloud services enable artifactregistry.googleapis.com --project ${PROJECT}`);
		expect(fake.enabled).toEqual([]);
		expect(mutations()).toEqual([]);
	}, 240_000);
});
