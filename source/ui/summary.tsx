import {Box, Text} from 'ink';
import {declarationNoun, type JourneyResult} from '../flow/events.js';
import {planLines} from '../flow/plan.js';

/** The end of the journey: what exists now and the next command to run. */
export function Summary({result}: {readonly result: JourneyResult}) {
	// A hand-over to `build` draws its own rows and summary.
	if (!result.ok || result.buildImages) return null;
	if (result.plan) {
		return (
			<Box flexDirection="column" marginTop={1} borderStyle="round" borderColor="yellow" paddingX={1}>
				<Text bold color="yellow">
					Dry run: nothing was changed{result.plan.length > 0 ? '. The plan, in order:' : ''}
				</Text>
				{planLines(result.plan).map(line => (
					<Text key={line} wrap="wrap">
						{line}
					</Text>
				))}
				<Text dimColor>Without --dry-run, the same run makes these changes.</Text>
			</Box>
		);
	}

	const rows: Array<[string, string | undefined]> = [
		['Repository', result.repository && `${result.project}/${result.location}/${result.repository}${result.repositoryCreated ? ' (created)' : ''}`],
		['Registry', result.registry],
		['Image', result.imageUri && `${result.imageUri}${result.inRepository === false ? '  (not in the repository yet)' : ''}`],
		['Digest', result.digest],
		['Module', result.specFile],
		['Build log', result.logFile],
	];
	return (
		<Box flexDirection="column" marginTop={1} borderStyle="round" borderColor="green" paddingX={1}>
			<Text bold color="green">
				{result.pushed
					? 'Your image is in Artifact Registry'
					: result.inRepository
						? 'Your image was already in Artifact Registry'
						: `Your ${declarationNoun(result.sdk)} is ready`}
			</Text>
			{rows
				.filter((row): row is [string, string] => Boolean(row[1]))
				.map(([label, value]) => (
					<Box key={label}>
						<Box width={11} flexShrink={0}>
							<Text dimColor>{label}</Text>
						</Box>
						<Text wrap="wrap">{value}</Text>
					</Box>
				))}
			{result.usage ? (
				<Box marginTop={1} flexDirection="column">
					<Text>Use the image in a task:</Text>
					{result.usage.map((line, index) => (
						// biome-ignore lint/suspicious/noArrayIndexKey: fixed lines of code: position is identity
						<Text key={index} color="cyan">{`  ${line}`}</Text>
					))}
				</Box>
			) : null}
			{result.nextCommand ? (
				<Box marginTop={1} flexDirection="column">
					<Text>Then register:</Text>
					<Text color="cyan"> {result.nextCommand}</Text>
				</Box>
			) : null}
		</Box>
	);
}
