/**
 * `status` and `build` in words, one line per image: plain mode, screen readers, CI logs and the
 * stderr of --json. The Ink view (ui/images.tsx) draws the same rows; the words are shared here.
 */
import {formatBytes} from '../format.js';
import type {ImageState, ImageStatus} from '../services/image-status.js';

/** What became of one image in `build`. */
export type BuildOutcome = 'pending' | 'running' | 'pushed' | 'present' | 'not-built' | 'failed' | 'cancelled';

export type BuildRow = {
	variable: string;
	name: string;
	tag?: string;
	uri?: string;
	outcome: BuildOutcome;
	/** The current step while running; why, when not built. */
	detail?: string;
	digest?: string;
	logFile?: string;
	error?: {message: string; fix?: string; reason?: string};
};

export const STATE_WORD: Record<ImageState, string> = {
	pushed: 'pushed',
	stale: 'STALE',
	missing: 'MISSING',
	'cannot-tell': 'cannot tell',
	'not-checked': 'not checked',
};

export const OUTCOME_WORD: Record<BuildOutcome, string> = {
	pending: 'waiting',
	running: 'building',
	pushed: 'pushed',
	present: 'present',
	'not-built': 'not built',
	failed: 'FAILED',
	cancelled: 'cancelled',
};

/** `2026-12-01 20:41` (UTC): short enough for a table row. */
export const shortTime = (iso: string | undefined): string | undefined => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : undefined);

// sha256: and 12 hex digits, as docker prints short ids.
const shortDigest = (digest: string | undefined) => digest?.slice(0, 19);

/** What a status row says after its state word. */
export function statusDetail(row: ImageStatus): string {
	switch (row.state) {
		case 'pushed': {
			const uploaded = shortTime(row.uploadTime);
			return [shortDigest(row.digest), uploaded && `uploaded ${uploaded}`, row.sizeBytes === undefined ? undefined : formatBytes(row.sizeBytes)]
				.filter(Boolean)
				.join(' · ');
		}
		case 'stale': {
			const tags = `${row.otherTags?.slice(0, 3).join(', ')}${(row.otherTags?.length ?? 0) > 3 ? ', …' : ''}`;
			const last = `the repository has ${tags}${row.uploadTime ? ` (last push ${shortTime(row.uploadTime)})` : ''}, not this tag`;
			return row.changed ? `${row.changed}; ${last}` : `the spec or its requirements changed since the last push; ${last}`;
		}
		case 'missing': {
			return 'no tag of this image in the repository';
		}
		default: {
			return row.detail ?? '';
		}
	}
}

/** One line per image: `MISSING      trainer:abc123  no tag of this image in the repository`. */
export function statusLines(rows: readonly ImageStatus[]): string[] {
	const width = Math.max(0, ...rows.map(row => STATE_WORD[row.state].length));
	const lines: string[] = [];
	for (const row of rows) {
		lines.push(`${STATE_WORD[row.state].padEnd(width)}  ${row.name}${row.tag ? `:${row.tag}` : ''}  ${statusDetail(row)}`.trimEnd());
		if (row.fix && row.state === 'cannot-tell') for (const fix of row.fix.split('\n')) lines.push(`${' '.repeat(width + 2)}fix: ${fix}`);
	}
	return lines;
}

export type StatusCounts = Record<ImageState, number>;

export const countStates = (rows: readonly ImageStatus[]): StatusCounts => {
	const counts: StatusCounts = {pushed: 0, stale: 0, missing: 0, 'cannot-tell': 0, 'not-checked': 0};
	for (const row of rows) counts[row.state]++;
	return counts;
};

/** The closing line of `status`, and whether CI may go on (exit 0). */
export function statusVerdict(rows: readonly ImageStatus[]): {ok: boolean; text: string} {
	const counts = countStates(rows);
	const todo = counts.missing + counts.stale;
	const ok = todo === 0 && counts['cannot-tell'] === 0;
	const parts = (Object.entries(counts) as Array<[ImageState, number]>)
		.filter(([, count]) => count > 0)
		.map(([state, count]) => `${count} ${STATE_WORD[state].toLowerCase()}`);
	const summary = `${rows.length} image${rows.length === 1 ? '' : 's'}: ${parts.join(', ') || 'none declared'}.`;
	if (ok) return {ok, text: `${summary} Every image in Artifact Registry is pushed.`};
	if (todo > 0) return {ok, text: `${summary} Run imagespec-gar build --all to build and push what is missing or stale.`};
	return {ok, text: `${summary} Some images could not be checked: see the fixes above.`};
}

/** One line for a build row, as its state changes. */
export function buildLine(row: BuildRow): string {
	const head = `${OUTCOME_WORD[row.outcome]}  ${row.name}${row.tag ? `:${row.tag}` : ''}`;
	const detail = row.outcome === 'pushed' ? row.digest : row.outcome === 'failed' ? row.error?.message : row.detail;
	return detail ? `${head} — ${detail}` : head;
}

/** The closing lines of `build`: a count, then each failure with its fix and log. */
export function buildSummary(rows: readonly BuildRow[]): {ok: boolean; lines: string[]} {
	const count = (outcome: BuildOutcome) => rows.filter(row => row.outcome === outcome).length;
	const failed = rows.filter(row => row.outcome === 'failed');
	const parts = (['pushed', 'present', 'not-built', 'failed', 'cancelled'] as const)
		.filter(outcome => count(outcome) > 0)
		.map(outcome => `${count(outcome)} ${OUTCOME_WORD[outcome].toLowerCase()}`);
	const lines = [`${rows.length} image${rows.length === 1 ? '' : 's'}: ${parts.join(', ') || 'nothing to build'}.`];
	for (const row of failed) {
		lines.push(`${row.name}: ${row.error?.message ?? 'failed'}`);
		if (row.error?.fix) for (const fix of row.error.fix.split('\n')) lines.push(`  fix: ${fix}`);
		if (row.logFile) lines.push(`  log: ${row.logFile}`);
	}
	return {ok: failed.length === 0 && count('cancelled') === 0, lines};
}
