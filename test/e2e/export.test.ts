import {statSync} from 'node:fs';
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {parse} from '@cdktf/hcl2json';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry, type RepositoryObject} from '../support/fake-artifact-registry.js';
import {serveArtifactRegistryRest, type RestFacade} from '../support/fake-artifact-registry-rest.js';
import {loginOffline} from '../support/gcloud.js';
import {imagespecGar} from '../support/cli.js';

const PROJECT = 'acme-ml';
const LOCATION = 'us-east1';
const REPOSITORY = 'ml-images';
const NAME = `projects/${PROJECT}/locations/${LOCATION}/repositories/${REPOSITORY}`;
const HOST = '127.0.0.1:5999';
const SA = 'acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com';

/** A message without proto-loader's oneof markers (conditionType, _tagState): only the fields set. */
const fieldsOf = (value: unknown): unknown =>
	value && typeof value === 'object' && !Array.isArray(value)
		? Object.fromEntries(
				Object.entries(value)
					.filter(([key]) => !key.startsWith('_') && key !== 'conditionType')
					.map(([key, inner]) => [key, fieldsOf(inner)]),
			)
		: value;

/** What a repository is, without what the server stamps on it (times, size, URI). */
const settingsOf = (repository: RepositoryObject | undefined) => {
	const policies = fieldsOf(repository?.cleanupPolicies ?? {}) as Record<string, {condition?: {olderThan?: {seconds: string}}}>;
	return {
		format: repository?.format,
		mode: repository?.mode,
		description: repository?.description,
		labels: repository?.labels,
		dockerConfig: repository?.dockerConfig,
		cleanupPolicies: Object.fromEntries(
			Object.entries(policies).map(([key, policy]) => [
				key,
				policy.condition?.olderThan ? {...policy, condition: {...policy.condition, olderThan: Number(policy.condition.olderThan.seconds)}} : policy,
			]),
		),
		cleanupPolicyDryRun: Boolean(repository?.cleanupPolicyDryRun),
	};
};

