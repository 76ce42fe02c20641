import {Box} from 'ink';
import type {Check} from '../services/checks.js';
import {isPending, type PendingCheck} from '../flow/state.js';
import {StatusLine} from './status.js';

const PENDING_TITLES: Record<Check['id'], string> = {
	gcloud: 'gcloud installed',
	account: 'gcloud account',
	project: 'GCP project',
	adc: 'Application Default Credentials',
	'docker-cli': 'docker CLI',
	'docker-engine': 'docker engine',
	'credential-helper': 'docker-credential-gcloud on PATH',
};

export function CheckList({checks}: {readonly checks: ReadonlyArray<Check | PendingCheck>}) {
	return (
		<Box flexDirection="column">
			{checks.map(check =>
				isPending(check) ? (
					<StatusLine key={check.id} indent={2} status="running" title={PENDING_TITLES[check.id]} />
				) : (
					<StatusLine key={check.id} indent={2} status={check.status} title={check.title} detail={check.detail} fix={check.fix} />
				),
			)}
		</Box>
	);
}
