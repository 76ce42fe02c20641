import {repositoryName} from './artifact-registry.js';
import {exportTitle, grantComment, repositoryLabels, type ApiPolicy, type ExportSetup} from './export-gcloud.js';
import {serviceAccountMember} from './repository-iam.js';
import {UNION_ACCOUNTS} from './union-accounts.js';
import {cleanupPolicies, formatCleanupPreset} from './repository-settings.js';

/** An HCL string literal (JSON's escapes, and `${` / `%{` kept literal). */
const hclString = (value: string): string =>
	JSON.stringify(value)
		.replaceAll('${', () => '$${')
		.replaceAll('%{', () => '%%{');

/** A map key as HCL reads it: bare when it is an identifier, else quoted. */
const hclKey = (key: string): string => (/^[A-Za-z_][\w-]*$/.test(key) ? key : hclString(key));

/** The grant resources' names after the repository's (data_plane_reader kept from the first exports). */
const GRANT_RESOURCE = {worker: 'data_plane_reader', builder: 'remote_builder_writer', 'operator-proxy': 'operator_proxy_reader'} as const;

/** Resource names in the output: Terraform identifiers derived from the repository id. */
const resourceName = (repository: string): string => repository.replaceAll('-', '_');

/**
 * The setup as Terraform for the google provider: variables for project and location, the
 * repository (google_artifact_registry_repository, with every setting the wizard gives it),
 * the data plane's grants (google_artifact_registry_repository_iam_member), and an
 * `import` block when the repository exists already, so `terraform apply` adopts it.
 */
export function exportTerraform(setup: ExportSetup): string {
	const {project, location, repository, settings} = setup;
	const name = resourceName(repository);
	const ref = `google_artifact_registry_repository.${name}`;
	const policies = Object.values(cleanupPolicies(settings.cleanup) as Record<string, ApiPolicy>);
	const labels = Object.entries(repositoryLabels(settings));
	const width = Math.max(...labels.map(([key]) => hclKey(key).length));

	const out: string[] = [
		`# ${exportTitle(setup)}`,
		'',
		'variable "project" {',
		'  description = "GCP project of the Artifact Registry repository"',
		'  type        = string',
		`  default     = ${hclString(project)}`,
		'}',
		'',
		'variable "location" {',
		'  description = "Artifact Registry location: the region of the Union data plane"',
		'  type        = string',
		`  default     = ${hclString(location)}`,
		'}',
		'',
		`resource "google_artifact_registry_repository" ${hclString(name)} {`,
		'  project       = var.project',
		'  location      = var.location',
		`  repository_id = ${hclString(repository)}`,
		'  format        = "DOCKER"',
		'  mode          = "STANDARD_REPOSITORY"',
		`  description   = ${hclString(settings.description)}`,
		'',
		'  labels = {',
		...labels.map(([key, value]) => `    ${hclKey(key).padEnd(width)} = ${hclString(value)}`),
		'  }',
		'',
		'  docker_config {',
		`    immutable_tags = ${settings.immutableTags}`,
		'  }',
	];
	if (policies.length > 0) {
		out.push('', `  # Cleanup policy: ${formatCleanupPreset(settings.cleanup)}`, '  cleanup_policy_dry_run = false');
		for (const policy of policies) {
			out.push('', '  cleanup_policies {', `    id     = ${hclString(policy.id)}`, `    action = ${hclString(policy.action)}`);
			if (policy.condition) {
				out.push('    condition {');
				if (policy.condition.tagState) out.push(`      tag_state  = ${hclString(policy.condition.tagState)}`);
				if (policy.condition.olderThan) out.push(`      older_than = ${hclString(`${policy.condition.olderThan.seconds}s`)}`);
				out.push('    }');
			}

			if (policy.mostRecentVersions) out.push('    most_recent_versions {', `      keep_count = ${policy.mostRecentVersions.keepCount}`, '    }');
			out.push('  }');
		}
	}

	out.push('}');
	for (const {account, serviceAccount} of setup.grants) {
		const {role} = UNION_ACCOUNTS[account];
		out.push(
			'',
			`# ${grantComment(account)}.`,
			`resource "google_artifact_registry_repository_iam_member" ${hclString(`${name}_${GRANT_RESOURCE[account]}`)} {`,
			`  project    = ${ref}.project`,
			`  location   = ${ref}.location`,
			`  repository = ${ref}.name`,
			`  role       = ${hclString(role)}`,
			`  member     = ${hclString(serviceAccountMember(serviceAccount))}`,
			'}',
		);
	}

	if (setup.exists) {
		out.push(
			'',
			'# The repository exists already: Terraform adopts it instead of creating it (Terraform >= 1.5).',
			'import {',
			`  to = ${ref}`,
			`  id = ${hclString(repositoryName({project, location, repository}))}`,
			'}',
		);
	}

	return `${out.join('\n')}\n`;
}
