/**
 * The built CLI in a pseudo-terminal, read back as a person sees it: @lydell/node-pty runs it,
 * @xterm/headless rebuilds the screen from its output. Keys go in one at a time.
 */
import {readdirSync, readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';
import {REPO_ROOT} from './repo-root.js';

// Both packages are CommonJS without named exports that ESM can see.
const require = createRequire(import.meta.url);
const {spawn} = require('@lydell/node-pty') as typeof import('@lydell/node-pty');
const {Terminal} = require('@xterm/headless') as typeof import('@xterm/headless');

export {REPO_ROOT};

/** The built CLI (npm run build); IMAGESPEC_GAR_CLI runs another build (e.g. a bench baseline). */
export const CLI = process.env.IMAGESPEC_GAR_CLI ?? path.join(REPO_ROOT, 'dist', 'cli.js');

export const KEY = {
	enter: '\r',
	up: '\u001B[A',
	down: '\u001B[B',
	backspace: '\u007F',
	escape: '\u001B',
	tab: '\t',
	ctrlC: '\u0003',
} as const;

export type PtyExit = {exitCode: number; signal?: number};

export type PtyOptions = {
	cwd: string;
	env: NodeJS.ProcessEnv;
	cols?: number;
	rows?: number;
	/** Defaults to this node; args then start with the CLI. */
	file?: string;
	/** Pause after each key, in ms. */
	keyDelay?: number;
};

export type PtyRun = {
	readonly pid: number;
	readonly cols: number;
	readonly rows: number;
	/** Date.now() just before the spawn, and at the exit event. */
	readonly startedAt: number;
	readonly exitedAt: number | undefined;
	/** Every chunk the program wrote, with its arrival time (Date.now()). */
	readonly chunks: ReadonlyArray<{at: number; data: string}>;
	/** All output, as written (escape codes included). */
	output(): string;
	/** The visible screen, one string per row, right-trimmed. */
	screen(): Promise<string[]>;
	/** Scrollback and screen: everything still in the terminal. */
	history(): Promise<string[]>;
	/** Rows the terminal wrapped itself: the program wrote a line wider than the terminal. */
	softWrapped(): Promise<string[]>;
	press(...keys: string[]): Promise<void>;
	/** Types text one character at a time. */
	type(text: string): Promise<void>;
	/** Resolves with the screen once pattern is on it (or in the history, with where: 'history'). */
	waitFor(pattern: RegExp | string, options?: {timeout?: number; where?: 'screen' | 'history'}): Promise<string>;
	/** The exit; kills the program when it has not exited in time. */
	waitForExit(timeout?: number): Promise<PtyExit>;
	readonly exit: PtyExit | undefined;
	kill(signal?: string): void;
};

type HeadlessTerminal = InstanceType<typeof Terminal>;

const rowsIn = (terminal: HeadlessTerminal, start: number, end: number) => {
	const buffer = terminal.buffer.active;
	const lines: string[] = [];
	for (let index = start; index < end; index++) lines.push(buffer.getLine(index)?.translateToString(true) ?? '');
	return lines;
};

const sleep = async (ms: number) =>
	new Promise<void>(resolve => {
		setTimeout(resolve, ms);
	});

/** Runs `node dist/cli.js args` (or options.file) in a pty of cols × rows. */
export function spawnCli(args: string[], options: PtyOptions): PtyRun {
	const cols = options.cols ?? 100;
	const rows = options.rows ?? 40;
	const keyDelay = options.keyDelay ?? 20;
	const env: Record<string, string> = {};
	for (const [key, value] of Object.entries(options.env)) if (value !== undefined) env[key] = value;
	// With CI set Ink draws nothing until exit; a person's terminal has no CI.
	delete env.CI;
	env.TERM = env.TERM && env.TERM !== 'dumb' ? env.TERM : 'xterm-256color';
	const file = options.file ?? process.execPath;
	const argv = options.file ? args : [CLI, ...args];

	const terminal = new Terminal({cols, rows, scrollback: 5000, allowProposedApi: true});
	const chunks: Array<{at: number; data: string}> = [];
	let exit: PtyExit | undefined;
	let exitedAt: number | undefined;
	const exitListeners: Array<(exit: PtyExit) => void> = [];
	const startedAt = Date.now();
	const child = spawn(file, argv, {name: env.TERM, cols, rows, cwd: options.cwd, env});
	child.onData(data => {
		chunks.push({at: Date.now(), data});
		terminal.write(data);
	});
	child.onExit(event => {
		exitedAt = Date.now();
		exit = {exitCode: event.exitCode, signal: event.signal || undefined};
		for (const listener of exitListeners.splice(0)) listener(exit);
	});

	// Resolves once xterm has parsed everything written so far.
	const settled = async () =>
		new Promise<void>(resolve => {
			terminal.write('', resolve);
		});
	const rowsOf = (start: number, end: number) => rowsIn(terminal, start, end);

	const run: PtyRun = {
		pid: child.pid,
		cols,
		rows,
		startedAt,
		get exitedAt() {
			return exitedAt;
		},
		chunks,
		output: () => chunks.map(chunk => chunk.data).join(''),
		async screen() {
			await settled();
			const {baseY} = terminal.buffer.active;
			return rowsOf(baseY, baseY + rows);
		},
		async history() {
			await settled();
			const buffer = terminal.buffer.active;
			const lines = rowsOf(0, buffer.length);
			// Trailing blank rows are the empty part of the screen.
			while (lines.length > 0 && lines.at(-1) === '') lines.pop();
			return lines;
		},
		async softWrapped() {
			await settled();
			const buffer = terminal.buffer.active;
			const wrapped: string[] = [];
			for (let index = 0; index < buffer.length; index++) {
				const line = buffer.getLine(index);
				if (line?.isWrapped) wrapped.push(`${buffer.getLine(index - 1)?.translateToString(true) ?? ''}⏎${line.translateToString(true)}`);
			}
			return wrapped;
		},
		async press(...keys) {
			for (const key of keys) {
				if (exit) throw new Error(`cannot press ${JSON.stringify(key)}: the program exited (${exit.exitCode})\n${(await run.history()).join('\n')}`);
				child.write(key);
				await sleep(keyDelay);
			}
		},
		async type(text) {
			await run.press(...text);
		},
		async waitFor(pattern, {timeout = 30_000, where = 'screen'} = {}) {
			const deadline = Date.now() + timeout;
			const matches = (text: string) => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));
			for (;;) {
				const lines = where === 'screen' ? await run.screen() : await run.history();
				const text = lines.join('\n');
				if (matches(text)) return text;
				if (exit || Date.now() > deadline) {
					const why = exit ? `the program exited (${exit.exitCode})` : `${timeout} ms passed`;
					throw new Error(`waiting for ${String(pattern)}: ${why}. The terminal shows:\n${(await run.history()).join('\n')}`);
				}
				await sleep(25);
			}
		},
		async waitForExit(timeout = 30_000) {
			if (exit) return exit;
			return new Promise<PtyExit>((resolve, reject) => {
				const timer = setTimeout(() => {
					child.kill('SIGKILL');
					reject(new Error(`the program did not exit within ${timeout} ms`));
				}, timeout);
				exitListeners.push(value => {
					clearTimeout(timer);
					// Let the last output reach xterm.
					void settled().then(() => {
						resolve(value);
					});
				});
			});
		},
		get exit() {
			return exit;
		},
		kill(signal = 'SIGKILL') {
			if (!exit) child.kill(signal);
		},
	};
	return run;
}

