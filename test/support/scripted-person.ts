import type {Prompter, Question} from '../../source/flow/ask.js';

export type Reply = string | boolean | ((question: Question) => string | boolean | Promise<string | boolean>);

/**
 * A person who answers the wizard's questions from a script, in order: each line names the
 * question it expects (a pattern on its message). An unexpected question fails the test.
 */
export function scriptedPerson(script: Array<[RegExp, Reply]>) {
	const asked: Question[] = [];
	const answer = async (question: Question): Promise<any> => {
		asked.push(question);
		const line = script.shift();
		if (!line) throw new Error(`Unexpected question (the script is over): ${question.message}`);
		const [pattern, reply] = line;
		if (!pattern.test(question.message)) throw new Error(`Expected a question like ${pattern}, got: ${question.message}`);
		return typeof reply === 'function' ? reply(question) : reply;
	};

	const prompter: Prompter = {select: answer, text: answer, confirm: answer, search: answer};
	return {prompter, asked, left: () => script.length};
}
