// e2e/: the built CLI (dist/cli.js) run as a person runs it, in a sandboxed home with real gcloud,
// the loopback Artifact Registry fake and, where a build happens, a real Docker engine and registry.
import {spawn} from 'node:child_process';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CLI_PATH} from '../support/cli.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';

/** An Artifact Registry API that takes every call and never answers (a dead proxy, a black-holed network). */
describe('the Artifact Registry API never answers', () => {
	let fake: FakeArtifactRegistry;
	let sandbox: Sandbox;

	beforeAll(async () => {
		fake = await startFakeArtifactRegistry();
		fake.addRepository('acme-ml', 'us-east1', 'union-images');
		fake.silent = true;
		sandbox = await makeSandbox({ci: 'true', env: {IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: '127.0.0.1:9'}});
		await loginOffline(sandbox);
	});

	afterAll(async () => {
		await fake?.stop();
		await sandbox?.cleanup();
	});

	const start = (env: NodeJS.ProcessEnv = sandbox.env) => {
		const child = spawn(
			process.execPath,
			[CLI_PATH, '--project', 'acme-ml', '--location', 'us-east1', '--repository', 'union-images', '--image', 'trainer', '--no-build', '--json'],
			{cwd: sandbox.project, env},
		);
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (data: Buffer) => {
			stdout += data.toString();
		});
		child.stderr.on('data', (data: Buffer) => {
			stderr += data.toString();
		});
		const exit = new Promise<{code: number | null; at: number}>(resolve => {
			child.on('exit', code => {
				resolve({code, at: Date.now()});
			});
		});
		return {child, exit, output: () => ({stdout, stderr})};
	};

	const until = async (check: () => boolean, ms: number) => {
		const deadline = Date.now() + ms;
		while (!check()) {
			if (Date.now() > deadline) throw new Error('not in time');
			await new Promise(resolve => setTimeout(resolve, 20));
		}
	};

	it('Ctrl-C while a call is in flight: exit 130 within a second, the JSON document says cancelled', async () => {
		const calls = fake.calls.length;
		const run = start();
		// The repository step's call is out and unanswered.
		await until(() => fake.calls.slice(calls).some(call => call.method === 'GetRepository' || call.method === 'ListRepositories'), 60_000);
		await new Promise(resolve => setTimeout(resolve, 500));
		const sent = Date.now();
		run.child.kill('SIGINT');
		const {code, at} = await run.exit;
		expect(code).toBe(130);
		expect(at - sent).toBeLessThan(1000);
		expect(JSON.parse(run.output().stdout)).toMatchObject({ok: false, error: {reason: 'CANCELLED'}});
		expect(run.output().stderr).toContain('Cancelled.');
	});

	it('without Ctrl-C: each call has a deadline, and the run stops with the fix instead of waiting for minutes', async () => {
		const run = start({...sandbox.env, IMAGESPEC_GAR_API_TIMEOUT: '3'});
		const started = Date.now();
		const {code, at} = await run.exit;
		expect(code).toBe(1);
		// One deadline per call; a call that got no answer is not tried again.
		expect(at - started).toBeLessThan(30_000);
		const document = JSON.parse(run.output().stdout) as {ok: boolean; error: {message: string; fix: string; reason: string}};
		expect(document).toMatchObject({ok: false, error: {reason: 'API_TIMEOUT'}});
		expect(document.error.message).toMatch(/^Artifact Registry did not answer within 3 s while trying to /);
		expect(document.error.fix).toContain('IMAGESPEC_GAR_API_TIMEOUT');
		expect(run.output().stderr).not.toMatch(/\n\s+at /);
	});
});
