import {Box, Text} from 'ink';
import {Spinner} from '@inkjs/ui';
import {OUTCOME_WORD, STATE_WORD, statusDetail, buildSummary, type BuildRow} from '../present/images.js';
import type {ImageState, ImageStatus} from '../services/image-status.js';
import {Fix} from './status.js';

const STATE_STYLE: Record<ImageState, {symbol: string; color: string}> = {
	pushed: {symbol: '✔', color: 'green'},
	stale: {symbol: '↻', color: 'yellow'},
	missing: {symbol: '✖', color: 'red'},
	'cannot-tell': {symbol: '?', color: 'magenta'},
	'not-checked': {symbol: '·', color: 'gray'},
};

/** `imagespec-gar status`: one row per declared image, then the verdict. */
type StatusTableProps = {readonly module: string; readonly rows: readonly ImageStatus[]; readonly verdict: string; readonly ok: boolean};

export function StatusTable({module, rows, verdict, ok}: StatusTableProps) {
	const nameWidth = Math.min(48, Math.max(4, ...rows.map(row => row.name.length + (row.tag ? row.tag.length + 1 : 0))));
	const stateWidth = Math.max(...Object.values(STATE_WORD).map(word => word.length));
	return (
		<Box flexDirection="column">
			<Text>
				<Text bold color="cyan">
					imagespec-gar status
				</Text>
				<Text dimColor> · {module}</Text>
			</Text>
			{rows.map(row => (
				<Box key={row.variable} flexDirection="column">
					<Box>
						<Box width={2} flexShrink={0}>
							<Text color={STATE_STYLE[row.state].color}>{STATE_STYLE[row.state].symbol}</Text>
						</Box>
						<Box width={stateWidth + 2} flexShrink={0}>
							<Text color={STATE_STYLE[row.state].color} bold={row.state !== 'pushed'}>
								{STATE_WORD[row.state]}
							</Text>
						</Box>
						<Box width={nameWidth + 2} flexShrink={0}>
							<Text wrap="truncate-middle">
								{row.name}
								<Text dimColor>{row.tag ? `:${row.tag}` : ''}</Text>
							</Text>
						</Box>
						<Box flexGrow={1}>
							<Text dimColor={row.state === 'pushed' || row.state === 'not-checked'} wrap="wrap">
								{statusDetail(row)}
							</Text>
						</Box>
					</Box>
					{row.state === 'cannot-tell' ? <Fix fix={row.fix} /> : null}
				</Box>
			))}
			<Box marginTop={1}>
				<Text bold color={ok ? 'green' : 'red'}>
					{verdict}
				</Text>
			</Box>
		</Box>
	);
}

const OUTCOME_STYLE: Record<Exclude<BuildRow['outcome'], 'running'>, {symbol: string; color: string}> = {
	pending: {symbol: '·', color: 'gray'},
	pushed: {symbol: '✔', color: 'green'},
	present: {symbol: '↷', color: 'cyan'},
	'not-built': {symbol: '↷', color: 'gray'},
	failed: {symbol: '✖', color: 'red'},
	cancelled: {symbol: '■', color: 'gray'},
};

/** `imagespec-gar build`: one live row per image (its current step), then the summary with each failure's fix. */
export function BuildTable({rows, jobs, finished}: {readonly rows: readonly BuildRow[]; readonly jobs: number; readonly finished: boolean}) {
	const nameWidth = Math.min(40, Math.max(4, ...rows.map(row => row.name.length)));
	const summary = finished ? buildSummary(rows) : undefined;
	return (
		<Box flexDirection="column">
			<Text>
				<Text bold color="cyan">
					imagespec-gar build
				</Text>
				<Text dimColor>
					{' '}
					· {rows.length} image{rows.length === 1 ? '' : 's'}, {jobs} at a time
				</Text>
			</Text>
			{rows.map(row => (
				<Box key={row.variable}>
					<Box width={2} flexShrink={0}>
						{row.outcome === 'running' ? <Spinner /> : <Text color={OUTCOME_STYLE[row.outcome].color}>{OUTCOME_STYLE[row.outcome].symbol}</Text>}
					</Box>
					<Box width={10} flexShrink={0}>
						<Text bold={row.outcome === 'failed'} color={row.outcome === 'failed' ? 'red' : undefined}>
							{OUTCOME_WORD[row.outcome]}
						</Text>
					</Box>
					<Box width={nameWidth + 2} flexShrink={0}>
						<Text wrap="truncate-end">{row.name}</Text>
					</Box>
					<Box flexGrow={1}>
						<Text dimColor wrap="truncate-end">
							{row.outcome === 'pushed' ? row.digest : row.outcome === 'failed' ? row.error?.message : row.detail}
						</Text>
					</Box>
				</Box>
			))}
			{summary ? (
				<Box flexDirection="column" marginTop={1}>
					<Text bold color={summary.ok ? 'green' : 'red'}>
						{summary.lines[0]}
					</Text>
					{rows
						.filter(row => row.outcome === 'failed')
						.map(row => (
							<Box key={row.variable} flexDirection="column">
								<Text color="red">
									{row.name}: {row.error?.message}
								</Text>
								<Fix fix={row.error?.fix} />
								{row.logFile ? <Text dimColor> log: {row.logFile}</Text> : null}
							</Box>
						))}
				</Box>
			) : null}
		</Box>
	);
}
