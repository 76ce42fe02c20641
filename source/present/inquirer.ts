import {CancelledError} from '../services/errors.js';
import type {Prompter} from '../flow/ask.js';

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
	};
};