/** Rows of screen text from the current question ("? ...") down. */
export const currentQuestion = (lines: string[]): {message: string; body: string[]} | undefined => {
	const index = lines.findLastIndex(line => /^\? \S/.test(line));
	if (index === -1) return undefined;
	const body = lines.slice(index + 1);
	const end = body.findIndex((line, at) => line === '' && body.slice(at).every(rest => rest === ''));
	return {message: (lines[index] ?? '').slice(2).trim(), body: end === -1 ? body : body.slice(0, end)};
};

/** The focused option of a select (its pointer), or undefined. */
const FOCUS = /^\s*[❯›>]\s+(.*)$/;
export const focusedOption = (body: string[]): string | undefined => {
	for (const line of body) {
		const match = FOCUS.exec(line);
		if (match) return match[1]?.trim();
	}

	return undefined;
};

export type Answer =
	/** Accept what is offered: the default text, the focused choice, the default of a confirm. */
	| {enter: true}
	/** Move the select's pointer to the option whose text matches, then Enter. */
	| {choose: string | RegExp}
	/** Clear the input, type the text, Enter. */
	| {text: string}
	| {confirm: boolean}
	| ((run: PtyRun) => Promise<void>);

const matchesText = (pattern: string | RegExp, text: string) => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));

const focusNow = async (run: PtyRun) => {
	const question = currentQuestion(await run.screen());
	return question && focusedOption(question.body);
};

