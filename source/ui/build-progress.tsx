// ui/: the Ink (React) components the views draw: the wizard's questions, checks, build progress and summary,
// doctor's table, status and build tables. They only draw state; the journey never imports them.
import {Box, Text} from 'ink';
import type {FlowState} from '../flow/state.js';
import {formatBytes} from '../format.js';

/** The live part of a build: the current Dockerfile step, per-layer push progress, a short log tail. */
export function BuildProgress({flow}: {readonly flow: Pick<FlowState, 'buildStep' | 'layers' | 'logTail'>}) {
	return (
		<Box flexDirection="column" marginLeft={2}>
			{flow.buildStep ? <Text>{flow.buildStep}</Text> : null}
			{flow.layers.map(layer => (
				<Text key={layer.id}>
					<Text dimColor>{layer.id}</Text> {layer.status}
					{layer.total ? (
						<Text dimColor>
							{' '}
							{formatBytes(layer.current ?? 0)} / {formatBytes(layer.total)}
						</Text>
					) : null}
				</Text>
			))}
			{flow.logTail.map((line, index) => (
				// biome-ignore lint/suspicious/noArrayIndexKey: a tail of log lines: position is identity
				<Text key={index} dimColor wrap="truncate-end">
					{line}
				</Text>
			))}
		</Box>
	);
}
