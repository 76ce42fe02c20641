// ui/: the Ink components rendered with ink-testing-library, read as the terminal would show them.
// (The same screens run end to end in e2e/pty.test.ts.)
import {stripVTControlCharacters} from 'node:util';
import {afterEach, describe, expect, it} from 'vitest';
import {cleanup, render} from 'ink-testing-library';
import {App} from '../../source/app.js';
import {createInkSession} from '../../source/present/ink-session.js';
import {QuestionView} from '../../source/ui/question.js';

const KEY = {down: '\u001B[B', enter: '\r', ctrlC: '\u0003', backspace: '\u007F'};
const tick = async (ms = 30) => new Promise(resolve => setTimeout(resolve, ms));
const type = async (stdin: {write: (data: string) => void}, ...keys: string[]) => {
	for (const key of keys) {
		stdin.write(key);
		// Ink reads keys one at a time
		await tick();
	}
};

afterEach(() => {
	cleanup();
});

describe('QuestionView', () => {
	it('keeps an invalid text answer on screen with the reason, then submits a valid one', async () => {
		const answers: unknown[] = [];
		const {stdin, lastFrame} = render(
			<QuestionView
				question={{
					kind: 'text',
					flag: 'repository',
					message: 'New repository name:',
					default: 'Bad_Name',
					validate: value => (/^[a-z][a-z\d-]*$/.test(value) ? undefined : 'lowercase letters, numbers and hyphens'),
				}}
				onAnswer={value => answers.push(value)}
			/>,
		);
		await tick();
		expect(lastFrame()).toContain('New repository name:');
		expect(lastFrame()).toContain('Bad_Name');
		await type(stdin, KEY.enter);
		expect(lastFrame()).toContain('✖ lowercase letters, numbers and hyphens');
		expect(answers).toEqual([]);
		// The default is not text to erase: typing replaces it.
		await type(stdin, 'g', 'o', 'o', 'd', KEY.enter);
		expect(answers).toEqual(['good']);
	});

	it('shows a default after the question: Enter takes it, typing replaces it', async () => {
		const answers: unknown[] = [];
		const question = {kind: 'text' as const, flag: 'image', message: 'Image name:', default: 'trainer'};
		const first = render(<QuestionView question={question} onAnswer={value => answers.push(value)} />);
		await tick();
		expect(first.lastFrame()).toContain('Image name: (trainer)');
		await type(first.stdin, KEY.enter);
		first.unmount();
		const second = render(<QuestionView question={question} onAnswer={value => answers.push(value)} />);
		await tick();
		await type(second.stdin, 'e', 'v', 'a', 'l', KEY.enter);
		expect(answers).toEqual(['trainer', 'eval']);
	});

	it.each([
		['Ctrl-U deletes to the start', ['x', 'y', 'z', '\u0015', 'o', 'k'], 'ok'],
		['Ctrl-W deletes the word before the cursor', [...'team big', '\u0017', 'small'], 'team small'],
		['Ctrl-A and Ctrl-E go to the start and the end', [...'rain', '\u0001', 't', '\u0005', 'er'], 'trainer'],
		['Home and End go to the start and the end', [...'rain', '\u001B[H', 't', '\u001B[F', 'er'], 'trainer'],
		['Alt-B and Alt-F move by word', [...'team trainer', '\u001Bb', '\u001Bb', 'my-', '\u001Bf', '/x'], 'my-team/x trainer'],
		['← and → move, Backspace deletes before the cursor', [...'trainr', '\u001B[D', 'e', '\u001B[C', KEY.backspace, 'r'], 'trainer'],
		['text and Enter in one read (a paste) types the text and submits', ['trainer\r'], 'trainer'],
		['a bracketed paste types its first line and submits at its line end', ['\u001B[200~trainer\n\u001B[201~'], 'trainer'],
	])('%s', async (_, keys, expected) => {
		const answers: unknown[] = [];
		const {stdin} = render(
			<QuestionView question={{kind: 'text', flag: 'image', message: 'Image name:', default: 'default-name'}} onAnswer={value => answers.push(value)} />,
		);
		await tick();
		await type(stdin, ...keys);
		if (answers.length === 0) await type(stdin, KEY.enter);
		expect(answers).toEqual([expected]);
	});

	it('submits the default choice with one Enter and another after moving down', async () => {
		const answers: unknown[] = [];
		const question = {
			kind: 'select' as const,
			flag: 'location',
			message: 'Location:',
			choices: [
				{label: 'asia', value: 'asia'},
				{label: 'us-east1', value: 'us-east1'},
				{label: 'maven-repo', value: 'maven-repo', hint: 'MAVEN, not Docker', disabled: true},
			],
			default: 'us-east1',
		};
		const first = render(<QuestionView question={question} onAnswer={value => answers.push(value)} />);
		await tick();
		expect(first.lastFrame()).toContain('1 more not shown: maven-repo (MAVEN, not Docker)');
		await type(first.stdin, KEY.enter);
		expect(answers).toEqual(['us-east1']);
		first.unmount();

		const second = render(<QuestionView question={question} onAnswer={value => answers.push(value)} />);
		await tick();
		await type(second.stdin, KEY.down, KEY.enter);
		expect(answers).toEqual(['us-east1', 'asia']);
	});

	it('answers a choice whose value is empty (a declaration\'s "not set"), with one Enter', async () => {
		const answers: unknown[] = [];
		const question = {
			kind: 'select' as const,
			flag: 'python-version',
			message: 'Python version:',
			choices: [
				{label: 'not set, as declared', value: ''},
				{label: '3.12', value: '3.12'},
			],
			default: '',
		};
		const {stdin} = render(<QuestionView question={question} onAnswer={value => answers.push(value)} />);
		await tick();
		await type(stdin, KEY.enter);
		expect(answers).toEqual(['']);
	});

	it('confirms with Enter on the default and declines with n then Enter, as every question ends with Enter', async () => {
		const answers: unknown[] = [];
		const yes = render(
			<QuestionView question={{kind: 'confirm', flag: 'output', message: 'Write image_specs.py?', default: true}} onAnswer={value => answers.push(value)} />,
		);
		await tick();
		await type(yes.stdin, KEY.enter);
		yes.unmount();
		const no = render(
			<QuestionView question={{kind: 'confirm', flag: 'output', message: 'Write image_specs.py?', default: true}} onAnswer={value => answers.push(value)} />,
		);
		await tick();
		expect(no.lastFrame()).toContain('Write image_specs.py? (Y/n)');
		await type(no.stdin, 'n');
		expect(answers).toEqual([true]);
		await type(no.stdin, KEY.enter);
		expect(answers).toEqual([true, false]);
	});
});

