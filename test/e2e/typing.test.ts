/**
 * Typing in the wizard's questions as in any terminal, through a real pty: readline's editing
 * keys, a default that Enter takes and typing replaces, a paste (text and Enter in one read),
 * and one convention (Enter) for every question.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';
import {KEY, currentQuestion, drive, spawnCli, type PtyRun} from '../support/pty.js';

const CTRL = {a: '\u0001', e: '\u0005', u: '\u0015', w: '\u0017'};
const ALT = {b: '\u001Bb', f: '\u001Bf'};
const HOME = '\u001B[H';
const END = '\u001B[F';

describe('typing an answer in a terminal', () => {
	let fake: FakeArtifactRegistry;
	let sandbox: Sandbox;
	const runs: PtyRun[] = [];
	beforeAll(async () => {
		fake = await startFakeArtifactRegistry();
		sandbox = await makeSandbox();
		// Logged in, no project set: the first question is the project id, a text question.
		await loginOffline(sandbox);
	});
	afterAll(async () => {
		for (const run of runs) run.kill();
		await fake?.stop();
		await sandbox?.cleanup();
	});

	const start = () => {
		const run = spawnCli([], {cwd: sandbox.project, env: {...sandbox.env, IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, DOCKER_HOST: 'unix:///nonexistent.sock'}});
		runs.push(run);
		return run;
	};

	const input = async (run: PtyRun) =>
		currentQuestion(await run.screen())
			?.body.map(line => line.trim())
			.join('') ?? '';
	const showing = async (run: PtyRun, text: string) => {
		const deadline = Date.now() + 10_000;
		while ((await input(run)) !== text) {
			if (Date.now() > deadline) throw new Error(`the input shows ${JSON.stringify(await input(run))}, not ${JSON.stringify(text)}`);
			await new Promise(resolve => setTimeout(resolve, 25));
		}
	};

	it('edits with Ctrl-U/W/A/E, Home/End, Alt-B/F; a paste of text and Enter answers at once', async () => {
		const run = start();
		await run.waitFor(/^\? GCP project id/m);
		await run.type('wrong words');
		await showing(run, 'wrong words');
		await run.press(CTRL.w);
		await showing(run, 'wrong');
		await run.press(CTRL.u);
		await showing(run, '');
		await run.type('me-ml');
		await run.press(CTRL.a);
		await run.type('ac');
		await run.press(CTRL.e);
		await run.type(' x');
		await showing(run, 'acme-ml x');
		await run.press(HOME, ALT.f, CTRL.u);
		await showing(run, 'x');
		await run.press(END, ALT.b, 'y');
		await showing(run, 'yx');
		await run.press(CTRL.u);
		// What a paste (or a fast typist over ssh) sends: the text and its Enter in one read.
		await run.press('acme-ml\r');
		await run.waitFor(/^\? Artifact Registry location/m);
		expect((await run.history()).join('\n')).toMatch(/acme-ml/);
		run.kill();
	});

	it('a default shows after the question (Enter takes it); a yes/no question waits for Enter like every other', async () => {
		const run = start();
		await run.waitFor(/^\? GCP project id/m);
		await run.type('acme-ml');
		await showing(run, 'acme-ml');
		await run.press(KEY.enter);
		await run.waitFor(/^\? Artifact Registry location/m);
		await run.type('us-east1');
		await run.waitFor(/Filter: us-east1\n\s*› us-east1/);
		await run.press(KEY.enter);
		// The fake project has no repositories yet: the wizard asks straight for the new one's name.
		const name = await run.waitFor(/^\? New repository name.* \(\S+\)$/m);
		// Nothing to erase first: the input is empty, the default is beside the question.
		expect(await input(run), name).toBe('');
		await run.press(KEY.enter);
		// The description and labels: their defaults, up to the first yes/no question (default no).
		await drive(run, {answers: [], until: /^\? Immutable tags.*\(y\/N\)$/m});
		const confirm = (await run.screen()).join('\n');
		await run.press('y');
		await showing(run, 'y');
		await new Promise(resolve => setTimeout(resolve, 500));
		expect(currentQuestion(await run.screen())?.message, confirm).toMatch(/^Immutable tags/);
		await run.press(KEY.enter);
		await run.waitFor(/^\? (?!Immutable tags)/m);
		run.kill();
	});
});
