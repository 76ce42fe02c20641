import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {parse} from '@cdktf/hcl2json';
import {describe, expect, it} from 'vitest';
import {exportGcloud, gcloudCleanupPolicyFile, shellQuote, type ExportSetup} from '../../source/services/export-gcloud.js';
import {exportTerraform} from '../../source/services/export-terraform.js';

const run = promisify(execFile);

/** Every option the wizard supports, with text that needs quoting in both languages. */
const EVERY_OPTION: ExportSetup = {
	project: 'acme-ml',
	location: 'europe-west4',
	repository: 'union-images',
	settings: {
		description: 'Team "ML" images: ${not a template} and 100%{x}; it\'s fine',
		labels: {team: 'ml', 'cost-center': 'r-and-d'},
		immutableTags: true,
		cleanup: {kind: 'delete-untagged', days: 30},
	},
	dataPlaneServiceAccount: 'acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com',
	registryHost: 'europe-west4-docker.pkg.dev',
	exists: true,
};

type Hcl = {
	variable: Record<string, Array<Record<string, unknown>>>;
	resource: Record<string, Record<string, Array<Record<string, any>>>>;
	import?: Array<{to: string; id: string}>;
};

describe('Terraform export', () => {
	it('a setup with every option: the output as reviewed (snapshot)', async () => {
		await expect(exportTerraform(EVERY_OPTION)).toMatchFileSnapshot('__snapshots__/every-option.tf');
	});

	it("parses with HashiCorp's HCL parser, and every attribute is the setup", async () => {
		const hcl = (await parse('main.tf', exportTerraform(EVERY_OPTION))) as Hcl;
		expect(hcl.variable).toMatchObject({project: [{type: '${string}', default: 'acme-ml'}], location: [{type: '${string}', default: 'europe-west4'}]});
		expect(hcl.resource.google_artifact_registry_repository).toEqual({
			union_images: [
				{
					project: '${var.project}',
					location: '${var.location}',
					repository_id: 'union-images',
					format: 'DOCKER',
					mode: 'STANDARD_REPOSITORY',
					// HCL's own escapes: $${ and %%{ read back as the literal text.
					description: 'Team "ML" images: $${not a template} and 100%%{x}; it\'s fine',
					labels: {team: 'ml', 'cost-center': 'r-and-d', 'managed-by': 'imagespec-gar'},
					docker_config: [{immutable_tags: true}],
					cleanup_policy_dry_run: false,
					cleanup_policies: [{id: 'imagespec-gar-delete-untagged', action: 'DELETE', condition: [{tag_state: 'UNTAGGED', older_than: '2592000s'}]}],
				},
			],
		});
		expect(hcl.resource.google_artifact_registry_repository_iam_member).toEqual({
			union_images_data_plane_reader: [
				{
					project: '${google_artifact_registry_repository.union_images.project}',
					location: '${google_artifact_registry_repository.union_images.location}',
					repository: '${google_artifact_registry_repository.union_images.name}',
					role: 'roles/artifactregistry.reader',
					member: 'serviceAccount:acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com',
				},
			],
		});
		expect(hcl.import).toEqual([
			{to: '${google_artifact_registry_repository.union_images}', id: 'projects/acme-ml/locations/europe-west4/repositories/union-images'},
		]);
	});

	it('the fewest options: no cleanup policy, no grant, and no import block for a repository to create', async () => {
		const hcl = (await parse(
			'main.tf',
			exportTerraform({
				...EVERY_OPTION,
				settings: {description: '', labels: {}, immutableTags: false, cleanup: {kind: 'none'}},
				dataPlaneServiceAccount: undefined,
				exists: false,
			}),
		)) as Hcl;
		const [repository] = hcl.resource.google_artifact_registry_repository!.union_images!;
		expect(repository).toMatchObject({labels: {'managed-by': 'imagespec-gar'}, docker_config: [{immutable_tags: false}]});
		expect(repository).not.toHaveProperty('cleanup_policies');
		expect(hcl.resource).not.toHaveProperty('google_artifact_registry_repository_iam_member');
		expect(hcl).not.toHaveProperty('import');
	});
});

describe('gcloud export', () => {
	it('is a script sh accepts, and quotes what the shell would otherwise read', async () => {
		const script = exportGcloud(EVERY_OPTION);
		await expect(run('sh', ['-n', '-c', script])).resolves.toBeDefined();
		expect(script).toContain(`--description='Team "ML" images: \${not a template} and 100%{x}; it'\\''s fine'`);
		expect(script).toContain('--labels=team=ml,cost-center=r-and-d,managed-by=imagespec-gar --immutable-tags');
		expect(script).toContain('gcloud auth configure-docker europe-west4-docker.pkg.dev --quiet');
		const {stdout} = await run('sh', ['-c', `printf '%s' ${shellQuote("it's $HOME `x`")}`]);
		expect(stdout).toBe("it's $HOME `x`");
	});

	it('writes the cleanup policy in the file format gcloud reads, from the same policies the API gets', () => {
		expect(gcloudCleanupPolicyFile({cleanup: {kind: 'keep', count: 5}})).toEqual([
			{name: 'imagespec-gar-delete-old', action: {type: 'DELETE'}, condition: {tagState: 'ANY'}},
			{name: 'imagespec-gar-keep-recent', action: {type: 'KEEP'}, mostRecentVersions: {keepCount: 5}},
		]);
		expect(gcloudCleanupPolicyFile({cleanup: {kind: 'delete-untagged', days: 2}})).toEqual([
			{name: 'imagespec-gar-delete-untagged', action: {type: 'DELETE'}, condition: {tagState: 'UNTAGGED', olderThan: '172800s'}},
		]);
		expect(exportGcloud({...EVERY_OPTION, settings: {...EVERY_OPTION.settings, cleanup: {kind: 'none'}}})).not.toContain('set-cleanup-policies');
	});
});
