// source/: cli.tsx (the entry) → main.tsx (argv, which command, which presenters), the flags, and app.tsx: the wizard's Ink view.
// The journey is in flow/, its steps in steps/, plain Node services in services/, presenters in present/ and ui/.
import {useEffect, useSyncExternalStore} from 'react';
import {Box, Static, Text, useApp, useInput, useStdin, useWindowSize} from 'ink';
import {currentStep, type TranscriptItem} from './flow/state.js';
import type {InkSession} from './present/ink-session.js';
import {BuildProgress} from './ui/build-progress.js';
import {CheckList} from './ui/check-list.js';
import {QuestionView} from './ui/question.js';
import {StatusLine} from './ui/status.js';
import {Summary} from './ui/summary.js';

/**
 * The Ink root. It only draws the session's state and passes answers back; the journey runs
 * outside React. Finished steps go to <Static> so the live area stays short.
 */
export function App({session, onCancel}: {readonly session: InkSession; readonly onCancel: () => void}) {
	const {flow, question} = useSyncExternalStore(session.subscribe, session.getSnapshot);
	const {isRawModeSupported} = useStdin();
	// The journey hands the terminal to `gcloud auth login` through the session.
	const {suspendTerminal} = useApp();
	useEffect(() => session.attachTerminal(async work => suspendTerminal(work)), [session, suspendTerminal]);
	// <Static> is absolutely positioned: without a width its rows lay out wider than the terminal.
	const {columns} = useWindowSize();
	useInput(
		(input, key) => {
			if (key.ctrl && input === 'c') onCancel();
		},
		{isActive: isRawModeSupported === true},
	);
	const running = currentStep(flow);
	const total = flow.steps.length;
	const index = running ? flow.steps.indexOf(running) + 1 : 0;

	return (
		<>
			<Static items={flow.transcript} style={{width: columns}}>
				{(item, key) => <TranscriptLine key={key} item={item} />}
			</Static>
			<Box flexDirection="column">
				{running ? (
					<StatusLine
						status="running"
						waiting={question !== undefined}
						title={running.title}
						detail={running.detail ? `${running.detail} · step ${index} of ${total}` : `step ${index} of ${total}`}
					/>
				) : null}
				{running?.id === 'checks' ? <CheckList compact checks={flow.checks} /> : null}
				{running?.id === 'build' ? <BuildProgress flow={flow} /> : null}
				{question ? <QuestionView key={`${question.flag}:${question.message}`} question={question} onAnswer={session.answer} /> : null}
				{flow.result ? <Summary result={flow.result} /> : null}
			</Box>
		</>
	);
}

function TranscriptLine({item}: {readonly item: TranscriptItem}) {
	switch (item.kind) {
		case 'step': {
			return (
				<Box flexDirection="column">
					<StatusLine status={item.step.status} title={item.step.title} detail={item.step.detail} fix={item.step.fix} />
					{item.checks ? <CheckList checks={item.checks} /> : null}
				</Box>
			);
		}

		case 'note': {
			// The icon in its own column, as a step's: a long note wraps under its text, not under the icon.
			return (
				<Box>
					<Box width={2} flexShrink={0}>
						<Text color={item.level === 'warn' ? 'yellow' : undefined}>{item.level === 'warn' ? '⚠' : 'ℹ'}</Text>
					</Box>
					<Text color={item.level === 'warn' ? 'yellow' : undefined} wrap="wrap">
						{item.text}
					</Text>
				</Box>
			);
		}

		case 'code': {
			return (
				<Box flexDirection="column" marginY={1}>
					<Text bold>{item.title}</Text>
					<Box borderStyle="single" borderColor="gray" paddingX={1} flexDirection="column">
						<Text>{item.code.trimEnd()}</Text>
					</Box>
				</Box>
			);
		}
	}
}
