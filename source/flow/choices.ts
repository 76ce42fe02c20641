import type {Choice, Noun} from './ask.js';

const CHOICES: Noun = {one: 'choice', other: 'choices'};

/** "1 repository", "5,000 repositories". */
export const countOf = (count: number, noun: Noun = CHOICES): string => `${count.toLocaleString('en-US')} ${count === 1 ? noun.one : noun.other}`;

/** Lower-cased text a filter looks at, kept per choice so a keystroke does not redo it. */
const haystacks = new WeakMap<Choice, string>();
const haystack = (choice: Choice): string => {
	let text = haystacks.get(choice);
	if (text === undefined) {
		text = `${choice.label}\n${choice.keywords ?? ''}`.toLowerCase();
		haystacks.set(choice, text);
	}
	return text;
};

/** Choices whose label or keywords hold every word of the query (case-insensitive), in order. */
export function filterChoices(choices: readonly Choice[], query: string): readonly Choice[] {
	const words = query.toLowerCase().split(/\s+/).filter(Boolean);
	if (words.length === 0) return choices;
	return choices.filter(choice => {
		const text = haystack(choice);
		return words.every(word => text.includes(word));
	});
}

/**
 * An async iterable that can be read more than once: pages already fetched are replayed, and
 * the next one is fetched only when a reader asks for it (so an answered question stops the
 * listing). Asking again (e.g. after a failed create) shows the list without listing again.
 */
export function replayable<T>(source: AsyncIterable<T>): AsyncIterable<T> {
	const seen: T[] = [];
	let iterator: AsyncIterator<T> | undefined;
	let next: Promise<IteratorResult<T>> | undefined;
	let done = false;
	const pull = async (): Promise<IteratorResult<T>> => {
		// One fetch at a time, shared by every reader waiting for the same page.
		next ??= (iterator ??= source[Symbol.asyncIterator]()).next().then(
			result => {
				next = undefined;
				if (result.done) done = true;
				else seen.push(result.value);
				return result;
			},
			(error: unknown) => {
				next = undefined;
				throw error;
			},
		);
		return next;
	};

	return {
		async *[Symbol.asyncIterator]() {
			for (let index = 0; ; index++) {
				if (index < seen.length) {
					yield seen[index]!;
					continue;
				}
				if (done) return;
				const result = await pull();
				if (result.done) return;
				// Another reader may have pulled meanwhile: replay from `seen` either way.
				index--;
			}
		},
	};
}
