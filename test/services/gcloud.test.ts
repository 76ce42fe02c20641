import {appendFile, copyFile, mkdir, readFile, realpath, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it, type TestContext} from 'vitest';
import {StepError} from '../../source/services/errors.js';
import {
	configureDocker,
	enableArtifactRegistryApi,
	hasApplicationDefaultCredentials,
	isKnownGoogleRegistry,
	readGcloudState,
} from '../../source/services/gcloud.js';
import {makeSandbox, pathHiding, withEnv, type Sandbox} from '../support/environment.js';
import {DEFAULT_ACCOUNT, loginOffline, recordGcloudCalls, shimTool, writeAdc} from '../support/gcloud.js';

const OTHER_ACCOUNT = 'deploy@acme-ml.iam.gserviceaccount.com';

// Tests run concurrently: each removes only its own sandbox.
const sandbox = async (context: TestContext) => {
	const created = await makeSandbox();
	context.onTestFinished(async () => created.cleanup());
	return created;
};

const setProjectInFile = async (box: Sandbox, project: string) => {
	// `gcloud config set project` validates over the network when logged in; write the file instead.
	await mkdir(path.join(box.cloudsdkConfig, 'configurations'), {recursive: true});
	await writeFile(path.join(box.cloudsdkConfig, 'active_config'), 'default');
	await writeFile(path.join(box.cloudsdkConfig, 'configurations', 'config_default'), `[core]\nproject = ${project}\n`);
};

// First and alone: no concurrent read may be loading node:sqlite while process.emitWarning is watched.
describe('readGcloudState and process warnings', () => {
	it("drops only node:sqlite's ExperimentalWarning: process.emitWarning is restored and passes others on", async context => {
		const box = await sandbox(context);
		await setProjectInFile(box, 'acme-ml');
		await loginOffline(box);
		const calls = await recordGcloudCalls(box);
		const seen: string[] = [];
		const original = process.emitWarning;
		const recorder = ((warning: string | Error) => {
			seen.push(typeof warning === 'string' ? warning : warning.message);
		}) as typeof process.emitWarning;
		process.emitWarning = recorder;
		try {
			expect(await readGcloudState(box.context())).toMatchObject({account: DEFAULT_ACCOUNT, project: 'acme-ml'});
			expect(process.emitWarning).toBe(recorder);
			process.emitWarning('not ours to drop', 'ExperimentalWarning');
		} finally {
			process.emitWarning = original;
		}
		expect(seen).toEqual(['not ours to drop']);
		// The files answered: node:sqlite was loaded, not gcloud started.
		expect(await calls()).toEqual([]);
	});
});

