import {useRef, useState} from 'react';
import {Box, Text, useInput, usePaste} from 'ink';
import {Select} from '@inkjs/ui';
import {parseYesNo, type Question} from '../flow/ask.js';
import {FilterSelect} from './filter-select.js';
import {editLine, emptyLine, type Line} from './line-editor.js';

/**
 * Draws one question and hands the answer back. Validation errors stay on screen under the
 * input; nothing is submitted until the value is valid.
 */
export function QuestionView({question, onAnswer}: {readonly question: Question; readonly onAnswer: (value: string | boolean) => void}) {
	const [error, setError] = useState<string>();
	// Defaults show the way readline and @inquirer show them, after the question: Enter takes one,
	// typing replaces it; nothing to erase first. Every question, yes/no included, ends with Enter.
	const shownDefault = question.kind === 'text' ? question.default || undefined : question.kind === 'confirm' ? (question.default ? 'Y/n' : 'y/N') : undefined;
	return (
		<Box flexDirection="column" marginTop={1}>
			<Text bold>
				<Text color="cyan">? </Text>
				{question.message}
				{shownDefault ? <Text dimColor>{` (${shownDefault})`}</Text> : null}
			</Text>
			<Box marginLeft={2} flexDirection="column">
				{question.kind === 'select' ? <SelectAnswer question={question} onAnswer={onAnswer} /> : null}
				{question.kind === 'search' ? <FilterSelect question={question} onAnswer={onAnswer} /> : null}
				{question.kind === 'text' ? (
					<LineInput
						placeholder={question.default ? undefined : question.placeholder}
						onSubmit={value => {
							const answer = value.trim() || question.default?.trim() || '';
							const problem = question.validate?.(answer);
							setError(problem);
							if (!problem) onAnswer(answer);
						}}
					/>
				) : null}
				{question.kind === 'confirm' ? (
					<LineInput
						onSubmit={value => {
							const answer = value.trim() === '' ? question.default : parseYesNo(value);
							setError(answer === undefined ? 'Answer y or n' : undefined);
							if (answer !== undefined) onAnswer(answer);
						}}
					/>
				) : null}
				{error ? <Text color="red">✖ {error}</Text> : null}
			</Box>
		</Box>
	);
}

/** A line of text edited with readline's keys (see line-editor.ts); a paste types its first line, and its line end submits. */
function LineInput({placeholder, onSubmit}: {readonly placeholder?: string; readonly onSubmit: (value: string) => void}) {
	const [line, setLine] = useState<Line>(emptyLine);
	// Several events can arrive before React draws again (a fast typist): each edits the latest line.
	const latest = useRef(line);
	const apply = (next: {line: Line; submit: boolean}) => {
		latest.current = next.line;
		setLine(next.line);
		if (next.submit) onSubmit(next.line.value);
	};

	useInput((input, key) => {
		apply(editLine(latest.current, input, key));
	});
	usePaste(text => {
		apply(editLine(latest.current, text, {}));
	});
	const {value, cursor} = line;
	if (value === '' && placeholder) {
		return (
			<Text>
				<Text inverse>{placeholder[0]}</Text>
				<Text dimColor>{placeholder.slice(1)}</Text>
			</Text>
		);
	}

	return (
		<Text>
			{value.slice(0, cursor)}
			<Text inverse>{value[cursor] ?? ' '}</Text>
			{value.slice(cursor + 1)}
		</Text>
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
				// By position: the Select reports only a truthy value, and '' is a value a question may offer.
				options={choices.map((choice, index) => ({label: choice.hint ? `${choice.label}  ${choice.hint}` : choice.label, value: String(index)}))}
				onChange={index => {
					onAnswer(choices[Number(index)]!.value);
				}}
			/>
			{hidden > 0 ? (
				<Text dimColor>
					{hidden} more not shown:{' '}
					{question.choices
						.filter(choice => choice.disabled)
						.map(choice => `${choice.label} (${choice.hint ?? 'unavailable'})`)
						.join(', ')}
				</Text>
			) : null}
		</Box>
	);
}
