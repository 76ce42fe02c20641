import {mkdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {realGcloud, shimTool, writeLoginKey} from '../support/gcloud.js';
import {KEY, spawnCli} from '../support/pty.js';

/**
 * The wizard hands the terminal to `gcloud auth login` (Ink's suspendTerminal) and takes it back.
 * The gcloud here asks for an authorization code on its stdin, as `gcloud auth login
 * --no-launch-browser` does, then logs in for real (offline): the code only reaches it if Ink
 * really let go of the keyboard.
 */
describe('a failed login check, fixed from inside the wizard', () => {
	let fake: FakeArtifactRegistry;
	let sandbox: Sandbox;
	let codes: string;

	beforeAll(async () => {
		fake = await startFakeArtifactRegistry();
		sandbox = await makeSandbox({env: {DOCKER_HOST: 'unix:///nonexistent.sock', IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint}});
		const key = await writeLoginKey(sandbox);
		const real = await realGcloud(sandbox);
		codes = path.join(sandbox.root, 'codes.log');
		await shimTool(
			sandbox,
			'gcloud',
			[
				// Each gcloud start and end, for the failure message: where a slow run spent its time.
				`echo "start $$ $(date +%s.%N) $*" >> '${codes}.trace'`,
				'if [ "$1 $2" = "auth login" ]; then',
				'  printf "Go to the following link in your browser:\\n\\n    https://accounts.google.com/o/oauth2/auth?fake\\n\\nEnter authorization code: "',
				// The code is typed before gcloud reads it (a person types ahead): it must wait in the
				// terminal for gcloud, not be taken by the wizard's own stdin.
				'  sleep 1',
				`  read code; echo "$code" >> '${codes}'`,
				`  '${real}' auth activate-service-account --key-file='${key}'; rc=$?`,
				'else',
				`  '${real}' "$@"; rc=$?`,
				'fi',
				`echo "end $$ $(date +%s.%N) rc=$rc" >> '${codes}.trace'`,
				'exit $rc',
			].join('\n'),
		);
	});

	afterAll(async () => {
		await fake?.stop();
		await sandbox?.cleanup();
	});

	/** A logged-out gcloud config of the test's own. */
	const freshEnv = async (name: string) => {
		const config = path.join(sandbox.root, `gcloud-${name}`);
		await mkdir(config);
		return {...sandbox.env, CLOUDSDK_CONFIG: config};
	};

	it('offers `gcloud auth login`, gives it the terminal, checks again and goes on to the next question', {timeout: 120_000}, async () => {
		const run = spawnCli(['--no-build'], {cwd: sandbox.project, env: await freshEnv('ink'), cols: 100, rows: 40});
		try {
			await run.waitFor('Run `gcloud auth login` now?');
			expect(await run.screen()).toContainEqual(expect.stringMatching(/✖ gcloud account — No active gcloud account/));
			await run.press(KEY.enter);
			await run.waitFor('Enter authorization code:');
			await run.type('4/fake-code');
			await run.press(KEY.enter);
			// Ink has the terminal back: the checks ran again, green, and the journey went on.
			// A loaded machine makes gcloud slow: generous, and on failure say which gcloud was running.
			const next = await run.waitFor('GCP project id:', {timeout: 60_000}).catch(async (error: unknown) => {
				throw new Error(
					`${String(error)}\ngcloud runs:\n${await readFile(`${codes}.trace`, 'utf8')}\nlast output:\n${JSON.stringify(
						run.chunks.slice(-8).map(chunk => ({at: chunk.at - run.startedAt, data: chunk.data.slice(0, 300)})),
						null,
						1,
					)}`,
				);
			});
			expect(next).toMatch(/✔ Prerequisites/);
			expect(await readFile(codes, 'utf8')).toContain('4/fake-code\n');
			const history = (await run.history()).join('\n');
			expect(history).toMatch(/✔ gcloud account — ci-bot@acme-ml\.iam\.gserviceaccount\.com/);
			await run.press(KEY.ctrlC);
			expect((await run.waitForExit()).exitCode).toBe(130);
		} finally {
			if (!run.exit) run.kill('SIGKILL');
		}
	});

	it('--plain: the line prompt asks, the login reads the terminal, the checks run again', async () => {
		const run = spawnCli(['--no-build', '--plain'], {cwd: sandbox.project, env: await freshEnv('plain'), cols: 100, rows: 40});
		try {
			await run.waitFor(/Run `gcloud auth login` now\?/, {where: 'history'});
			await run.press(KEY.enter);
			await run.waitFor('Enter authorization code:', {where: 'history'});
			await run.type('4/plain-code');
			await run.press(KEY.enter);
			await run.waitFor('GCP project id:', {where: 'history'});
			const history = (await run.history()).join('\n');
			expect(history).toMatch(/\[FAILED\] gcloud account: No active gcloud account/);
			expect(history).toMatch(/\[ok\] gcloud account: ci-bot@acme-ml\.iam\.gserviceaccount\.com/);
			expect(await readFile(codes, 'utf8')).toContain('4/plain-code\n');
			await run.press(KEY.ctrlC);
			expect((await run.waitForExit()).exitCode).toBe(130);
		} finally {
			if (!run.exit) run.kill('SIGKILL');
		}
	});
});
