import {MANAGED_BY_LABELS, cleanupPolicies, formatCleanupPreset, type RepositorySettings} from './repository-settings.js';
import type {RepositoryRef} from './artifact-registry.js';
import {configureDockerCommand, enableApiCommand, grantCommand} from './fixes.js';
import {serviceAccountMember} from './repository-iam.js';
import {UNION_ACCOUNTS, type UnionAccount} from './union-accounts.js';

/** What `imagespec-gar export` reproduces: one folder's repository, its grants and docker's auth. */
export type ExportSetup = RepositoryRef & {
	settings: Required<RepositorySettings>;
	/** The Union data plane's accounts (another project), each granted its role (UNION_ACCOUNTS), in order. */
	grants: RepositoryGrant[];
	/** The docker host, e.g. us-east1-docker.pkg.dev. */
	registryHost: string;
	/** Whether the repository exists already (undefined: could not tell). */
	exists?: boolean;
};

export type RepositoryGrant = {account: UnionAccount; serviceAccount: string};

/** Why an account gets its role, as the exports say it above the grant. */
export const grantComment = (account: UnionAccount): string =>
	account === 'worker'
		? 'The Union data plane (another project) may pull from the repository'
		: account === 'builder'
			? "Union's remote image builder (the data plane's user role) may push to the repository"
			: "The data plane's operator proxy may read the repository's images";

/** A word as POSIX sh reads it back unchanged: bare when safe, else single-quoted. */
export const shellQuote = (word: string): string => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);

/** A new repository's labels, with managed-by=imagespec-gar (always set). */
export const repositoryLabels = (settings: Pick<RepositorySettings, 'labels'>): Record<string, string> => ({...settings.labels, ...MANAGED_BY_LABELS});

/** A new repository's settings as data (--json plans, exports). */
export const repositorySettingsData = (settings: Required<RepositorySettings>) => ({
	format: 'DOCKER',
	description: settings.description,
	labels: repositoryLabels(settings),
	immutableTags: settings.immutableTags,
	cleanup: formatCleanupPreset(settings.cleanup),
	cleanupPolicies: cleanupPolicies(settings.cleanup),
});

/** `gcloud artifacts repositories create` with every setting the wizard gives a new repository. */
export function createRepositoryCommand({project, location, repository}: RepositoryRef, settings: Required<RepositorySettings>): string {
	const labels = Object.entries(repositoryLabels(settings))
		.map(([key, value]) => `${key}=${value}`)
		.join(',');
	return [
		`gcloud artifacts repositories create ${repository} --project ${project} --location ${location} --repository-format=docker --mode=standard-repository`,
		...(settings.description ? [`--description=${shellQuote(settings.description)}`] : []),
		`--labels=${labels}`,
		...(settings.immutableTags ? ['--immutable-tags'] : []),
	].join(' ');
}

/** One entry of cleanupPolicies(), as the API takes it. */
export type ApiPolicy = {id: string; action: string; condition?: {tagState?: string; olderThan?: {seconds: number}}; mostRecentVersions?: {keepCount: number}};

/**
 * The cleanup policy as gcloud's policy file (`set-cleanup-policies --policy FILE`): a list of
 * {name, action: {type}, condition | mostRecentVersions}, from the same policies the API gets.
 */
export function gcloudCleanupPolicyFile(settings: Pick<RepositorySettings, 'cleanup'>): unknown[] {
	return Object.values(cleanupPolicies(settings.cleanup ?? {kind: 'none'}) as Record<string, ApiPolicy>).map(policy => ({
		name: policy.id,
		action: {type: policy.action},
		...(policy.condition
			? {
					condition: {
						...(policy.condition.tagState ? {tagState: policy.condition.tagState} : {}),
						...(policy.condition.olderThan ? {olderThan: `${policy.condition.olderThan.seconds}s`} : {}),
					},
				}
			: {}),
		...(policy.mostRecentVersions ? {mostRecentVersions: policy.mostRecentVersions} : {}),
	}));
}

/** The first line of every export: what it sets up. */
export const exportTitle = ({project, location, repository}: RepositoryRef): string =>
	`The Artifact Registry setup of imagespec-gar: repository ${repository} in ${project} · ${location}.`;

/**
 * A POSIX shell script that reproduces the setup with gcloud alone. Safe to run again: the
 * repository is created only when `describe` cannot find it; the other commands are idempotent.
 */
export function exportGcloud(setup: ExportSetup): string {
	const {project, location, repository, settings} = setup;
	const ref = {project, location, repository};
	const where = `--project ${project} --location ${location}`;
	const policies = gcloudCleanupPolicyFile(settings);
	const lines = [
		'#!/bin/sh',
		`# ${exportTitle(setup)}`,
		'# Runnable as it is (gcloud logged in as someone who may create repositories and change their IAM policy);',
		'# running it again changes nothing that is already in place.',
		'set -eu',
		'# pipefail where the shell has it (POSIX 2024: bash, zsh, ksh, busybox; not older dash)',
		'if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi',
		'',
		'# The Artifact Registry API (enabling an enabled API is a no-op)',
		enableApiCommand(project),
		'',
		`# The Docker repository (created only when it does not exist yet)`,
		`if ! gcloud artifacts repositories describe ${repository} ${where} >/dev/null 2>&1; then`,
		`\t${createRepositoryCommand(ref, settings)}`,
		'fi',
	];
	if (policies.length > 0) {
		lines.push(
			'',
			`# Cleanup policy: ${formatCleanupPreset(settings.cleanup)}`,
			'policy_file="$(mktemp)"',
			`trap 'rm -f "$policy_file"' EXIT`,
			`cat > "$policy_file" <<'POLICY'`,
			JSON.stringify(policies, null, 2),
			'POLICY',
			`gcloud artifacts repositories set-cleanup-policies ${repository} ${where} --policy="$policy_file" --no-dry-run`,
		);
	}

	for (const {account, serviceAccount} of setup.grants) {
		lines.push('', `# ${grantComment(account)}`, `${grantCommand(ref, serviceAccountMember(serviceAccount), UNION_ACCOUNTS[account].role)} --condition=None`);
	}

	lines.push('', '# docker asks gcloud for credentials for the repository host', `${configureDockerCommand(setup.registryHost)} --quiet`, '');
	return lines.join('\n');
}