// Each gcloud start costs ~1.6 s: the gcloud-reading tests run side by side.
describe.concurrent('readGcloudState', () => {
	it('reports a fresh config: installed, version, nobody logged in, no project', async context => {
		const box = await sandbox(context);
		const state = await readGcloudState(box.context());
		expect(state.installed).toBe(true);
		expect(state.version).toMatch(/^\d+\.\d+\.\d+$/);
		expect(state.sdkBin).toBe(path.dirname(await realpath((await execa('sh', ['-c', 'command -v gcloud'])).stdout.trim())));
		expect(state.account).toBeUndefined();
		expect(state.accounts).toEqual([]);
		expect(state.project).toBeUndefined();
	});

	it('reads the account and project of a logged-in config from its files, starting no gcloud', async context => {
		const box = await sandbox(context);
		// Project first: login adds core/account to the same file.
		await setProjectInFile(box, 'acme-ml');
		const account = await loginOffline(box);
		const calls = await recordGcloudCalls(box);
		const state = await readGcloudState(box.context());
		expect(state).toMatchObject({installed: true, account: DEFAULT_ACCOUNT, project: 'acme-ml'});
		expect(state.accounts).toEqual([account]);
		expect(await calls()).toEqual([]);
	});

	it('on the files too, CLOUDSDK_CORE_ACCOUNT and CLOUDSDK_CORE_PROJECT override the config file, as gcloud agrees', async context => {
		const box = await sandbox(context);
		await setProjectInFile(box, 'from-file');
		// The last login becomes core/account in the file; the other is only credentialed.
		await loginOffline(box, {account: OTHER_ACCOUNT});
		await loginOffline(box);
		const calls = await recordGcloudCalls(box);
		const platform = withEnv(box.platform, {CLOUDSDK_CORE_ACCOUNT: OTHER_ACCOUNT, CLOUDSDK_CORE_PROJECT: 'from-env'});
		const state = await readGcloudState({platform});
		expect(state).toMatchObject({account: OTHER_ACCOUNT, project: 'from-env', accounts: [DEFAULT_ACCOUNT, OTHER_ACCOUNT]});
		expect(await calls()).toEqual([]);
		// gcloud itself says the same under that env.
		const listed = await execa('gcloud', ['auth', 'list', '--format=json'], {env: platform.env, extendEnv: false});
		expect(JSON.parse(listed.stdout)).toEqual([
			{account: DEFAULT_ACCOUNT, status: ''},
			{account: OTHER_ACCOUNT, status: 'ACTIVE'},
		]);
	});

	it('CLOUDSDK_ACTIVE_CONFIG_NAME selects another configurations/config_<name>, starting no gcloud', async context => {
		const box = await sandbox(context);
		await setProjectInFile(box, 'acme-ml');
		await loginOffline(box);
		await writeFile(path.join(box.cloudsdkConfig, 'configurations', 'config_ci'), `[core]\naccount = ${DEFAULT_ACCOUNT}\nproject = ci-project\n`);
		const calls = await recordGcloudCalls(box);
		expect((await readGcloudState(box.context())).project).toBe('acme-ml');
		const state = await readGcloudState({platform: withEnv(box.platform, {CLOUDSDK_ACTIVE_CONFIG_NAME: 'ci'})});
		expect(state).toMatchObject({account: DEFAULT_ACCOUNT, project: 'ci-project', accounts: [DEFAULT_ACCOUNT]});
		expect(await calls()).toEqual([]);
	});

	it('logged in without a project: the files answer (project unset, as gcloud says) unless gcloud might ask a GCE metadata server', async context => {
		const box = await sandbox(context);
		await loginOffline(box);
		// gcloud agrees there is no project.
		const listed = await execa('gcloud', ['config', 'list', '--format=json'], {env: box.env, extendEnv: false});
		expect(JSON.parse(listed.stdout).core?.project).toBeUndefined();
		expect(await readFile(path.join(box.cloudsdkConfig, 'gce'), 'utf8')).toBe('False');
		const calls = await recordGcloudCalls(box);
		const state = await readGcloudState(box.context());
		expect(state).toMatchObject({account: DEFAULT_ACCOUNT, accounts: [DEFAULT_ACCOUNT]});
		expect(state.project).toBeUndefined();
		expect(await calls()).toEqual([]);

		// Not known to be off GCE: gcloud is asked.
		await rm(path.join(box.cloudsdkConfig, 'gce'));
		expect((await readGcloudState(box.context())).project).toBeUndefined();
		expect((await calls()).map(call => call.args).sort()).toEqual(['auth list --format=json', 'config list --format=json']);

		// The login wrote [core] with the account last: the project joins that section.
		await appendFile(path.join(box.cloudsdkConfig, 'configurations', 'config_default'), 'project = acme-ml\n');
		expect(await readGcloudState(box.context())).toMatchObject({account: DEFAULT_ACCOUNT, project: 'acme-ml'});
		expect(await calls()).toHaveLength(2);
	});

	it('an account in the config without credentials: asks gcloud, which marks nobody active', async context => {
		const box = await sandbox(context);
		await loginOffline(box);
		const file = path.join(box.cloudsdkConfig, 'configurations', 'config_default');
		await writeFile(file, '[core]\naccount = someone@x.com\nproject = acme-ml\n');
		const calls = await recordGcloudCalls(box);
		const state = await readGcloudState(box.context());
		expect(state).toMatchObject({project: 'acme-ml', accounts: [DEFAULT_ACCOUNT]});
		expect(state.account).toBeUndefined();
		expect(await calls()).toHaveLength(2);

		await writeFile(file, `[core]\naccount = ${DEFAULT_ACCOUNT}\nproject = acme-ml\n`);
		expect((await readGcloudState(box.context())).account).toBe(DEFAULT_ACCOUNT);
		expect(await calls()).toHaveLength(2);
	});

	it('a corrupt credentials.db: asks gcloud, whose own failure is reported; restored, the files answer', async context => {
		const box = await sandbox(context);
		await setProjectInFile(box, 'acme-ml');
		await loginOffline(box);
		const database = path.join(box.cloudsdkConfig, 'credentials.db');
		await copyFile(database, `${database}.good`);
		await writeFile(database, 'garbage bytes, not a database');
		const calls = await recordGcloudCalls(box);
		// `gcloud auth list` crashes on the file itself ("file is not a database"): the gcloud path throws as it always has.
		const error = await readGcloudState(box.context()).catch((error_: unknown) => error_);
		expect(error).toBeInstanceOf(StepError);
		expect(error).toMatchObject({reason: 'GCLOUD_FAILED', message: expect.stringMatching(/^gcloud auth list failed \(exit 1\)/)});
		expect((await calls()).map(call => call.args).sort()).toEqual(['auth list --format=json', 'config list --format=json']);

		await copyFile(`${database}.good`, database);
		expect(await readGcloudState(box.context())).toMatchObject({account: DEFAULT_ACCOUNT, project: 'acme-ml'});
		expect(await calls()).toHaveLength(2);
	});

	it('honours CLOUDSDK_CORE_PROJECT over the config file', async context => {
		const box = await sandbox(context);
		await setProjectInFile(box, 'from-file');
		const state = await readGcloudState({platform: withEnv(box.platform, {CLOUDSDK_CORE_PROJECT: 'from-env'})});
		expect(state.project).toBe('from-env');
	});

	it('reports gcloud missing from PATH without throwing', async context => {
		const box = await sandbox(context);
		const PATH = await pathHiding(box.env.PATH ?? '', ['gcloud']);
		const state = await readGcloudState({platform: withEnv(box.platform, {PATH})});
		expect(state).toEqual({installed: false, accounts: []});
	});
});

