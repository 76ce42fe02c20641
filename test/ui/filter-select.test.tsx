import {performance} from 'node:perf_hooks';
import {stripVTControlCharacters} from 'node:util';
import {afterEach, describe, expect, it} from 'vitest';
import {cleanup, render} from 'ink-testing-library';
import type {Choice, SearchQuestion} from '../../source/flow/ask.js';
import {FilterSelect} from '../../source/ui/filter-select.js';

const KEY = {up: '\u001B[A', down: '\u001B[B', enter: '\r', escape: '\u001B', backspace: '\u007F', pageDown: '\u001B[6~'};
const tick = async (ms = 30) => new Promise(resolve => setTimeout(resolve, ms));
const type = async (stdin: {write: (data: string) => void}, ...keys: string[]) => {
	for (const key of keys) {
		stdin.write(key);
		// Ink reads keys one at a time
		await tick();
	}
};

/** Pages the test hands out one at a time, as a slow API would. */
const pagesByHand = () => {
	const queue: Array<Choice[] | undefined> = [];
	const waiting: Array<(page: Choice[] | undefined) => void> = [];
	return {
		push(page: Choice[] | undefined) {
			const next = waiting.shift();
			if (next) next(page);
			else queue.push(page);
		},
		iterable: {
			async *[Symbol.asyncIterator]() {
				for (;;) {
					const page = queue.length > 0 ? queue.shift() : await new Promise<Choice[] | undefined>(resolve => waiting.push(resolve));
					if (!page) return;
					yield page;
				}
			},
		} as AsyncIterable<Choice[]>,
	};
};

const repo = (id: string, extra: Partial<Choice> = {}): Choice => ({label: id, value: id, hint: `Docker · us-east1 · 0 B`, ...extra});
const fromArray = (...pages: Choice[][]): AsyncIterable<Choice[]> => ({
	async *[Symbol.asyncIterator]() {
		yield* pages;
	},
});

const question = (pages: AsyncIterable<Choice[]>, extra: Partial<SearchQuestion> = {}): SearchQuestion => ({
	kind: 'search',
	flag: 'repository',
	message: 'Docker repository:',
	pages,
	pinned: [{label: '+ Create a new repository', value: 'new'}],
	noun: {one: 'repository', other: 'repositories'},
	...extra,
});

afterEach(() => {
	cleanup();
});