describe('App', () => {
	it('draws running checks with their outcome and fix, then the finished step', async () => {
		const session = createInkSession();
		const view = render(<App session={session} onCancel={() => undefined} />);
		const lastFrame = () => stripVTControlCharacters(view.lastFrame() ?? '');
		session.report({type: 'step', step: 'checks', status: 'running'});
		session.report({type: 'checks-started', ids: ['gcloud', 'account']});
		session.report({
			type: 'check',
			check: {id: 'account', title: 'gcloud account', status: 'fail', detail: 'no active account', fix: 'gcloud auth login', required: true},
		});
		await tick();
		expect(lastFrame()).toContain('Prerequisites');
		expect(lastFrame()).toContain('✖ gcloud account — no active account');
		// While checks run, one row each (the live area must fit the terminal); fixes come with the result.
		expect(lastFrame()).not.toContain('→ gcloud auth login');
		session.report({type: 'step', step: 'checks', status: 'failed', detail: '1 required prerequisite failed', fix: 'gcloud auth login'});
		await tick();
		const frames = stripVTControlCharacters(view.frames.join('\n'));
		expect(frames).toContain('✖ Prerequisites — 1 required prerequisite failed');
		expect(frames).toContain('→ gcloud auth login');
	});

	it('wraps a long note under its text, the icon alone in its column', async () => {
		const session = createInkSession();
		const view = render(<App session={session} onCancel={() => undefined} />);
		const words = Array.from({length: 40}, (_, index) => `word${index}`).join(' ');
		session.report({type: 'note', level: 'info', text: words});
		await tick();
		const all = stripVTControlCharacters(view.frames.join('\n')).split('\n');
		const start = all.findIndex(line => /^ℹ word0 /.test(line));
		const end = all.findIndex((line, index) => index > start && !/word\d/.test(line));
		const lines = all.slice(start, end === -1 ? undefined : end);
		expect(start).toBeGreaterThanOrEqual(0);
		expect(lines.length).toBeGreaterThan(1);
		expect(lines.join(' ')).toContain('word39');
		for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}word\d/);
	});

	it('shows a question from the journey and resolves it with the keys typed', async () => {
		const session = createInkSession();
		const {stdin, lastFrame} = render(<App session={session} onCancel={() => undefined} />);
		const answer = session.prompter.text({kind: 'text', flag: 'image', message: 'Image name:', default: 'trainer'}, new AbortController().signal);
		await tick();
		expect(lastFrame()).toContain('? Image name:');
		await type(stdin, KEY.enter);
		expect(await answer).toBe('trainer');
		await tick();
		expect(lastFrame()).not.toContain('Image name:');
	});

	it('turns Ctrl-C into a cancel, and a cancel into a rejected question', async () => {
		const session = createInkSession();
		const controller = new AbortController();
		const {stdin} = render(<App session={session} onCancel={() => controller.abort()} />);
		const answer = session.prompter.confirm({kind: 'confirm', flag: 'repository', message: 'Create?', default: true}, controller.signal);
		const rejected = expect(answer).rejects.toThrow('Cancelled');
		await tick();
		await type(stdin, KEY.ctrlC);
		await rejected;
	});

	it('shows the summary with the image, the spec file and the next command', async () => {
		const session = createInkSession();
		const {lastFrame} = render(<App session={session} onCancel={() => undefined} />);
		session.report({
			type: 'done',
			result: {
				ok: true,
				pushed: true,
				project: 'acme-ml',
				location: 'us-east1',
				repository: 'union-images',
				imageUri: 'us-east1-docker.pkg.dev/acme-ml/union-images/trainer:abc',
				digest: 'sha256:1234',
				specFile: '/p/image_specs.py',
				nextCommand: 'union register .',
				usage: ['import union', 'from image_specs import trainer_image', '', '@union.task(container_image=trainer_image)'],
			},
		});
		await tick();
		const frame = lastFrame() ?? '';
		expect(frame).toContain('Your image is in Artifact Registry');
		expect(frame).toContain('us-east1-docker.pkg.dev/acme-ml/union-images/trainer:abc');
		expect(frame).toContain('sha256:1234');
		expect(frame).toContain('union register .');
		const rows = frame.split('\n').map(row => row.replaceAll('│', '').trim());
		const from = rows.indexOf('Use the image in a task:');
		expect(rows.slice(from + 1, from + 5)).toEqual(['import union', 'from image_specs import trainer_image', '', '@union.task(container_image=trainer_image)']);
		expect(frame).not.toContain('container_image=...');
	});
});