describe('hasApplicationDefaultCredentials', () => {
	it('is absent when the file is missing', async context => {
		const box = await sandbox(context);
		const adc = await hasApplicationDefaultCredentials(box.context());
		expect(adc).toMatchObject({present: false, reason: 'ADC_MISSING', path: path.join(box.cloudsdkConfig, 'application_default_credentials.json')});
	});

	it('reads authorized_user credentials from CLOUDSDK_CONFIG', async context => {
		const box = await sandbox(context);
		const file = await writeAdc(box, {type: 'authorized_user'});
		expect(await hasApplicationDefaultCredentials(box.context())).toEqual({
			present: true,
			path: file,
			type: 'authorized_user',
			account: undefined,
			quotaProject: 'acme-ml',
		});
	});

	it('names the service account of service_account credentials', async context => {
		const box = await sandbox(context);
		await writeAdc(box, {type: 'service_account'});
		expect(await hasApplicationDefaultCredentials(box.context())).toMatchObject({present: true, type: 'service_account', account: DEFAULT_ACCOUNT});
	});

	it('treats a corrupt file as not present, with the reason', async context => {
		const box = await sandbox(context);
		await writeAdc(box, {content: '{"type": "authorized_user",'});
		expect(await hasApplicationDefaultCredentials(box.context())).toMatchObject({present: false, reason: 'ADC_CORRUPT'});
	});

	it('treats credentials without their secrets as not present', async context => {
		const box = await sandbox(context);
		await writeAdc(box, {content: JSON.stringify({type: 'authorized_user', client_id: 'x'})});
		const adc = await hasApplicationDefaultCredentials(box.context());
		expect(adc).toMatchObject({present: false, reason: 'ADC_INVALID', type: 'authorized_user'});
		expect(adc.detail).toContain('refresh_token');
	});

	it('follows GOOGLE_APPLICATION_CREDENTIALS first', async context => {
		const box = await sandbox(context);
		await writeAdc(box, {type: 'authorized_user'});
		const elsewhere = path.join(box.root, 'missing.json');
		const adc = await hasApplicationDefaultCredentials({platform: withEnv(box.platform, {GOOGLE_APPLICATION_CREDENTIALS: elsewhere})});
		expect(adc).toMatchObject({present: false, path: elsewhere, reason: 'ADC_MISSING'});
	});
});