describe('imagespec-gar export: the setup without this tool', () => {
	let sandbox: Sandbox;
	/** The one the wizard sets up. */
	let wizardSide: FakeArtifactRegistry;
	/** The one the exported gcloud script sets up (over REST). */
	let scriptSide: FakeArtifactRegistry;
	let rest: RestFacade;
	let env: NodeJS.ProcessEnv;

	beforeAll(async () => {
		[sandbox, wizardSide, scriptSide] = await Promise.all([makeSandbox({ci: 'true'}), startFakeArtifactRegistry(), startFakeArtifactRegistry()]);
		rest = await serveArtifactRegistryRest(scriptSide);
		await loginOffline(sandbox);
		env = {...sandbox.env, IMAGESPEC_GAR_API_ENDPOINT: wizardSide.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: HOST};
		const setup = await imagespecGar(
			[
				...['--project', PROJECT, '--location', LOCATION, '--repository', REPOSITORY, '--image', 'trainer', '--no-build', '--json'],
				...[
					'--description',
					"ML team's images",
					'--label',
					'team=ml',
					'--label',
					'cost-center=r-and-d',
					'--immutable-tags',
					'--cleanup',
					'keep:5',
					'--data-plane-sa',
					SA,
				],
			],
			{cwd: sandbox.project, env},
		);
		expect(setup.code, setup.stderr).toBe(0);
	}, 240_000);

	afterAll(async () => {
		await rest?.stop();
		await Promise.all([wizardSide?.stop(), scriptSide?.stop()]);
		await sandbox?.cleanup();
	});

	it('--format gcloud: the script, run twice by the real gcloud, makes the repository and IAM policy the wizard made', async () => {
		const exported = await imagespecGar(['export', '--format', 'gcloud', '--output', 'setup.sh'], {cwd: sandbox.project, env});
		expect(exported.code, exported.stderr).toBe(0);
		const script = path.join(sandbox.project, 'setup.sh');
		expect(exported.stderr).toContain(`Wrote ${script}`);
		expect(statSync(script).mode & 0o111).not.toBe(0);

		const dockerConfig = path.join(sandbox.root, 'script-docker');
		const gcloudEnv = {
			...sandbox.env,
			CLOUDSDK_API_ENDPOINT_OVERRIDES_ARTIFACTREGISTRY: rest.url,
			CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE: scriptSide.serviceUsageUrl,
			// The loopback docker host is not one gcloud knows.
			CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY: 'true',
			DOCKER_CONFIG: dockerConfig,
		};
		for (const run of [1, 2]) {
			const result = await execa('sh', [script], {env: gcloudEnv, extendEnv: false, reject: false, stdin: 'ignore'});
			expect(result.exitCode, `run ${run}: ${result.stderr}\n${JSON.stringify(scriptSide.calls.map(call => call.method))}`).toBe(0);
		}

		expect(settingsOf(scriptSide.repositories.get(NAME))).toEqual(settingsOf(wizardSide.repositories.get(NAME)));
		expect(settingsOf(scriptSide.repositories.get(NAME))).toMatchObject({
			format: 'DOCKER',
			dockerConfig: {immutableTags: true},
			labels: {team: 'ml', 'cost-center': 'r-and-d', 'managed-by': 'imagespec-gar'},
		});
		expect(scriptSide.policies.get(NAME)?.bindings).toEqual(wizardSide.policies.get(NAME)?.bindings);
		expect(scriptSide.policies.get(NAME)?.bindings).toEqual([{role: 'roles/artifactregistry.reader', members: [`serviceAccount:${SA}`]}]);
		expect(scriptSide.enabled).toEqual([`${PROJECT}/artifactregistry.googleapis.com`, `${PROJECT}/artifactregistry.googleapis.com`]);
		// Run twice, created once: the second run found it.
		expect(scriptSide.calls.filter(call => call.method === `REST POST projects/${PROJECT}/locations/${LOCATION}/repositories`)).toHaveLength(1);
		expect(JSON.parse(await readFile(path.join(dockerConfig, 'config.json'), 'utf8')).credHelpers).toEqual({[HOST]: 'gcloud'});
		// Two runs of the script, six gcloud commands each: ~2 s apiece, ~10 s on a loaded 2-core machine.
	}, 360_000);

	it('--format terraform: parses as HCL, every attribute is the saved setup, and the existing repository is imported', async () => {
		const exported = await imagespecGar(['export', '--format', 'terraform'], {cwd: sandbox.project, env});
		expect(exported.code, exported.stderr).toBe(0);
		const hcl = (await parse('main.tf', exported.stdout)) as {
			variable: Record<string, Array<{default: string}>>;
			resource: Record<string, Record<string, Array<Record<string, any>>>>;
			import: Array<{to: string; id: string}>;
		};
		expect(hcl.variable.project![0]!.default).toBe(PROJECT);
		expect(hcl.variable.location![0]!.default).toBe(LOCATION);
		const [repository] = Object.values(hcl.resource.google_artifact_registry_repository!)[0]!;
		expect(repository).toMatchObject({
			project: '${var.project}',
			location: '${var.location}',
			repository_id: REPOSITORY,
			format: 'DOCKER',
			description: "ML team's images",
			labels: {team: 'ml', 'cost-center': 'r-and-d', 'managed-by': 'imagespec-gar'},
			docker_config: [{immutable_tags: true}],
			cleanup_policy_dry_run: false,
			cleanup_policies: [
				{id: 'imagespec-gar-delete-old', action: 'DELETE', condition: [{tag_state: 'ANY'}]},
				{id: 'imagespec-gar-keep-recent', action: 'KEEP', most_recent_versions: [{keep_count: 5}]},
			],
		});
		const [member] = Object.values(hcl.resource.google_artifact_registry_repository_iam_member!)[0]!;
		expect(member).toMatchObject({
			role: 'roles/artifactregistry.reader',
			member: `serviceAccount:${SA}`,
			repository: '${google_artifact_registry_repository.ml_images.name}',
		});
		expect(hcl.import).toEqual([{to: '${google_artifact_registry_repository.ml_images}', id: NAME}]);
	}, 60_000);

	it('--help names the subcommand, its flags and --dry-run', async () => {
		const {code, stdout} = await imagespecGar(['--help'], {cwd: sandbox.project, env});
		expect(code).toBe(0);
		for (const text of ['imagespec-gar export --format gcloud|terraform [--output FILE]', '--format gcloud|terraform', '--dry-run', 'Apply these changes?'])
			expect(stdout).toContain(text);
	});

	it('bad usage is one line and exit 2: no --format, an unknown one, --format without export, and no setup to export', async () => {
		const stray = await imagespecGar(['--format', 'gcloud'], {cwd: sandbox.project, env});
		expect(stray).toMatchObject({code: 2, stderr: 'Error: --format belongs to imagespec-gar export\nRun imagespec-gar --help for usage.\n'});
		const missing = await imagespecGar(['export'], {cwd: sandbox.project, env});
		expect(missing).toMatchObject({code: 2, stdout: ''});
		expect(missing.stderr).toBe('Error: Missing --format: use --format gcloud or --format terraform\nRun imagespec-gar --help for usage.\n');
		const unknown = await imagespecGar(['export', '--format', 'pulumi'], {cwd: sandbox.project, env});
		expect(unknown.code).toBe(2);
		expect(unknown.stderr).toContain('--format "pulumi" is invalid: use gcloud or terraform');
		const nowhere = await imagespecGar(['export', '--format', 'gcloud'], {cwd: sandbox.root, env});
		expect(nowhere.code).toBe(2);
		expect(nowhere.stderr).toContain('Missing --project: nothing saved for this project folder either');
	});
});
