import {UsageError} from '../services/errors.js';

export type Choice = {label: string; value: string; hint?: string; disabled?: boolean};

type Base = {
	/** The flag that answers this question without asking (named when it is missing). */
	flag: string;
	message: string;
};

export type SelectQuestion = Base & {kind: 'select'; choices: Choice[]; default?: string};
export type TextQuestion = Base & {
	kind: 'text';
	default?: string;
	placeholder?: string;
	/** Returns why the value is invalid, or undefined. */
	validate?: (value: string) => string | undefined;
};
export type ConfirmQuestion = Base & {kind: 'confirm'; default: boolean};
export type Question = SelectQuestion | TextQuestion | ConfirmQuestion;

/**
 * Prompts are functions that return promises; the Ink view and @inquirer/prompts both
 * implement this, and the journey never knows which one it talks to.
 */
export type Prompter = {
	select(question: SelectQuestion, signal: AbortSignal): Promise<string>;
	text(question: TextQuestion, signal: AbortSignal): Promise<string>;
	confirm(question: ConfirmQuestion, signal: AbortSignal): Promise<boolean>;
};

/**
 * The one place that decides where an answer comes from: the flag, else the person
 * (interactive), else the default (saved answer or built-in), else a usage error naming the flag.
 */
export const createAsker = (prompter: Prompter | undefined, signal: AbortSignal) => {
	const invalid = (flag: string, value: string, problem: string) =>
		new UsageError(`--${flag} ${JSON.stringify(value)} is invalid: ${problem}`, flag);

	return {
		interactive: prompter !== undefined,

		async text(question: Omit<TextQuestion, 'kind'>, given?: string): Promise<string> {
			if (given !== undefined) {
				const problem = question.validate?.(given);
				if (problem) throw invalid(question.flag, given, problem);
				return given;
			}

			if (prompter) return prompter.text({...question, kind: 'text'}, signal);
			if (question.default !== undefined) {
				const problem = question.validate?.(question.default);
				if (problem) throw invalid(question.flag, question.default, `${problem} (saved answer)`);
				return question.default;
			}

			throw new UsageError(`Missing --${question.flag}: ${question.message.replace(/[?:]\s*$/, '')}`, question.flag);
		},

		async select(question: Omit<SelectQuestion, 'kind'>, given?: string): Promise<string> {
			if (given !== undefined) return given;
			if (prompter) return prompter.select({...question, kind: 'select'}, signal);
			if (question.default !== undefined) return question.default;
			throw new UsageError(`Missing --${question.flag}: ${question.message.replace(/[?:]\s*$/, '')}`, question.flag);
		},

		/** Non-interactive runs take the default: scripts must not block on a question. */
		async confirm(question: Omit<ConfirmQuestion, 'kind'>): Promise<boolean> {
			if (prompter) return prompter.confirm({...question, kind: 'confirm'}, signal);
			return question.default;
		},
	};
};

export type Asker = ReturnType<typeof createAsker>;