/** Waits (up to ms) until check passes; returns whether it did. */
const until = async (check: () => Promise<boolean>, ms: number): Promise<boolean> => {
	const deadline = Date.now() + ms;
	for (;;) {
		if (await check()) return true;
		if (Date.now() > deadline) return false;
		await sleep(15);
	}
};

/**
 * Moves a select's pointer (down, then up once the end is reached) until the focused option
 * matches, then Enter. Each move waits for the pointer to be drawn where it went.
 */
export const choose = async (run: PtyRun, pattern: string | RegExp, maxMoves = 60): Promise<void> => {
	let direction: string = KEY.down;
	for (let moves = 0; moves <= maxMoves; moves++) {
		const focused = await focusNow(run);
		if (focused !== undefined && matchesText(pattern, focused)) {
			await run.press(KEY.enter);
			return;
		}

		await run.press(direction);
		// Generous: a loaded CI machine may take a while to draw; only the list's end never moves.
		const moved = await until(async () => (await focusNow(run)) !== focused, 3000);
		if (!moved && direction === KEY.down) direction = KEY.up;
		else if (!moved) break;
	}

	throw new Error(`no option matching ${String(pattern)}. The screen shows:\n${(await run.screen()).join('\n')}`);
};

const inputText = async (run: PtyRun) =>
	currentQuestion(await run.screen())
		?.body.map(line => line.trim())
		.join('') ?? '';

/**
 * Clears a text input (backspace over what it shows), types text, and presses Enter once the
 * text is on screen, as a person does; a text and its Enter in one chunk would read as a paste.
 */
export const replaceText = async (run: PtyRun, text: string): Promise<void> => {
	const shown = await inputText(run);
	if (shown !== '') {
		await run.press(...Array.from({length: shown.length + 2}, () => KEY.backspace));
		await until(async () => (await inputText(run)) !== shown, 10_000);
	}

	await run.type(text);
	await until(async () => (await inputText(run)).includes(text), 10_000);
	await run.press(KEY.enter);
};

export type DriveOptions = {
	/** Rules tried in order against the question's message. */
	answers: Array<[RegExp, Answer]>;
	/** Stop when this is on screen (or the program exits). */
	until: RegExp | string;
	/** What to do with a question no rule matches: accept its default (robust to added steps), or fail. */
	unknown?: 'enter' | 'fail';
	timeout?: number;
	/** Called with each question as it appears, before it is answered (assert what is on screen here). */
	onQuestion?: (question: {message: string; body: string[]; screen: string[]}) => void | Promise<void>;
};

/**
 * Answers questions as they appear until `until` is on screen. Returns the messages asked,
 * in order, and which were answered by default for lack of a rule.
 */
