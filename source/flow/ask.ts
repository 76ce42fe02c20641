import {UsageError} from '../services/errors.js';

export type Choice = {
	label: string;
	value: string;
	hint?: string;
	disabled?: boolean;
	/** More text a filter matches besides the label (e.g. a description); the hint is not matched. */
	keywords?: string;
};

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
export type Noun = {one: string; other: string};

/**
 * A select over many choices, with type-to-filter. The choices arrive page by page, so the view
 * shows the first page while later ones load; `pinned` ones (e.g. "create new") always show.
 */
export type SearchQuestion = Base & {
	kind: 'search';
	pages: AsyncIterable<Choice[]>;
	pinned?: Choice[];
	default?: string;
	/** What the list holds, for counts ("1 repository", "5,000 repositories"). */
	noun?: Noun;
};
/** A yes/no answer as typed: y, yes, n, no (any case); anything else is undefined. */
export const parseYesNo = (text: string): boolean | undefined => {
	const answer = text.trim().toLowerCase();
	if (answer === 'y' || answer === 'yes') return true;
	if (answer === 'n' || answer === 'no') return false;
	return undefined;
};

export type Question = SelectQuestion | TextQuestion | ConfirmQuestion | SearchQuestion;

/**
 * Prompts are functions that return promises; the Ink view and @inquirer/prompts both
 * implement this, and the journey never knows which one it talks to.
 */
export type Prompter = {
	select(question: SelectQuestion, signal: AbortSignal): Promise<string>;
	text(question: TextQuestion, signal: AbortSignal): Promise<string>;
	confirm(question: ConfirmQuestion, signal: AbortSignal): Promise<boolean>;
	/** Optional: a prompter without it gets a plain select once every page has loaded. */
	search?(question: SearchQuestion, signal: AbortSignal): Promise<string>;
	/**
	 * Gives the terminal to `work` (e.g. `gcloud auth login` with inherited stdio) and takes it
	 * back afterwards. Optional: without it the wizard never runs an interactive tool.
	 */
	handOverTerminal?<T>(work: () => Promise<T>, signal: AbortSignal): Promise<T>;
};

/**
 * The one place that decides where an answer comes from: the flag, else the person
 * (interactive), else the default (saved answer or built-in), else a usage error naming the flag.
 */
export const createAsker = (prompter: Prompter | undefined, signal: AbortSignal) => {
	const invalid = (flag: string, value: string, problem: string) => new UsageError(`--${flag} ${JSON.stringify(value)} is invalid: ${problem}`, flag);

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

		/** Like select; non-interactive runs never read the pages. */
		async search(question: Omit<SearchQuestion, 'kind'>, given?: string): Promise<string> {
			if (given !== undefined) return given;
			if (prompter?.search) return prompter.search({...question, kind: 'search'}, signal);
			if (prompter) {
				const choices: Choice[] = [...(question.pinned ?? [])];
				for await (const page of question.pages) choices.push(...page);
				return prompter.select({flag: question.flag, message: question.message, choices, default: question.default, kind: 'select'}, signal);
			}
			if (question.default !== undefined) return question.default;
			throw new UsageError(`Missing --${question.flag}: ${question.message.replace(/[?:]\s*$/, '')}`, question.flag);
		},

		/** Non-interactive runs take the default: scripts must not block on a question. */
		async confirm(question: Omit<ConfirmQuestion, 'kind'>): Promise<boolean> {
			if (prompter) return prompter.confirm({...question, kind: 'confirm'}, signal);
			return question.default;
		},

		/** Whether a person is there to use an interactive tool (never in non-interactive runs). */
		canHandOverTerminal: prompter?.handOverTerminal !== undefined,

		async handOverTerminal<T>(work: () => Promise<T>): Promise<T> {
			if (!prompter?.handOverTerminal) throw new Error('No terminal to hand over: check canHandOverTerminal first');
			return prompter.handOverTerminal(work, signal);
		},
	};
};

export type Asker = ReturnType<typeof createAsker>;
