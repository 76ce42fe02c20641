import {Box, Text} from 'ink';
import {Spinner} from '@inkjs/ui';
import type {StepStatus} from '../flow/events.js';
import type {Check} from '../services/checks.js';

/** Symbols carry the status; words follow for screen readers (Ink reads the text). */
const ICON: Record<Exclude<StepStatus, 'running'> | Check['status'], {symbol: string; color: string}> = {
	pending: {symbol: '·', color: 'gray'},
	done: {symbol: '✔', color: 'green'},
	ok: {symbol: '✔', color: 'green'},
	skipped: {symbol: '↷', color: 'cyan'},
	warn: {symbol: '⚠', color: 'yellow'},
	failed: {symbol: '✖', color: 'red'},
	cancelled: {symbol: '■', color: 'gray'},
	fail: {symbol: '✖', color: 'red'},
};

export function StatusIcon({status}: {readonly status: StepStatus | Check['status']}) {
	if (status === 'running') return <Spinner />;
	const {symbol, color} = ICON[status];
	return <Text color={color}>{symbol}</Text>;
}

export function Fix({fix}: {readonly fix?: string}) {
	if (!fix) return null;
	return (
		<Box flexDirection="column" marginLeft={4}>
			{fix.split('\n').map(line => (
				<Text key={line} color="yellow">
					→ {line}
				</Text>
			))}
		</Box>
	);
}

/** One line: icon, title, detail (wrapping under the title, not under the icon); the fix under it. */
/** compact: one row, detail cut at the edge, no fix (a live list must fit the terminal's height). */
export function StatusLine({
	status,
	title,
	detail,
	fix,
	indent = 0,
	waiting = false,
	compact = false,
}: {
	readonly status: StepStatus | Check['status'];
	readonly title: string;
	readonly detail?: string;
	readonly fix?: string;
	readonly indent?: number;
	readonly waiting?: boolean;
	readonly compact?: boolean;
}) {
	return (
		<Box flexDirection="column" marginLeft={indent}>
			<Box>
				<Box width={2} flexShrink={0}>
					{waiting ? <Text color="cyan">›</Text> : <StatusIcon status={status} />}
				</Box>
				<Text wrap={compact ? 'truncate-end' : 'wrap'}>
					<Text bold={indent === 0}>{title}</Text>
					{detail ? <Text dimColor>{` — ${detail}`}</Text> : null}
				</Text>
			</Box>
			{compact ? null : <Fix fix={status === 'ok' || status === 'done' ? undefined : fix} />}
		</Box>
	);
}
