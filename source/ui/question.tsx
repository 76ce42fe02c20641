import {useState} from 'react';
import {Box, Text} from 'ink';
import {ConfirmInput, Select, TextInput} from '@inkjs/ui';
import type {Question} from '../flow/ask.js';
import {FilterSelect} from './filter-select.js';

/**
 * Draws one question and hands the answer back. Validation errors stay on screen under the
 * input; nothing is submitted until the value is valid.
 */
export function QuestionView({question, onAnswer}: {readonly question: Question; readonly onAnswer: (value: string | boolean) => void}) {
	const [error, setError] = useState<string>();
	return (
		<Box flexDirection="column" marginTop={1}>
			<Text bold>
				<Text color="cyan">? </Text>
				{question.message}
			</Text>
			<Box marginLeft={2} flexDirection="column">
				{question.kind === 'select' ? <SelectAnswer question={question} onAnswer={onAnswer} /> : null}
				{question.kind === 'search' ? <FilterSelect question={question} onAnswer={onAnswer} /> : null}
				{question.kind === 'text' ? (
					<TextInput
						defaultValue={question.default}
						placeholder={question.placeholder}
						onSubmit={value => {
							const trimmed = value.trim();
							const problem = question.validate?.(trimmed);
							setError(problem);
							if (!problem) onAnswer(trimmed);
						}}
					/>
				) : null}
				{question.kind === 'confirm' ? (
					<ConfirmInput defaultChoice={question.default ? 'confirm' : 'cancel'} onConfirm={() => onAnswer(true)} onCancel={() => onAnswer(false)} />
				) : null}
				{error ? <Text color="red">✖ {error}</Text> : null}
			</Box>
		</Box>
	);
}

function SelectAnswer({question, onAnswer}: {readonly question: Extract<Question, {kind: 'select'}>; readonly onAnswer: (value: string) => void}) {
	// @inkjs/ui's Select only reports a change of value, so Enter on a preselected default would
	// do nothing: put the default first instead, focused and one Enter away.
	const enabled = question.choices.filter(choice => !choice.disabled);
	const choices = [...enabled].sort((a, b) => Number(b.value === question.default) - Number(a.value === question.default));
	const hidden = question.choices.length - choices.length;
	return (
		<Box flexDirection="column">
			<Select
				visibleOptionCount={8}
				options={choices.map(choice => ({label: choice.hint ? `${choice.label}  ${choice.hint}` : choice.label, value: choice.value}))}
				onChange={onAnswer}
			/>
			{hidden > 0 ? <Text dimColor>{hidden} more not shown: {question.choices.filter(choice => choice.disabled).map(choice => `${choice.label} (${choice.hint ?? 'unavailable'})`).join(', ')}</Text> : null}
		</Box>
	);
}