describe.concurrent('configureDocker', () => {
	const host = 'us-east1-docker.pkg.dev';

	it('adds the gcloud helper, keeps everything else, and skips gcloud once registered', async context => {
		const box = await sandbox(context);
		const file = path.join(box.dockerConfig, 'config.json');
		const before = {
			auths: {'ghcr.io': {auth: 'dXNlcjpwYXNz'}},
			credsStore: 'desktop',
			credHelpers: {'123456789.dkr.ecr.us-east-1.amazonaws.com': 'ecr-login'},
			currentContext: 'colima',
			plugins: {debug: {hooks: 'exec'}},
		};
		await writeFile(file, JSON.stringify(before));
		expect(await configureDocker(box.context(), host)).toEqual({changed: true, configPath: file});
		const after = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
		expect(after).toEqual({...before, credHelpers: {...before.credHelpers, [host]: 'gcloud'}});

		// Second call: with gcloud gone from PATH, any gcloud run would throw TOOL_NOT_FOUND.
		const PATH = await pathHiding(box.env.PATH ?? '', ['gcloud']);
		expect(await configureDocker({platform: withEnv(box.platform, {PATH})}, host)).toEqual({changed: false, configPath: file});
	});

	it('registers a loopback registry that gcloud does not know', async context => {
		const box = await sandbox(context);
		expect(isKnownGoogleRegistry('127.0.0.1:5000')).toBe(false);
		await configureDocker(box.context(), '127.0.0.1:5000');
		const after = JSON.parse(await readFile(path.join(box.dockerConfig, 'config.json'), 'utf8')) as {credHelpers: Record<string, string>};
		expect(after.credHelpers['127.0.0.1:5000']).toBe('gcloud');
	});

	it('refuses a corrupt config.json without touching it', async context => {
		const box = await sandbox(context);
		const file = path.join(box.dockerConfig, 'config.json');
		await writeFile(file, '{"credHelpers": ');
		const error = await configureDocker(box.context(), host).catch((error_: unknown) => error_);
		expect(error).toBeInstanceOf(StepError);
		expect(error).toMatchObject({reason: 'DOCKER_CONFIG_CORRUPT'});
		expect(await readFile(file, 'utf8')).toBe('{"credHelpers": ');
	});

	it('does not trust exit 0: a gcloud that wrote nothing is an error with a fix', async context => {
		const box = await sandbox(context);
		await shimTool(box, 'gcloud', 'echo "WARNING: skipping unknown host" >&2; exit 0');
		const error = await configureDocker(box.context(), host).catch((error_: unknown) => error_);
		expect(error).toMatchObject({reason: 'CONFIGURE_DOCKER_NOT_REGISTERED'});
		expect((error as StepError).fix).toContain(`gcloud auth configure-docker ${host}`);
		expect((error as StepError).message).toContain('skipping unknown host');
	});

	it('maps a failing gcloud to a StepError naming the command', async context => {
		const box = await sandbox(context);
		await shimTool(box, 'gcloud', 'echo "ERROR: boom" >&2; exit 1');
		await expect(configureDocker(box.context(), host)).rejects.toMatchObject({
			reason: 'CONFIGURE_DOCKER_FAILED',
			message: expect.stringContaining('ERROR: boom'),
		});
	});

	it('names gcloud when it is not installed', async context => {
		const box = await sandbox(context);
		const PATH = await pathHiding(box.env.PATH ?? '', ['gcloud']);
		const error = await configureDocker({platform: withEnv(box.platform, {PATH})}, host).catch((error_: unknown) => error_);
		expect(error).toMatchObject({reason: 'TOOL_NOT_FOUND'});
		expect((error as StepError).message).toContain('gcloud');
		expect((error as StepError).fix).toContain('https://cloud.google.com/sdk/docs/install');
	});
});

describe('enableArtifactRegistryApi', () => {
	it('runs gcloud services enable; a refusal says what gcloud said, the role it needs and the command for an owner', async context => {
		const box = await sandbox(context);
		// Nobody is logged in: the real gcloud refuses before it reaches the network.
		const error = await enableArtifactRegistryApi(box.context(), 'acme-ml').catch((error_: unknown) => error_);
		expect(error).toBeInstanceOf(StepError);
		expect(error).toMatchObject({
			reason: 'SERVICE_DISABLED',
			message: expect.stringMatching(/^Could not enable the Artifact Registry API in project acme-ml \(exit 1\): \S/),
		});
		expect((error as StepError).fix).toBe(
			'Enabling an API needs Service Usage Admin (roles/serviceusage.serviceUsageAdmin) or Owner on the project; ' +
				'ask for it, or ask an owner to run: gcloud services enable artifactregistry.googleapis.com --project acme-ml',
		);
	});
});
