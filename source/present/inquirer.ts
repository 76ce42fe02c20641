import {CancelledError} from '../services/errors.js';
import type {Choice, Prompter} from '../flow/ask.js';
import {countOf, filterChoices} from '../flow/choices.js';

/**
 * Line-by-line prompts (@inquirer/prompts) for --plain: screen readers and dumb terminals.
 * Ink is never mounted in this mode, so only one reader owns the keyboard.
 */
export const createInquirerPrompter = (): Prompter => {
	const prompts = import('@inquirer/prompts');
	const cancellable = async <T>(signal: AbortSignal, ask: () => Promise<T>): Promise<T> => {
		try {
			return await ask();
		} catch (error) {
			// Ctrl-C inside a prompt (ExitPromptError) or our own abort: both are a cancel.
			if (signal.aborted || (error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError'))) throw new CancelledError();
			throw error;
		}
	};

	return {
		async select(question, signal) {
			const {select} = await prompts;
			return cancellable(signal, () =>
				select(
					{
						message: question.message,
						choices: question.choices.map(choice => ({
							name: choice.label,
							value: choice.value,
							description: choice.hint,
							disabled: choice.disabled ? (choice.hint ?? true) : false,
						})),
						default: question.default,
						pageSize: 12,
					},
					{signal},
				),
			);
		},

		async text(question, signal) {
			const {input} = await prompts;
			return cancellable(signal, async () =>
				(
					await input(
						{
							message: question.message,
							default: question.default || undefined,
							validate: value => question.validate?.(value.trim()) ?? true,
						},
						{signal},
					)
				).trim(),
			);
		},

		async confirm(question, signal) {
			const {confirm} = await prompts;
			return cancellable(signal, () => confirm({message: question.message, default: question.default}, {signal}));
		},

		async search(question, signal) {
			const {search} = await prompts;
			// Pages load in the background; each keystroke filters what has arrived so far.
			const loaded: Choice[] = [];
			let status: string | undefined = 'loading';
			let answered = false;
			void (async () => {
				try {
					for await (const page of question.pages) {
						// Once answered, later pages are not needed: stop asking for them.
						if (answered || signal.aborted) return;
						loaded.push(...page);
					}
					status = undefined;
				} catch (error) {
					status = `could not load the rest: ${error instanceof Error ? error.message : String(error)}`;
				}
			})();
			const toInquirer = (choice: Choice) => ({
				name: choice.label,
				value: choice.value,
				description: choice.hint,
				disabled: choice.disabled ? (choice.hint ?? true) : false,
			});
			return cancellable(signal, async () =>
				search(
					{
						message: question.message,
						// Pinned rows lead the full list and follow a filtered one: the cursor lands on the first row.
						source: term => [
							...(term ? [] : (question.pinned ?? []).map(toInquirer)),
							...filterChoices(loaded, term ?? '').map(toInquirer),
							...(term ? (question.pinned ?? []).map(toInquirer) : []),
							...(status
								? [
										{
											name: status === 'loading' ? `${countOf(loaded.length, question.noun)} so far, more loading: type to filter` : status,
											value: '',
											disabled: true,
										},
									]
								: []),
						],
						default: question.default,
						pageSize: 12,
					},
					{signal},
				).finally(() => {
					answered = true;
				}),
			);
		},

		// Nothing else owns the terminal between line prompts: the tool just inherits it.
		async handOverTerminal(work) {
			return work();
		},
	};
};
