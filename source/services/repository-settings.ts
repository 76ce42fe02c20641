// What a new repository gets: labels, tag immutability and a cleanup policy preset, read from
// flags (with the sentence that says what is wrong) and written as the API and gcloud take them.

export const MANAGED_BY_LABELS: Readonly<Record<string, string>> = Object.freeze({'managed-by': 'imagespec-gar'});

/** A cleanup policy preset: nothing, keep the N most recent versions, or delete untagged versions after D days. */
export type CleanupPreset = {kind: 'none'} | {kind: 'keep'; count: number} | {kind: 'delete-untagged'; days: number};

export type RepositorySettings = {
	description?: string;
	/** Added to managed-by=imagespec-gar, which is always set. */
	labels?: Record<string, string>;
	immutableTags?: boolean;
	cleanup?: CleanupPreset;
};

const CLEANUP_SYNTAX = 'none, keep:N (keep the N most recent versions) or delete-untagged:Dd (delete untagged versions older than D days)';

/** `none` | `keep:N` | `delete-untagged:Dd` → the preset, or a reason it is not one. */
export function parseCleanupPreset(text: string): CleanupPreset | string {
	const value = text.trim().toLowerCase();
	if (value === 'none' || value === '') return {kind: 'none'};
	const keep = /^keep:(\d+)$/.exec(value);
	if (keep) {
		const count = Number(keep[1]);
		return count >= 1 && count <= 10_000 ? {kind: 'keep', count} : 'keep:N needs N between 1 and 10000';
	}
	const untagged = /^delete-untagged:(\d+)d?$/.exec(value);
	if (untagged) {
		const days = Number(untagged[1]);
		return days >= 1 && days <= 3650 ? {kind: 'delete-untagged', days} : 'delete-untagged:Dd needs D between 1 and 3650 days';
	}
	return `use ${CLEANUP_SYNTAX}`;
}

export const formatCleanupPreset = (preset: CleanupPreset): string =>
	preset.kind === 'none' ? 'none' : preset.kind === 'keep' ? `keep:${preset.count}` : `delete-untagged:${preset.days}d`;

export function describeCleanup(preset: CleanupPreset): string {
	switch (preset.kind) {
		case 'none': {
			return 'none (every version is kept)';
		}
		case 'keep': {
			return `keep the ${preset.count} most recent versions of each image, delete older ones`;
		}
		case 'delete-untagged': {
			return `delete untagged versions older than ${preset.days} day${preset.days === 1 ? '' : 's'}`;
		}
	}
}

const DAY_SECONDS = 86_400;

/** A cleanup policy as the API returns it (int64 fields may arrive as strings or Long objects). */
export type CleanupPolicyMessage = {mostRecentVersions?: {keepCount?: unknown} | null; condition?: {olderThan?: {seconds?: unknown} | null} | null};

// NaN (so falsy below) for a missing value.
const wholeNumber = (value: unknown): number => Number(String(value));

// The ids of the policies imagespec-gar writes: how it later knows a repository's policies as its own.
const DELETE_OLD = 'imagespec-gar-delete-old';
const KEEP_RECENT = 'imagespec-gar-keep-recent';
const DELETE_UNTAGGED = 'imagespec-gar-delete-untagged';

/**
 * The repository's cleanupPolicies map. A keep policy only exempts versions from delete policies,
 * so "keep the N most recent" is a delete-everything policy plus a keep-N exemption.
 */
export function cleanupPolicies(preset: CleanupPreset): Record<string, object> {
	switch (preset.kind) {
		case 'none': {
			return {};
		}
		case 'keep': {
			return {
				[DELETE_OLD]: {id: DELETE_OLD, action: 'DELETE', condition: {tagState: 'ANY'}},
				[KEEP_RECENT]: {id: KEEP_RECENT, action: 'KEEP', mostRecentVersions: {keepCount: preset.count}},
			};
		}
		case 'delete-untagged': {
			return {
				[DELETE_UNTAGGED]: {
					id: DELETE_UNTAGGED,
					action: 'DELETE',
					condition: {tagState: 'UNTAGGED', olderThan: {seconds: preset.days * DAY_SECONDS}},
				},
			};
		}
	}
}

/** The preset a repository's cleanupPolicies are (as cleanupPolicies() writes them), or undefined when they are someone else's. */
export function cleanupPresetOf(policies: Record<string, CleanupPolicyMessage>): CleanupPreset | undefined {
	const ids = Object.keys(policies).sort().join(',');
	if (ids === '') return {kind: 'none'};
	const count = wholeNumber(policies[KEEP_RECENT]?.mostRecentVersions?.keepCount);
	if (ids === [DELETE_OLD, KEEP_RECENT].join(',') && count) return {kind: 'keep', count};
	const seconds = wholeNumber(policies[DELETE_UNTAGGED]?.condition?.olderThan?.seconds);
	if (ids === DELETE_UNTAGGED && seconds) return {kind: 'delete-untagged', days: Math.round(seconds / DAY_SECONDS)};
	return undefined;
}

const labelKeyPattern = /^[a-z][a-z0-9_-]{0,62}$/;
const labelValuePattern = /^[a-z0-9_-]{0,63}$/;

/** `k=v` pairs → labels, or the reason one is invalid (Google's label rules). managed-by is ours. */
export function parseLabels(pairs: readonly string[]): Record<string, string> | string {
	const labels: Record<string, string> = {};
	for (const pair of pairs) {
		const index = pair.indexOf('=');
		if (index <= 0) return `${JSON.stringify(pair)}: use key=value`;
		const key = pair.slice(0, index).trim();
		const value = pair.slice(index + 1).trim();
		if (!labelKeyPattern.test(key)) return `${JSON.stringify(key)}: label keys are 1-63 lowercase letters, digits, _ or -, starting with a letter`;
		if (!labelValuePattern.test(value)) return `${JSON.stringify(value)}: label values are at most 63 lowercase letters, digits, _ or -`;
		if (key in MANAGED_BY_LABELS) return `${key} is always ${MANAGED_BY_LABELS[key]}: imagespec-gar sets it`;
		labels[key] = value;
	}
	if (Object.keys(labels).length + Object.keys(MANAGED_BY_LABELS).length > 64) return 'a repository has at most 64 labels';
	return labels;
}
