import {Box} from 'ink';
import {CHECK_TITLES, type Check} from '../services/checks.js';
import {isPending, type PendingCheck} from '../flow/state.js';
import {StatusLine} from './status.js';

/** compact while the checks run (one row each, so the live area fits a small terminal); in full once done. */
export function CheckList({checks, compact = false}: {readonly checks: ReadonlyArray<Check | PendingCheck>; readonly compact?: boolean}) {
	return (
		<Box flexDirection="column">
			{checks.map(check =>
				isPending(check) ? (
					<StatusLine key={check.id} indent={2} status="running" title={CHECK_TITLES[check.id]} compact={compact} />
				) : (
					<StatusLine key={check.id} indent={2} status={check.status} title={check.title} detail={check.detail} fix={check.fix} compact={compact} />
				),
			)}
		</Box>
	);
}
