import {parse} from '@cdktf/hcl2json';
import {describe, expect, it} from 'vitest';
import {exportTerraform} from '../../source/services/export-terraform.js';
import {EVERY_OPTION} from '../fixtures/export-setup.js';

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
			// Union's remote image builder pushes (Writer); the operator proxy reads image metadata (Reader).
			union_images_remote_builder_writer: [
				expect.objectContaining({
					repository: '${google_artifact_registry_repository.union_images.name}',
					role: 'roles/artifactregistry.writer',
					member: 'serviceAccount:acme-userflyterol-prod@acme-gcp-dataplane.iam.gserviceaccount.com',
				}),
			],
			union_images_operator_proxy_reader: [
				expect.objectContaining({
					role: 'roles/artifactregistry.reader',
					member: 'serviceAccount:acme-backend-prod@acme-gcp-dataplane.iam.gserviceaccount.com',
				}),
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
				grants: [],
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