export const drive = async (run: PtyRun, options: DriveOptions): Promise<{asked: string[]; unknown: string[]}> => {
	const deadline = Date.now() + (options.timeout ?? 150_000);
	const asked: string[] = [];
	const unknown: string[] = [];
	let answered: string | undefined;
	for (;;) {
		if (Date.now() > deadline)
			throw new Error(
				`drive: ${String(options.until)} not reached in time; asked ${JSON.stringify(asked)}. The terminal shows:\n${(await run.history()).join('\n')}`,
			);
		const screen = await run.screen();
		const text = screen.join('\n');
		if (matchesText(options.until, text)) return {asked, unknown};
		if (run.exit)
			throw new Error(
				`drive: the program exited (${run.exit.exitCode}) before ${String(options.until)}; ` +
					`asked ${JSON.stringify(asked)}. The terminal shows:\n${(await run.history()).join('\n')}`,
			);
		const question = currentQuestion(screen);
		// Wait for the answered question to go (or a validation error under it).
		if (!question || question.message === answered) {
			if (question?.body.some(line => line.trim().startsWith('✖'))) {
				throw new Error(`drive: "${question.message}" refused the answer:\n${screen.join('\n')}`);
			}

			await sleep(25);
			continue;
		}

		// Let the question finish drawing: the same screen twice, 50 ms apart (at most 2 s).
		let previous = text;
		for (let wait = 0; wait < 40; wait++) {
			await sleep(50);
			const now = (await run.screen()).join('\n');
			if (now === previous) break;
			previous = now;
		}

		const settled = currentQuestion(await run.screen()) ?? question;
		asked.push(settled.message);
		await options.onQuestion?.({...settled, screen: await run.screen()});
		const rule = options.answers.find(([pattern]) => pattern.test(settled.message));
		let answer: Answer | undefined = rule?.[1];
		if (!answer) {
			if (options.unknown === 'fail') throw new Error(`drive: no answer for "${settled.message}":\n${screen.join('\n')}`);
			unknown.push(settled.message);
			answer = {enter: true};
		}

		if (typeof answer === 'function') await answer(run);
		else if ('enter' in answer) await run.press(KEY.enter);
		else if ('choose' in answer) await choose(run, answer.choose);
		else if ('text' in answer) await replaceText(run, answer.text);
		else await run.press(answer.confirm ? 'y' : 'n', KEY.enter);
		answered = settled.message;
	}
};

/** Process ids under pid (children, grandchildren, ...), with their command names. */
export const descendants = (pid: number): Array<{pid: number; comm: string; args: string}> => {
	const parents = new Map<number, number[]>();
	const info = new Map<number, {comm: string; args: string}>();
	for (const entry of readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
			// comm may hold spaces and parentheses: the fields after the last ')' are fixed.
			const close = stat.lastIndexOf(')');
			const comm = stat.slice(stat.indexOf('(') + 1, close);
			const [state, ppid] = stat.slice(close + 2).split(' ');
			if (state === 'Z') continue;
			const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
			info.set(Number(entry), {comm, args});
			const list = parents.get(Number(ppid)) ?? [];
			list.push(Number(entry));
			parents.set(Number(ppid), list);
		} catch {
			// Gone meanwhile.
		}
	}

	const found: Array<{pid: number; comm: string; args: string}> = [];
	const queue = [pid];
	while (queue.length > 0) {
		for (const child of parents.get(queue.shift()!) ?? []) {
			found.push({pid: child, ...info.get(child)!});
			queue.push(child);
		}
	}

	return found;
};

/** Whether a process is still alive (and not a zombie). */
export const alive = (pid: number): boolean => {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
	} catch {
		return false;
	}
};

/** Every SGR (colour/style) escape in text. */
export const sgrCodes = (text: string): string[] =>
	// escape codes are the point
	[...text.matchAll(/\u001B\[[\d;:]*m/g)].map(match => match[0]);

/**
 * The run's output fed again, chunk by chunk, into a terminal of the same size: tells when
 * something was first on screen (the arrival time of the chunk that drew it), for timings.
 */
export const createReplay = (run: PtyRun) => {
	const terminal = new Terminal({cols: run.cols, rows: run.rows, scrollback: 5000, allowProposedApi: true});
	let next = 0;
	const screen = () => {
		const {baseY} = terminal.buffer.active;
		return rowsIn(terminal, baseY, baseY + run.rows).join('\n');
	};

	return {
		/** The first chunk from here on, arrived at or after `after`, once drawn which predicate holds; undefined when none did yet. */
		async until(predicate: (screen: string) => boolean, after = 0): Promise<{at: number; screen: string} | undefined> {
			while (next < run.chunks.length) {
				const chunk = run.chunks[next++]!;
				await new Promise<void>(resolve => {
					terminal.write(chunk.data, resolve);
				});
				if (chunk.at < after) continue;
				const shown = screen();
				if (predicate(shown)) return {at: chunk.at, screen: shown};
			}

			return undefined;
		},
	};
};
