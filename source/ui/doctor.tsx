import {Box, Text, useWindowSize} from 'ink';
import {CHECK_TITLES, type Check, type CheckId} from '../services/checks.js';
import {Fix, StatusIcon} from './status.js';

export type DoctorRow = Check | {id: CheckId; pending: true};

/** What `imagespec-gar doctor` draws: a table of checks filling in as they finish, then the verdict. */
export function DoctorView({rows, verdict, note}: {readonly rows: readonly DoctorRow[]; readonly verdict?: string; readonly note?: string}) {
	const {columns} = useWindowSize();
	const titleWidth = Math.max(...Object.values(CHECK_TITLES).map(title => title.length)) + 2;
	// Narrow terminals: the finding goes under the title instead of beside it.
	const stacked = columns < titleWidth + 40;
	return (
		<Box flexDirection="column">
			<Text>
				<Text bold color="cyan">
					imagespec-gar doctor
				</Text>
				<Text dimColor> · gcloud, credentials, docker, your repository and Python</Text>
			</Text>
			{rows.map(row => {
				const check = 'pending' in row ? undefined : row;
				return (
					<Box key={row.id} flexDirection="column">
						<Box flexDirection={stacked ? 'column' : 'row'}>
							<Box flexShrink={0} width={stacked ? undefined : titleWidth + 2}>
								<Box width={2} flexShrink={0}>
									<StatusIcon status={check ? check.status : 'running'} />
								</Box>
								<Text bold={check?.status === 'fail'}>{CHECK_TITLES[row.id]}</Text>
							</Box>
							<Box marginLeft={stacked ? 2 : 0} flexGrow={1}>
								<Text dimColor={!check || check.status === 'ok'} wrap="wrap">
									{check ? `${check.detail}${check.status === 'warn' && !check.required ? ' (optional)' : ''}` : 'checking…'}
								</Text>
							</Box>
						</Box>
						{check?.fix ? (
							<Box marginLeft={stacked ? 0 : titleWidth - 2}>
								<Fix fix={check.fix} />
							</Box>
						) : null}
					</Box>
				);
			})}
			{note ? <Text dimColor>ℹ {note}</Text> : null}
			{verdict ? (
				<Box marginTop={1}>
					<Text bold color={verdict.startsWith('Ready') ? 'green' : 'red'}>
						{verdict}
					</Text>
				</Box>
			) : null}
		</Box>
	);
}
