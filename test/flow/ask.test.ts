import {describe, expect, it} from 'vitest';
import {createAsker, type Prompter} from '../../source/flow/ask.js';
import {UsageError} from '../../source/services/errors.js';

const signal = new AbortController().signal;
const never: Prompter = {
	select: async () => {
		throw new Error('asked');
	},
	text: async () => {
		throw new Error('asked');
	},
	confirm: async () => {
		throw new Error('asked');
	},
};
const validate = (value: string) => (/^[a-z]+$/.test(value) ? undefined : 'lowercase letters only');

describe('where an answer comes from', () => {
	it('takes a valid flag without asking, in both modes', async () => {
		for (const prompter of [never, undefined]) {
			const ask = createAsker(prompter, signal);
			expect(await ask.text({flag: 'image', message: 'Image name:', validate}, 'trainer')).toBe('trainer');
		}
	});

	it('rejects an invalid flag with a usage error naming the flag and the rule', async () => {
		const ask = createAsker(undefined, signal);
		const error = await ask.text({flag: 'image', message: 'Image name:', validate}, 'Bad!').catch((error: unknown) => error);
		expect(error).toBeInstanceOf(UsageError);
		expect((error as UsageError).flag).toBe('image');
		expect((error as UsageError).message).toBe('--image "Bad!" is invalid: lowercase letters only');
	});

	it('uses the default non-interactively and names the flag when there is none', async () => {
		const ask = createAsker(undefined, signal);
		expect(await ask.text({flag: 'project', message: 'GCP project id:', default: 'acme'})).toBe('acme');
		expect(await ask.select({flag: 'location', message: 'Location:', choices: [], default: 'us-east1'})).toBe('us-east1');
		await expect(ask.text({flag: 'project', message: 'GCP project id:'})).rejects.toThrow('Missing --project: GCP project id');
		await expect(ask.select({flag: 'location', message: 'Location:', choices: []})).rejects.toThrow('Missing --location');
		expect(await ask.confirm({flag: 'repository', message: 'Create?', default: true})).toBe(true);
	});

	it('does not trust an invalid saved answer', async () => {
		const ask = createAsker(undefined, signal);
		await expect(ask.text({flag: 'image', message: 'Image name:', default: 'NOPE', validate})).rejects.toThrow('(saved answer)');
	});

	it('asks the person when interactive and no flag was given', async () => {
		const asked: string[] = [];
		const prompter: Prompter = {
			...never,
			text: async question => {
				asked.push(question.flag);
				return 'typed';
			},
		};
		const ask = createAsker(prompter, signal);
		expect(await ask.text({flag: 'image', message: 'Image name:', default: 'saved'})).toBe('typed');
		expect(asked).toEqual(['image']);
	});
});