describe('FilterSelect', () => {
	it('shows the first page while later pages load, then counts them all', async () => {
		const pages = pagesByHand();
		const view = render(<FilterSelect question={question(pages.iterable)} onAnswer={() => undefined} />);
		const frame = () => stripVTControlCharacters(view.lastFrame() ?? '');
		pages.push([repo('alpha'), repo('beta')]);
		await tick();
		expect(frame()).toContain('alpha');
		expect(frame()).toContain('2 repositories · loading more…');
		pages.push([repo('gamma')]);
		pages.push(undefined);
		await tick();
		expect(frame()).toContain('gamma');
		expect(frame()).toContain('3 repositories · ↑↓ move');
		expect(frame()).not.toContain('loading more');
	});

	it('filters as you type, and Enter chooses the focused match', async () => {
		const answers: string[] = [];
		const view = render(
			<FilterSelect
				question={question(fromArray([repo('team-a-base'), repo('team-b-gpu'), repo('infra', {keywords: 'GPU images'})]))}
				onAnswer={value => answers.push(value)}
			/>,
		);
		const frame = () => stripVTControlCharacters(view.lastFrame() ?? '');
		await tick();
		await type(view.stdin, 'g', 'p', 'u');
		expect(frame()).toContain('Filter: gpu');
		// Keywords (a description) count too; the hint does not.
		expect(frame()).toContain('2 of 3 repositories match');
		expect(frame()).not.toContain('team-a-base');
		expect(frame()).toMatch(/› team-b-gpu/);
		await type(view.stdin, KEY.down, KEY.enter);
		expect(answers).toEqual(['infra']);
	});

	it('text and Enter in one read (a paste, a fast typist over ssh) filters by the text and chooses its best match', async () => {
		const answers: string[] = [];
		const view = render(<FilterSelect question={question(fromArray([repo('team-a-base'), repo('team-b-gpu')]))} onAnswer={value => answers.push(value)} />);
		await tick();
		await type(view.stdin, 't', 'e', 'a', 'm-b\r');
		expect(answers).toEqual(['team-b-gpu']);
	});

	it('keeps pinned rows whatever the filter; Esc clears the filter; backspace edits it', async () => {
		const answers: string[] = [];
		const view = render(<FilterSelect question={question(fromArray([repo('alpha'), repo('beta')]))} onAnswer={value => answers.push(value)} />);
		const frame = () => stripVTControlCharacters(view.lastFrame() ?? '');
		await tick();
		await type(view.stdin, 'z', 'z');
		expect(frame()).toContain('+ Create a new repository');
		expect(frame()).toContain('0 of 2 repositories match');
		await type(view.stdin, KEY.backspace, KEY.backspace, 'b');
		expect(frame()).toContain('Filter: b');
		expect(frame()).toContain('1 of 2 repositories match');
		await type(view.stdin, KEY.escape);
		expect(frame()).toContain('Filter: type to filter');
		expect(frame()).toContain('alpha');
		await type(view.stdin, KEY.up, KEY.enter);
		expect(answers).toEqual(['new']);
	});

	it('draws disabled rows and steps over them with the cursor', async () => {
		const answers: string[] = [];
		const choices = [repo('alpha'), {label: 'jars', value: 'jars', hint: 'MAVEN, not Docker', disabled: true}, repo('gamma')];
		const view = render(<FilterSelect question={question(fromArray(choices), {default: 'alpha'})} onAnswer={value => answers.push(value)} />);
		const frame = () => stripVTControlCharacters(view.lastFrame() ?? '');
		await tick();
		expect(frame()).toMatch(/ jars +MAVEN, not Docker/);
		await type(view.stdin, KEY.down);
		expect(frame()).toMatch(/› gamma/);
		await type(view.stdin, KEY.enter);
		// Enter on a filter that leaves only the disabled row chooses nothing.
		await type(view.stdin, 'j', 'a', 'r', KEY.down, KEY.enter);
		expect(answers).toEqual(['gamma', 'new']);
	});

	it('starts on the default once it arrives, and scrolls a window of rows', async () => {
		const many = Array.from({length: 40}, (_, index) => repo(`repo-${String(index).padStart(2, '0')}`));
		const answers: string[] = [];
		const view = render(
			<FilterSelect question={question(fromArray(many.slice(0, 20), many.slice(20)), {default: 'repo-30'})} onAnswer={value => answers.push(value)} />,
		);
		const frame = () => stripVTControlCharacters(view.lastFrame() ?? '');
		await tick();
		expect(frame()).toMatch(/› repo-30/);
		expect(frame()).not.toContain('repo-00');
		expect(
			frame()
				.split('\n')
				.filter(line => /repo-\d\d/.test(line)),
		).toHaveLength(8);
		await type(view.stdin, KEY.pageDown, KEY.enter);
		expect(answers).toEqual(['repo-38']);
	});

	it('counts in words: one repository, many repositories', async () => {
		const view = render(<FilterSelect question={question(fromArray([repo('only')]))} onAnswer={() => undefined} />);
		await tick();
		expect(stripVTControlCharacters(view.lastFrame() ?? '')).toContain('1 repository · ↑↓ move');
		await type(view.stdin, 'x');
		expect(stripVTControlCharacters(view.lastFrame() ?? '')).toContain('0 of 1 repository match');
		expect(stripVTControlCharacters(view.lastFrame() ?? '')).toContain('nothing matches "x"');
	});

	it('with 5,000 rows, each keystroke reaches the screen quickly', async () => {
		const pages = Array.from({length: 50}, (_, page) =>
			Array.from({length: 100}, (_, index) =>
				repo(`team-${String(page * 100 + index).padStart(4, '0')}`, {hint: `Docker · us-east1 · 1.0 MB · Images of team ${page * 100 + index}`}),
			),
		);
		const view = render(<FilterSelect question={question(fromArray(...pages))} onAnswer={() => undefined} />);
		const frame = () => stripVTControlCharacters(view.lastFrame() ?? '');
		await tick(100);
		expect(frame()).toContain('5,000 repositories');
		const times: number[] = [];
		let query = '';
		for (const key of ['1', '2', '3', KEY.backspace, KEY.backspace, '9', KEY.backspace, KEY.backspace, KEY.backspace]) {
			query = key === KEY.backspace ? query.slice(0, -1) : query + key;
			const expected = query === '' ? 'Filter: type to filter' : `Filter: ${query}\n`;
			const started = performance.now();
			view.stdin.write(key);
			// one key, one frame
			while (!frame().includes(expected)) await new Promise(resolve => setImmediate(resolve));
			times.push(performance.now() - started);
		}
		times.sort((a, b) => a - b);
		const median = times[Math.floor(times.length / 2)]!;
		// Reported in the issue note. Idle, the median is ~12 ms; the bounds leave room for a busy CI
		// machine and still fail a view that draws (or filters unmemoised) thousands of rows per key.
		console.info(`filter keystroke→frame with 5,000 rows: median ${median.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`);
		expect(median).toBeLessThan(100);
		expect(times.at(-1)!).toBeLessThan(500);
		expect(frame()).toContain('5,000 repositories');
	});
});
