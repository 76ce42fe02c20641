import {realpath} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it, type TestContext} from 'vitest';
import {CHECK_ORDER, runChecks, type Check, type CheckId} from '../../source/services/checks.js';
import {dockerEngine, requireDocker} from '../support/docker.js';
import {makeSandbox, pathHiding, withEnv} from '../support/environment.js';
import {DEFAULT_ACCOUNT, loginOffline, recordGcloudCalls, writeAdc} from '../support/gcloud.js';

const engine = await dockerEngine();

const sandbox = async (context: TestContext, env: Record<string, string | undefined> = {}) => {
	const created = await makeSandbox({env});
	context.onTestFinished(async () => created.cleanup());
	return created;
};

const byId = (checks: Check[]) => Object.fromEntries(checks.map((check) => [check.id, check])) as Record<CheckId, Check>;

const sdkBin = async () => path.dirname(await realpath((await execa('sh', ['-c', 'command -v gcloud'])).stdout.trim()));

// Every runChecks costs one gcloud read (~1.6 s): the cases run side by side.
describe.concurrent('runChecks', () => {
	it('a fresh machine with the engine down: each problem with its fix, reported as it finishes', async (context) => {
		const box = await sandbox(context, {DOCKER_HOST: 'unix:///nonexistent.sock'});
		const seen: Check[] = [];
		const {checks, gcloud} = await runChecks(box.context(), {needDocker: true, needAdc: true}, (check) => seen.push(check));

		expect(checks.map((check) => check.id)).toEqual(CHECK_ORDER);
		expect(seen.map((check) => check.id).sort()).toEqual([...CHECK_ORDER].sort());
		expect(gcloud).toMatchObject({installed: true, accounts: []});
		const result = byId(checks);
		expect(result.gcloud).toMatchObject({status: 'ok', required: true});
		expect(result.gcloud.detail).toMatch(/Google Cloud SDK \d+\.\d+\.\d+/);
		expect(result.account).toMatchObject({status: 'fail', required: true, fix: 'gcloud auth login'});
		expect(result.project).toMatchObject({status: 'warn'});
		expect(result.project.fix).toContain('gcloud config set project PROJECT');
		expect(result.project.fix).toContain('--project');
		expect(result.adc).toMatchObject({status: 'fail', required: true, fix: 'gcloud auth application-default login'});
		expect(result['docker-cli']).toMatchObject({status: 'ok', required: true});
		expect(result['docker-engine']).toMatchObject({status: 'fail', required: true});
		expect(result['docker-engine'].fix).toContain('Start Docker');
		expect(result['docker-engine'].detail).toContain('Cannot connect');
		expect(result['credential-helper']).toMatchObject({status: 'ok'});
		// Every problem comes with a fix, and nothing that passed carries one.
		for (const check of checks) expect(Boolean(check.fix), check.id).toBe(check.status !== 'ok');
	});

	it('gcloud and the helper missing, docker not needed: install fixes, docker only warns', async (context) => {
		const box = await sandbox(context);
		const PATH = await pathHiding(box.env.PATH ?? '', ['gcloud', 'docker-credential-gcloud', 'docker']);
		const {checks} = await runChecks({platform: withEnv(box.platform, {PATH})}, {needDocker: false, needAdc: false});
		const result = byId(checks);
		expect(result.gcloud).toMatchObject({status: 'fail', required: true});
		expect(result.gcloud.fix).toContain('https://cloud.google.com/sdk/docs/install');
		expect(result.account.status).toBe('fail');
		expect(result.adc).toMatchObject({status: 'warn', required: false});
		expect(result['docker-cli']).toMatchObject({status: 'warn', required: false});
		expect(result['docker-cli'].fix).toContain('Install Docker');
		expect(result['credential-helper']).toMatchObject({status: 'warn', required: false});
		expect(result['credential-helper'].fix).toContain('https://cloud.google.com/sdk/docs/install');
	});

	it('the helper missing while gcloud is there: the fix names the SDK bin folder', async (context) => {
		const box = await sandbox(context, {DOCKER_HOST: 'unix:///nonexistent.sock'});
		const PATH = await pathHiding(box.env.PATH ?? '', ['docker-credential-gcloud']);
		const {checks} = await runChecks({platform: withEnv(box.platform, {PATH})}, {needDocker: true, needAdc: true});
		const helper = byId(checks)['credential-helper'];
		expect(helper).toMatchObject({status: 'fail', required: true});
		expect(helper.fix).toContain(`export PATH="${await sdkBin()}:$PATH"`);
	});

	it('a corrupt ADC file fails with a fix naming it; a given project wins over gcloud config', async (context) => {
		const box = await sandbox(context, {DOCKER_HOST: 'unix:///nonexistent.sock', CLOUDSDK_CORE_PROJECT: 'from-gcloud'});
		const file = await writeAdc(box, {content: 'not json'});
		const {checks, gcloud} = await runChecks(box.context(), {project: 'from-flag', needDocker: false, needAdc: true});
		const result = byId(checks);
		expect(result.adc).toMatchObject({status: 'fail', required: true});
		expect(result.adc.fix).toContain(file);
		expect(result.project).toMatchObject({status: 'ok', required: true});
		expect(result.project.detail).toContain('from-flag');
		expect(gcloud.project).toBe('from-gcloud');
	});
});

requireDocker(describe, engine)('runChecks with the Docker engine', () => {
	it('all green: one gcloud read (config + auth, concurrently), everything ok', async (context) => {
		const box = await sandbox(context, {DOCKER_HOST: engine?.dockerHost, CLOUDSDK_CORE_PROJECT: 'acme-ml'});
		await Promise.all([loginOffline(box), writeAdc(box, {type: 'authorized_user'})]);
		const calls = await recordGcloudCalls(box);
		const {checks, gcloud} = await runChecks(box.context(), {needDocker: true, needAdc: true});

		expect(checks.filter((check) => check.status !== 'ok')).toEqual([]);
		expect(gcloud).toMatchObject({account: DEFAULT_ACCOUNT, project: 'acme-ml'});
		const result = byId(checks);
		expect(result.account.detail).toBe(DEFAULT_ACCOUNT);
		expect(result.project.detail).toContain('acme-ml');
		expect(result['docker-engine'].detail).toMatch(/\d+\.\d+/);
		const recorded = await calls();
		expect(recorded.map((call) => call.args).sort()).toEqual(['auth list --format=json', 'config list --format=json']);
		expect(recorded[0]!.start).toBeLessThan(recorded[1]!.end!);
		expect(recorded[1]!.start).toBeLessThan(recorded[0]!.end!);
	});
});
