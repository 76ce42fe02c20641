import {describe, expect, it} from 'vitest';
import {isCi, surelyInk} from '../../source/mode.js';
import {headerText} from '../../source/present/header.js';

const ANSI = /\u001B\[[\d;]*m/g;

describe('headerText (drawn before Ink loads)', () => {
	it('is one line on a wide terminal, with the name bold cyan and the rest dim', () => {
		const text = headerText(100, true);
		expect(text.replaceAll(ANSI, '')).toBe('imagespec-gar · Artifact Registry for your Flyte images · Ctrl-C to stop\n');
		expect(text.startsWith('\u001B[1m\u001B[36mimagespec-gar\u001B[39m\u001B[22m\u001B[2m')).toBe(true);
	});

	it('wraps at word boundaries within the columns, like Ink wraps a <Text>', () => {
		const lines = headerText(60, false).trimEnd().split('\n');
		expect(lines).toEqual(['imagespec-gar · Artifact Registry for your Flyte images ·', 'Ctrl-C to stop']);
		for (const width of [20, 33, 45]) {
			const wrapped = headerText(width, false).trimEnd().split('\n');
			expect(wrapped.every(line => line.length <= width)).toBe(true);
			expect(wrapped.join(' ')).toBe('imagespec-gar · Artifact Registry for your Flyte images · Ctrl-C to stop');
		}
	});

	it('has no escape codes without colour', () => {
		expect(headerText(40, false)).not.toMatch(ANSI);
	});
});

describe('surelyInk (may the entry draw the header before main parses the flags?)', () => {
	const env = {TERM: 'xterm-256color'};

	it('says yes for a plain interactive run in a terminal, with value flags', () => {
		expect(surelyInk([], env, true)).toBe(true);
		expect(surelyInk(['--project', 'acme-ml', '--image=trainer', '--force'], env, true)).toBe(true);
	});

	it('says no whenever the run may not be the Ink wizard: no terminal, CI, plain terminals, and any spelling of the flags that rule it out', () => {
		expect(surelyInk([], env, false)).toBe(false);
		expect(surelyInk([], {...env, CI: 'true'}, true)).toBe(false);
		expect(surelyInk([], {...env, TERM: 'dumb'}, true)).toBe(false);
		expect(surelyInk([], {...env, INK_SCREEN_READER: 'true'}, true)).toBe(false);
		for (const argv of [
			['--json'],
			['--json=true'],
			['--yes'],
			['--no-yes'],
			['--plain'],
			['--help'],
			['-h'],
			['--version'],
			['doctor'],
			['--project', 'p', 'doctor'],
		]) {
			expect(surelyInk(argv, env, true), argv.join(' ')).toBe(false);
		}
	});

	it('reads CI like CI systems set it', () => {
		expect(isCi({CI: 'true'})).toBe(true);
		expect(isCi({CI: '1'})).toBe(true);
		expect(isCi({CI: 'false'})).toBe(false);
		expect(isCi({CI: '0'})).toBe(false);
		expect(isCi({})).toBe(false);
	});
});
