import {execFile, spawn} from 'node:child_process';
import {readFile, realpath, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {plannedChecks, type Check, type CheckId} from '../../source/services/checks.js';
import {renderModule} from '../../source/services/spec-module.js';
import {openStore} from '../../source/services/store.js';
import {dockerEngine, requireDocker} from '../support/docker.js';
import {makeSandbox, pathHiding, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {DEFAULT_ACCOUNT, loginOffline, recordGcloudCalls, shimTool, writeAdc} from '../support/gcloud.js';
import {spawnCli} from '../support/pty.js';
import {schemaErrors} from '../support/schema.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const FLYTEKIT = fileURLToPath(new URL('../fixtures/flytekit-engine', import.meta.url));
const engine = await dockerEngine();

type Run = {code: number; stdout: string; stderr: string; ms: number};
const doctor = async (args: string[], sandbox: Sandbox, env: NodeJS.ProcessEnv = sandbox.env): Promise<Run> =>
	new Promise(resolve => {
		const started = Date.now();
		execFile(process.execPath, [cli, 'doctor', ...args], {cwd: sandbox.project, env, timeout: 60_000}, (error, stdout, stderr) => {
			resolve({code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr, ms: Date.now() - started});
		});
	});

type Report = {ok: boolean; checks: Check[]};
const json = (run: Run): Report & {byId: Record<CheckId, Check>} => {
	const report = JSON.parse(run.stdout) as Report;
	return {...report, byId: Object.fromEntries(report.checks.map(check => [check.id, check])) as Record<CheckId, Check>};
};

/** The shape every `doctor --json` document has, whatever the machine. */
const expectShape = (report: Report) => {
	expect(schemaErrors('doctor.schema.json', report)).toEqual([]);
	expect(report.ok).toBe(report.checks.every(check => !check.required || check.status !== 'fail'));
	for (const check of report.checks) {
		expect(Object.keys(check).sort(), check.id).toEqual(['detail', 'id', 'required', 'status', 'title', ...(check.fix ? ['fix'] : [])].sort());
		expect(check.detail.length, check.id).toBeGreaterThan(0);
		expect(check.detail, check.id).not.toContain('\n');
		// A problem always comes with its fix; what passed has none.
		expect(Boolean(check.fix), check.id).toBe(check.status !== 'ok');
	}
};

describe('imagespec-gar doctor on a fresh machine', () => {
	let sandbox: Sandbox;
	beforeAll(async () => {
		sandbox = await makeSandbox({ci: 'true', env: {DOCKER_HOST: 'unix:///nonexistent.sock'}});
	});
	afterAll(async () => sandbox?.cleanup());

	it('logged out, no project, no ADC, the engine down: --json lists each with its fix, exit 1', async () => {
		const run = await doctor(['--json'], sandbox);
		expect(run.code, run.stderr).toBe(1);
		const report = json(run);
		expectShape(report);
		expect(report.ok).toBe(false);
		// Nothing saved: no repository to check.
		expect(report.checks.map(check => check.id)).toEqual(plannedChecks({}));
		expect(report.byId.gcloud).toMatchObject({status: 'ok', detail: expect.stringMatching(/^Google Cloud SDK \d+\.\d+\.\d+ at /)});
		expect(report.byId.account).toMatchObject({status: 'fail', required: true, fix: 'gcloud auth login'});
		expect(report.byId.project).toMatchObject({status: 'warn', required: false});
		expect(report.byId.adc).toMatchObject({status: 'fail', required: true, fix: 'gcloud auth application-default login'});
		expect(report.byId['docker-engine']).toMatchObject({status: 'fail', required: true, detail: expect.stringContaining('unix:///nonexistent.sock')});
		expect(report.byId['docker-engine'].fix).toContain('Start Docker');
		// On PATH, but logged out it gives docker no token: doctor asks it the way docker does.
		expect(report.byId['credential-helper']).toMatchObject({status: 'fail', required: true, fix: expect.stringMatching(/^gcloud auth login/)});
		// --json: the document only; no table.
		expect(run.stderr).toBe('');
	});

	it('plain (not a terminal): the table on stdout in words, the note about the repository, the verdict, exit 1', async () => {
		const run = await doctor([], sandbox);
		expect(run.code).toBe(1);
		expect(run.stderr).toContain('Checking gcloud');
		const lines = run.stdout.split('\n');
		expect(lines).toContainEqual(expect.stringMatching(/^ok {4}Google Cloud SDK \(gcloud\) +Google Cloud SDK \d/));
		expect(lines).toContainEqual(expect.stringMatching(/^FAIL {2}gcloud account +No active gcloud account: not logged in\.$/));
		expect(lines).toContainEqual(expect.stringMatching(/^warn {2}GCP project +No project set .*\(optional\)$/));
		// Each fix sits under its finding, in the finding's column.
		const account = lines.findIndex(line => line.startsWith('FAIL  gcloud account'));
		expect(lines[account + 1]).toBe(`${' '.repeat(account >= 0 ? lines[account]!.indexOf('No active') : 0)}fix: gcloud auth login`);
		expect(run.stdout).toContain('No repository is saved for this folder');
		expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('4 required checks failed: run the fixes above, then imagespec-gar doctor again.');
	});

	it("a team module that does not run: the note names its error and fix, not 'no module declares one'", async () => {
		const moduleFile = path.join(sandbox.project, 'image_specs.py');
		await writeFile(moduleFile, 'from flytekit import ImageSpec\nspec = ImageSpec(name="x", registry="us-east1-docker.pkg.dev/p/r",\n');
		try {
			const run = await doctor([], sandbox);
			expect(run.stdout).toContain('image_specs.py could not be read, so its repository is not known: image_specs.py:2: SyntaxError:');
			expect(run.stdout).toContain('fix: Fix image_specs.py so that `python image_specs.py` runs, then rerun.');
			expect(run.stdout).not.toContain('No repository is saved');
		} finally {
			await rm(moduleFile, {force: true});
		}
	});

	it('docker missing from PATH: the CLI check fails with the install link; with --builder union docker is optional', async () => {
		const env = {...sandbox.env, PATH: await pathHiding(sandbox.env.PATH ?? '', ['docker'])};
		const [local, union] = await Promise.all([doctor(['--json'], sandbox, env), doctor(['--json', '--builder', 'union'], sandbox, env)]);
		expect(json(local).byId['docker-cli']).toMatchObject({status: 'fail', required: true, fix: expect.stringContaining('https://docs.docker.com/get-docker/')});
		expect(json(union).byId['docker-cli']).toMatchObject({status: 'warn', required: false});
		expect(json(union).byId['docker-engine']).toMatchObject({status: 'warn', required: false});
	});

	it('docker-credential-gcloud missing from PATH: fails, and the fix names the folder that holds it', async () => {
		const env = {...sandbox.env, PATH: await pathHiding(sandbox.env.PATH ?? '', ['docker-credential-gcloud'])};
		const run = await doctor(['--json'], sandbox, env);
		expect(run.code).toBe(1);
		const sdkBin = path.dirname(await realpath((await execa('sh', ['-c', 'command -v gcloud'])).stdout.trim()));
		expect(json(run).byId['credential-helper']).toMatchObject({status: 'fail', required: true, fix: expect.stringContaining(`export PATH="${sdkBin}:$PATH"`)});
	});

	it('Ctrl-C while checking: exit 130, nothing changed', async () => {
		const child = spawn(process.execPath, [cli, 'doctor'], {cwd: sandbox.project, env: sandbox.env, stdio: ['ignore', 'pipe', 'pipe']});
		let stderr = '';
		child.stderr.on('data', (chunk: Buffer) => {
			stderr += chunk.toString();
			if (stderr.includes('Checking')) child.kill('SIGINT');
		});
		const code = await new Promise(resolve => {
			child.on('exit', resolve);
		});
		expect(code).toBe(130);
		expect(stderr).toContain('Cancelled');
	});

	it("logged in with a project: no gcloud started, and node:sqlite's ExperimentalWarning never reaches stderr", async () => {
		const box = await makeSandbox({ci: 'true', env: {DOCKER_HOST: 'unix:///nonexistent.sock', CLOUDSDK_CORE_PROJECT: 'acme-ml'}});
		try {
			await loginOffline(box);
			const calls = await recordGcloudCalls(box);
			const run = await doctor(['--json'], box);
			const report = json(run);
			expect(report.byId.account).toMatchObject({status: 'ok', detail: DEFAULT_ACCOUNT});
			expect(report.byId.project.status).toBe('ok');
			expect(await calls()).toEqual([]);
			expect(run.stderr).not.toContain('ExperimentalWarning');
			expect(run.stderr).toBe('');
		} finally {
			await box.cleanup();
		}
	});

	it('starts the credential helper (a gcloud start, its slowest check) before its other processes, and gives it the host', async () => {
		const box = await makeSandbox({ci: 'true', env: {DOCKER_HOST: 'unix:///nonexistent.sock'}});
		try {
			await loginOffline(box);
			// The real tools, each behind a shim that logs when it starts (the helper's also the host docker's protocol gives it).
			const log = path.join(box.root, 'starts.log');
			const real = async (name: string) => (await execa('sh', ['-c', `command -v ${name}`], {env: box.env})).stdout.trim();
			const [helper, docker, python] = await Promise.all([real('docker-credential-gcloud'), real('docker'), real('python3')]);
			const started = (name: string) => `echo "${name} $(date +%s%N)" >> '${log}'`;
			await shimTool(box, 'docker-credential-gcloud', `${started('helper')}\nread host\necho "host $host" >> '${log}'\necho "$host" | exec '${helper}' "$@"`);
			await shimTool(box, 'docker', `${started('docker')}\nexec '${docker}' "$@"`);
			await shimTool(box, 'python3', `${started('python')}\nexec '${python}' "$@"`);

			const run = await doctor(['--json'], box);
			expect(json(run).byId['credential-helper']).toMatchObject({
				status: 'ok',
				detail: expect.stringMatching(/ gives docker a token for us-docker\.pkg\.dev$/),
			});
			const lines = (await readFile(log, 'utf8')).trim().split('\n');
			const at = (name: string) => BigInt(lines.find(line => line.startsWith(`${name} `))!.split(' ')[1]!);
			// Before main's modules load, so before any other check's process: one helper, asked about the host once known.
			expect(at('helper')).toBeLessThan(at('docker'));
			expect(at('helper')).toBeLessThan(at('python'));
			expect(lines.filter(line => line.startsWith('helper '))).toHaveLength(1);
			expect(lines).toContain('host us-docker.pkg.dev');
		} finally {
			await box.cleanup();
		}
	});
});

requireDocker(describe, engine)('imagespec-gar doctor on a set-up machine (real gcloud, engine, fake Artifact Registry)', () => {
	let fake: FakeArtifactRegistry;
	let sandbox: Sandbox;
	let env: NodeJS.ProcessEnv;
	const host = 'us-east1-docker.pkg.dev';

	beforeAll(async () => {
		fake = await startFakeArtifactRegistry();
		fake.addRepository('acme-ml', 'us-east1', 'union-images');
		sandbox = await makeSandbox({ci: 'true', env: {CLOUDSDK_CORE_PROJECT: 'acme-ml', PYTHONPATH: FLYTEKIT}});
		await Promise.all([loginOffline(sandbox), writeAdc(sandbox)]);
		env = {...sandbox.env, DOCKER_HOST: engine!.dockerHost, IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint};
	});

	afterAll(async () => {
		await fake?.stop();
		await sandbox?.cleanup();
	});

	it("a new team member with only the team's module: docker auth for its host is missing; after its fix, exit 0", async () => {
		const member = await makeSandbox({ci: 'true', env: {PYTHONPATH: FLYTEKIT}});
		try {
			await Promise.all([loginOffline(member), writeAdc(member)]);
			await writeFile(
				path.join(member.project, 'image_specs.py'),
				renderModule([{name: 'trainer', python_version: '3.11', registry: `${host}/acme-ml/union-images`, packages: ['pandas'], platform: 'linux/amd64'}], {
					sdk: 'union',
				}),
			);
			const memberEnv = {...member.env, DOCKER_HOST: engine!.dockerHost, IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint};
			const before = await doctor(['--json'], member, memberEnv);
			expect(before.code).toBe(1);
			const report = json(before);
			expectShape(report);
			// The module named the project, location and repository: nothing else was given.
			expect(report.byId.project).toMatchObject({status: 'ok', detail: 'acme-ml (given)'});
			expect(report.byId['docker-auth']).toMatchObject({status: 'fail', required: true, fix: `gcloud auth configure-docker ${host}`});
			expect(report.byId.repository).toMatchObject({status: 'ok', detail: 'union-images in acme-ml · us-east1 exists; you may push to it'});
			expect(report.checks.filter(check => check.required && check.status === 'fail').map(check => check.id)).toEqual(['docker-auth']);

			// The person runs the fix doctor printed, as printed.
			await execa('sh', ['-c', report.byId['docker-auth'].fix!], {env: memberEnv, extendEnv: false});
			const after = await doctor(['--json'], member, memberEnv);
			expect(after.code, after.stdout).toBe(0);
			expect(json(after).byId['docker-auth']).toMatchObject({status: 'ok', detail: `${host} → gcloud credential helper`});
		} finally {
			await member.cleanup();
		}
	});

	it("saved answers, everything in place: exit 0, account and project read from gcloud's files, no gcloud started", async () => {
		const store = await openStore({folder: sandbox.project, platform: sandbox.platform});
		store.save(answers => ({...answers, project: 'acme-ml', location: 'us-east1', repository: 'union-images'}));
		await execa('gcloud', ['auth', 'configure-docker', host, '--quiet'], {env, extendEnv: false});
		const calls = await recordGcloudCalls(sandbox);
		const run = await doctor(['--json'], sandbox, {...env, PATH: sandbox.env.PATH});
		expect(run.code, run.stdout).toBe(0);
		const report = json(run);
		expectShape(report);
		expect(report.ok).toBe(true);
		expect(report.checks.map(check => check.id)).toEqual(plannedChecks({repository: {project: 'acme-ml', location: 'us-east1', repository: 'union-images'}}));
		// On an arm64 runner the architecture check warns (emulated amd64 builds); nothing else may.
		expect(report.checks.filter(check => check.status !== 'ok' && check.id !== 'arch')).toEqual([]);
		expect(report.byId.account.detail).toBe(DEFAULT_ACCOUNT);
		expect(report.byId['docker-engine'].detail).toMatch(/^Engine \d+\.\d+/);
		expect(report.byId.python.detail).toContain('flytekit 1.16.24+stub');

		expect(await calls()).toEqual([]);
	});

	it('in a terminal: an Ink table that fills in, each fix under its finding, the verdict, exit code kept', async () => {
		const loggedOut = await makeSandbox({env: {DOCKER_HOST: engine!.dockerHost}});
		try {
			const run = spawnCli(['doctor'], {cwd: loggedOut.project, env: loggedOut.env, cols: 100, rows: 40});
			const screen = await run.waitFor(/required checks? failed/);
			expect(screen).toMatch(/^✖ gcloud account {2,}No active gcloud account: not logged in\.$/m);
			expect(screen).toMatch(/^ {20,}→ gcloud auth login$/m);
			expect(screen).toMatch(/^✔ Docker engine {2,}Engine \d+\.\d+/m);
			expect(screen).not.toMatch(/checking…/);
			expect((await run.waitForExit()).exitCode).toBe(1);
		} finally {
			await loggedOut.cleanup();
		}
	});
});
