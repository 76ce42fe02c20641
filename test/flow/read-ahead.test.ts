// A run without questions starts the Python its ImageSpec step needs (the interpreter's probe, the
// module's read, the syntax check of what it writes) beside the checks, not one after another in
// the step. Observed through a python3 on PATH that logs each start (then runs the real one) and a
// docker that answers only after a while, so the checks are still running when Python starts.
import {mkdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {defaultFlags, type Flags} from '../../source/flags.js';
import {createAsker} from '../../source/flow/ask.js';
import {runJourney} from '../../source/flow/journey.js';
import {openStore} from '../../source/services/store.js';
import {makeSandbox, withEnv, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';

let fake: FakeArtifactRegistry;
let sandbox: Sandbox;
let log: string;
/** The pid of each Python started (the wrapper execs it, so the pid is Python's). */
let pids: string;

beforeAll(async () => {
	fake = await startFakeArtifactRegistry();
	fake.addRepository('acme-ml', 'us-east1', 'ml-images');
	sandbox = await makeSandbox({env: {IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: '127.0.0.1:5999', PYTHONPATH: undefined}});
	await loginOffline(sandbox);
	const bin = path.join(sandbox.root, 'bin');
	log = path.join(sandbox.root, 'starts.log');
	pids = path.join(sandbox.root, 'pids.log');
	await mkdir(bin);
	const python = (await execa('sh', ['-c', 'command -v python3'])).stdout.trim();
	await writeFile(
		path.join(bin, 'python3'),
		'#!/bin/sh\ncase "$2" in *stdin.buffer*) kind=check;; *"found = {"*) kind=probe;; *) kind=read;; esac\n' +
			`echo "python $kind" >> '${log}'\necho "$$" >> '${pids}'\nexec '${python}' "$@"\n`,
		{mode: 0o755},
	);
	await writeFile(path.join(bin, 'docker'), '#!/bin/sh\nsleep 1\necho "Cannot connect to the Docker daemon" >&2\nexit 1\n', {mode: 0o755});
	sandbox.platform = withEnv(sandbox.platform, {PATH: `${bin}:${sandbox.env.PATH}`});
}, 60_000);

afterAll(async () => {
	await fake?.stop();
	await sandbox?.cleanup();
});

const SETUP = {project: 'acme-ml', location: 'us-east1', repository: 'ml-images'};

const run = async (flags: Partial<Flags>, cwd = sandbox.project, controller = new AbortController()) => {
	return runJourney({
		flags: {...defaultFlags(), build: false, yes: true, ...flags},
		cwd,
		ctx: {platform: sandbox.platform, signal: controller.signal},
		ask: createAsker(undefined, controller.signal),
		report(event) {
			if (event.type === 'step' && event.status === 'running' && !event.detail) void writeFile(log, `step ${event.step}\n`, {flag: 'a'});
		},
		store: await openStore({folder: cwd, platform: sandbox.platform}),
	});
};

describe('a run without questions asks Python while the checks run', () => {
	it('the probe, the read of the module and the syntax check start before the ImageSpec step', async () => {
		expect(await run({...SETUP, image: 'base', pythonVersion: '3.12', baseImage: 'python:3.12-slim'})).toMatchObject({ok: true});
		await writeFile(log, '');
		const result = await run({...SETUP, image: 'added'});
		expect(result).toMatchObject({ok: true, image: 'added', imageUri: expect.stringMatching(/^127\.0\.0\.1:5999\/acme-ml\/ml-images\/added:/)});
		const module = await readFile(path.join(sandbox.project, 'image_specs.py'), 'utf8');
		expect(module).toContain('name="added"');
		expect(module).toContain('name="base"');
		const lines = (await readFile(log, 'utf8')).trim().split('\n');
		const before = lines.slice(0, lines.indexOf('step imagespec'));
		expect(lines).toContain('step imagespec');
		expect(before).toEqual(expect.arrayContaining(['python probe', 'python read', 'python check']));
		// Each once: nothing is asked twice.
		expect(lines.filter(line => line.startsWith('python')).sort()).toEqual(['python check', 'python probe', 'python read']);
	}, 120_000);

	it("a newcomer's run reads the team's module once: the read that found the setup is the ImageSpec step's", async () => {
		const newcomer = path.join(sandbox.root, 'newcomer');
		await mkdir(newcomer);
		await writeFile(path.join(newcomer, 'image_specs.py'), await readFile(path.join(sandbox.project, 'image_specs.py'), 'utf8'));
		await writeFile(log, '');
		// The test registry's host names no location: that one answer is given.
		const result = await run({image: 'scorer', location: 'us-east1'}, newcomer);
		expect(result).toMatchObject({ok: true, project: 'acme-ml', repository: 'ml-images', image: 'scorer'});
		expect(await readFile(path.join(newcomer, 'image_specs.py'), 'utf8')).toContain('name="scorer"');
		expect((await readFile(log, 'utf8')).split('\n').filter(line => line === 'python read')).toHaveLength(1);
	}, 120_000);

	it('Ctrl-C while the checks run ends the Python started early too: none is left behind', async () => {
		await writeFile(pids, '');
		await writeFile(log, '');
		// A module that takes its time to load: its read is still running when Ctrl-C comes.
		await writeFile(path.join(sandbox.project, 'image_specs.py'), '\nimport time\ntime.sleep(60)\n', {flag: 'a'});
		const controller = new AbortController();
		const running = run({...SETUP, image: 'cancelled'}, sandbox.project, controller);
		// Once the read and the spare check have started (the checks wait on the slow docker meanwhile;
		// the probe's answer is kept from the first test's run, per environment).
		await expect
			.poll(
				async () =>
					(await readFile(log, 'utf8'))
						.split('\n')
						.filter(line => line.startsWith('python'))
						.sort(),
				{timeout: 30_000},
			)
			.toEqual(['python check', 'python read']);
		controller.abort();
		await expect(running).rejects.toThrow();
		const started = (await readFile(pids, 'utf8')).trim().split('\n').map(Number);
		const alive = () =>
			started.filter(pid => {
				try {
					process.kill(pid, 0);
					return true;
				} catch {
					return false;
				}
			});
		await expect.poll(alive, {timeout: 10_000}).toEqual([]);
	}, 120_000);
});
