import {Box} from 'ink';
import {CHECK_TITLES, type Check} from '../services/checks.js';
import {isPending, type PendingCheck} from '../flow/state.js';
import {StatusLine} from './status.js';


export function CheckList({checks}: {readonly checks: ReadonlyArray<Check | PendingCheck>}) {
	return (
		<Box flexDirection="column">
			{checks.map(check =>
				isPending(check) ? (
					<StatusLine key={check.id} indent={2} status="running" title={CHECK_TITLES[check.id]} />
				) : (
					<StatusLine key={check.id} indent={2} status={check.status} title={check.title} detail={check.detail} fix={check.fix} />
				),
			)}
		</Box>
	);
}
