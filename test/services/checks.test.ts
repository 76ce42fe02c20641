import {mkdir, realpath, symlink, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it, type TestContext} from 'vitest';
import {CHECK_ORDER, plannedChecks, runChecks, runnableFix, type Check, type CheckId, type CheckOptions} from '../../source/services/checks.js';
import {PUSH_PERMISSION} from '../../source/services/repository-iam.js';
import {dockerEngine, requireDocker} from '../support/docker.js';
import {makeSandbox, pathHiding, withEnv, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {DEFAULT_ACCOUNT, FAKE_TOKEN, loginOffline, recordGcloudCalls, writeAdc} from '../support/gcloud.js';

const engine = await dockerEngine();
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

const sandbox = async (context: TestContext, env: Record<string, string | undefined> = {}) => {
	const created = await makeSandbox({env});
	context.onTestFinished(async () => created.cleanup());
	return created;
};

const byId = (checks: Check[]) => Object.fromEntries(checks.map(check => [check.id, check])) as Record<CheckId, Check>;

const sdkBin = async () => path.dirname(await realpath((await execa('sh', ['-c', 'command -v gcloud'])).stdout.trim()));

const writeDockerConfig = async (box: Sandbox, config: unknown) =>
	writeFile(path.join(box.dockerConfig, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));

// Every runChecks costs one gcloud read (~1.6 s): the cases run side by side.
describe.concurrent('runChecks', () => {
	it('a fresh machine with the engine down: each problem with its fix, reported as it finishes', async context => {
		const box = await sandbox(context, {DOCKER_HOST: 'unix:///nonexistent.sock'});
		const seen: Check[] = [];
		const options: CheckOptions = {needDocker: true, needAdc: true};
		const {checks, gcloud} = await runChecks(box.context(), options, check => seen.push(check));

		// Nothing is saved: the repository checks are not planned, everything else is.
		expect(plannedChecks(options)).toEqual(CHECK_ORDER.filter(id => !['docker-auth', 'repository', 'data-plane', 'remote-builder'].includes(id)));
		expect(checks.map(check => check.id)).toEqual(plannedChecks(options));
		expect(seen.map(check => check.id).sort()).toEqual([...plannedChecks(options)].sort());
		expect(gcloud).toMatchObject({installed: true, accounts: []});
		const result = byId(checks);
		expect(result.gcloud).toMatchObject({status: 'ok', required: true});
		expect(result.gcloud.detail).toMatch(/Google Cloud SDK \d+\.\d+\.\d+/);
		expect(result.account).toMatchObject({status: 'fail', required: true, fix: 'gcloud auth login'});
		expect(runnableFix(result.account)).toEqual({command: 'gcloud auth login', args: ['auth', 'login']});
		expect(result.project).toMatchObject({status: 'warn'});
		expect(result.project.fix).toContain('gcloud config set project PROJECT');
		expect(result.project.fix).toContain('--project');
		expect(result.adc).toMatchObject({status: 'fail', required: true, fix: 'gcloud auth application-default login'});
		expect(runnableFix(result.adc)?.args).toEqual(['auth', 'application-default', 'login']);
		expect(result['docker-cli']).toMatchObject({status: 'ok', required: true});
		expect(result['docker-engine']).toMatchObject({status: 'fail', required: true});
		expect(result['docker-engine'].fix).toContain('Start Docker');
		expect(result['docker-engine'].detail).toContain('Cannot connect');
		// On PATH, but logged out it gives docker nothing: doctor asks it as docker would.
		expect(result['credential-helper']).toMatchObject({status: 'fail', required: true, fix: expect.stringMatching(/^gcloud auth login/)});
		expect(result['credential-helper'].detail).toMatch(/docker-credential-gcloud gives docker no token for us-docker\.pkg\.dev: /);
		expect(result.arch).toMatchObject({status: 'ok', required: false});
		expect(result.python.required).toBe(false);
		// Every problem comes with a fix, and nothing that passed carries one.
		for (const check of checks) expect(Boolean(check.fix), check.id).toBe(check.status !== 'ok');
		// Only logins are fixes the wizard runs itself.
		expect(checks.filter(check => runnableFix(check)).map(check => check.id)).toEqual(expect.arrayContaining(['account', 'adc']));
		expect(
			checks
				.filter(check => runnableFix(check) && check.id !== 'credential-helper')
				.map(check => check.id)
				.sort(),
		).toEqual(['account', 'adc']);
	});

	it('gcloud and the helper missing, docker not needed: install fixes, docker only warns', async context => {
		const box = await sandbox(context);
		const PATH = await pathHiding(box.env.PATH ?? '', ['gcloud', 'docker-credential-gcloud', 'docker']);
		const {checks} = await runChecks({platform: withEnv(box.platform, {PATH})}, {needDocker: false, needAdc: false, python: false});
		const result = byId(checks);
		expect(result.gcloud).toMatchObject({status: 'fail', required: true});
		expect(result.gcloud.fix).toContain('https://cloud.google.com/sdk/docs/install');
		expect(result.account.status).toBe('fail');
		// Not a login the wizard could run: gcloud itself is missing.
		expect(runnableFix(result.account)).toBeUndefined();
		expect(result.adc).toMatchObject({status: 'warn', required: false});
		expect(result['docker-cli']).toMatchObject({status: 'warn', required: false});
		expect(result['docker-cli'].fix).toContain('Install Docker');
		expect(result['credential-helper']).toMatchObject({status: 'warn', required: false});
		expect(result['credential-helper'].fix).toContain('https://cloud.google.com/sdk/docs/install');
		expect(result.python).toBeUndefined();
	});

	it('the helper missing while gcloud is there: the fix names the SDK bin folder', async context => {
		const box = await sandbox(context, {DOCKER_HOST: 'unix:///nonexistent.sock'});
		const PATH = await pathHiding(box.env.PATH ?? '', ['docker-credential-gcloud']);
		const {checks} = await runChecks({platform: withEnv(box.platform, {PATH})}, {needDocker: true, needAdc: true, python: false});
		const helper = byId(checks)['credential-helper'];
		expect(helper).toMatchObject({status: 'fail', required: true});
		expect(helper.fix).toContain(`export PATH="${await sdkBin()}:$PATH"`);
	});

	it('docker missing from PATH while a local build is planned: required, with the install link', async context => {
		const box = await sandbox(context);
		const PATH = await pathHiding(box.env.PATH ?? '', ['docker']);
		const {checks} = await runChecks({platform: withEnv(box.platform, {PATH})}, {needDocker: true, needAdc: false, python: false});
		const result = byId(checks);
		expect(result['docker-cli']).toMatchObject({status: 'fail', required: true, detail: 'docker was not found on PATH.'});
		expect(result['docker-engine']).toMatchObject({status: 'fail', required: true, detail: 'Needs the Docker CLI.'});
		expect(result['docker-cli'].fix).toContain('https://docs.docker.com/get-docker/');
	});

	/** PATH whose docker is a script (prepended), running the real docker. */
	const dockerVia = async (box: Sandbox, relative: string, script: (docker: string) => string) => {
		const docker = (await execa('sh', ['-c', 'command -v docker'])).stdout.trim();
		const launcher = path.join(box.root, 'usr', 'bin', path.basename(relative) === 'docker' ? 'snap' : 'launcher');
		await mkdir(path.dirname(launcher), {recursive: true});
		await writeFile(launcher, `#!/bin/sh\n${script(docker)}\n`, {mode: 0o755});
		await mkdir(path.join(box.root, path.dirname(relative)), {recursive: true});
		await symlink(launcher, path.join(box.root, relative));
		return withEnv(box.platform, {PATH: `${path.join(box.root, path.dirname(relative))}:${box.env.PATH}`});
	};

	it("docker from a snap: the CLI check fails (the snap's docker cannot run gcloud's helper), saying what to install", async context => {
		const box = await sandbox(context, {DOCKER_HOST: engine?.dockerHost ?? 'unix:///nonexistent.sock'});
		const platform = await dockerVia(box, 'snap/bin/docker', docker => `exec ${docker} "$@"`);
		const result = byId((await runChecks({platform}, {needDocker: true, needAdc: false, python: false})).checks);
		expect(result['docker-cli']).toMatchObject({status: 'fail', required: true});
		expect(result['docker-cli'].detail).toContain(`${path.join(box.root, 'snap', 'bin', 'docker')} is the snap's docker`);
		expect(result['docker-cli'].fix).toContain('sudo snap remove docker');
		// Not needed for this run (Union builds): it says the same, without failing the run.
		const union = byId((await runChecks({platform}, {needDocker: false, needAdc: false, python: false})).checks);
		expect(union['docker-cli']).toMatchObject({status: 'warn', required: false});
	});

	it("run under sudo: docker and gcloud read root's files, said as a warning naming the person", async context => {
		const box = await sandbox(context, {SUDO_USER: 'alice'});
		const result = byId((await runChecks({platform: {...box.platform, uid: 0}}, {needDocker: true, needAdc: false, python: false})).checks);
		expect(result['docker-cli']).toMatchObject({status: 'warn', required: false});
		expect(result['docker-cli'].detail).toContain("imagespec-gar runs under sudo: docker and gcloud read root's config and login, not alice's");
		expect(result['docker-cli'].fix).toContain('Run imagespec-gar as alice, without sudo');
		const asAlice = byId((await runChecks({platform: {...box.platform, uid: 1000}}, {needDocker: true, needAdc: false, python: false})).checks);
		expect(asAlice['docker-cli']).toMatchObject({status: 'ok'});
	});

	// The docker CLI run as a user outside the docker group (only root can switch users: CI runs as root).
	requireDocker(it, engine).skipIf(process.getuid?.() !== 0)(
		'an engine socket the user may not open: the docker-group fix, not "start Docker"',
		async context => {
			const box = await sandbox(context, {DOCKER_HOST: engine?.dockerHost, USER: 'alice'});
			const platform = await dockerVia(box, 'bin/docker', docker => `cd / && exec runuser -u nobody -- ${docker} "$@"`);
			const result = byId((await runChecks({platform}, {needDocker: true, needAdc: false, python: false})).checks);
			expect(result['docker-engine']).toMatchObject({
				status: 'fail',
				required: true,
				fix: 'sudo usermod -aG docker alice, then log out and back in (or run: newgrp docker)',
			});
			expect(result['docker-engine'].detail).toContain('permission denied on its socket');
		},
	);

	it('a corrupt ADC file fails with a fix naming it; a given project wins over gcloud config', async context => {
		const box = await sandbox(context, {DOCKER_HOST: 'unix:///nonexistent.sock', CLOUDSDK_CORE_PROJECT: 'from-gcloud'});
		const file = await writeAdc(box, {content: 'not json'});
		const {checks, gcloud} = await runChecks(box.context(), {project: 'from-flag', needDocker: false, needAdc: true, python: false});
		const result = byId(checks);
		expect(result.adc).toMatchObject({status: 'fail', required: true});
		expect(result.adc.fix).toContain(file);
		expect(runnableFix(result.adc)).toBeUndefined();
		expect(result.project).toMatchObject({status: 'ok', required: true});
		expect(result.project.detail).toContain('from-flag');
		expect(gcloud.project).toBe('from-gcloud');
	});

	it('gcloud and ADC logged in as different accounts: says which one pushes and which one calls the API', async context => {
		const box = await sandbox(context, {DOCKER_HOST: 'unix:///nonexistent.sock'});
		// ADC is DEFAULT_ACCOUNT's key; gcloud is logged in as someone else.
		await Promise.all([writeAdc(box, {type: 'service_account'}), loginOffline(box, {account: 'pusher@acme-ml.iam.gserviceaccount.com'})]);
		const {checks} = await runChecks(box.context(), {needDocker: false, needAdc: true, python: false});
		expect(byId(checks).adc).toMatchObject({
			status: 'warn',
			detail: expect.stringContaining(`pushes go as pusher@acme-ml.iam.gserviceaccount.com, Artifact Registry API calls as ${DEFAULT_ACCOUNT}`),
			fix: expect.stringContaining('gcloud auth application-default login'),
		});
	});

	it('ADC present: the type and, for a service account, which account', async context => {
		const box = await sandbox(context, {DOCKER_HOST: 'unix:///nonexistent.sock'});
		await writeAdc(box, {type: 'service_account'});
		const {checks} = await runChecks(box.context(), {needDocker: false, needAdc: true, python: false});
		expect(byId(checks).adc).toMatchObject({status: 'ok', required: true, detail: expect.stringContaining(`service_account (${DEFAULT_ACCOUNT})`)});
	});

	it('arm64: builds for linux/amd64 are emulated, --builder union is the fix; without a local build it is fine', async context => {
		const box = await sandbox(context, {DOCKER_HOST: 'unix:///nonexistent.sock'});
		const arm = {...box.platform, arch: 'arm64'};
		const [local, remote] = await Promise.all([
			runChecks({platform: arm}, {needDocker: true, needAdc: false, python: false}),
			runChecks({platform: arm}, {needDocker: false, needAdc: false, python: false}),
		]);
		expect(byId(local.checks).arch).toMatchObject({status: 'warn', required: false, fix: expect.stringContaining('--builder union')});
		expect(byId(local.checks).arch.detail).toMatch(/emulation/);
		expect(byId(remote.checks).arch).toMatchObject({status: 'ok'});
	});

	it('Python: absent, with flytekit importable, and with a flytekit that fails to import', async context => {
		const box = await sandbox(context, {DOCKER_HOST: 'unix:///nonexistent.sock'});
		const noPython = await pathHiding(box.env.PATH ?? '', ['python3', 'python']);
		box.env.PATH = await pathHiding(box.env.PATH ?? '', ['gcloud']);
		const [plain, present, broken] = await Promise.all([
			runChecks(box.context(), {needDocker: false, needAdc: false}),
			runChecks({platform: withEnv(box.platform, {PYTHONPATH: path.join(FIXTURES, 'flytekit-engine')})}, {needDocker: false, needAdc: false}),
			runChecks({platform: withEnv(box.platform, {PYTHONPATH: path.join(FIXTURES, 'flytekit-broken')})}, {needDocker: false, needAdc: false}),
		]);
		// No python at all: gcloud needs one, so only the Python check sees the hidden PATH.
		const {detectPython} = await import('../../source/services/python.js');
		expect(await detectPython({platform: withEnv(box.platform, {PATH: noPython})})).toEqual({found: false});

		expect(byId(plain.checks).python).toMatchObject({status: 'warn', required: false, fix: expect.stringContaining('pip install union')});
		expect(byId(plain.checks).python.detail).toMatch(/^Python 3\.\d+\.\d+ \(.+\) has neither union nor flytekit/);
		expect(byId(present.checks).python).toMatchObject({status: 'ok', detail: expect.stringContaining('flytekit 1.16.24+stub')});
		expect(present.python).toMatchObject({found: true, flytekit: '1.16.24+stub'});
		expect(byId(broken.checks).python).toMatchObject({status: 'warn', detail: expect.stringContaining('a_dependency_that_is_not_installed')});
	});
});

describe.concurrent('runChecks for a saved repository', () => {
	let fake: FakeArtifactRegistry;
	const repository = {project: 'acme-ml', location: 'us-east1', repository: 'union-images'};
	const host = 'us-east1-docker.pkg.dev';

	beforeAll(async () => {
		fake = await startFakeArtifactRegistry();
		fake.addRepository('acme-ml', 'us-east1', 'union-images');
		fake.addRepository('acme-ml', 'us-east1', 'maven-libs', {format: 'MAVEN'});
	});

	afterAll(async () => fake?.stop());

	/** gcloud is hidden unless a case needs its account: each gcloud read costs ~1.6 s of CPU. */
	const repositoryBox = async (context: TestContext, endpoint = fake.endpoint, gcloud = false) => {
		const box = await sandbox(context, {DOCKER_HOST: 'unix:///nonexistent.sock', IMAGESPEC_GAR_API_ENDPOINT: endpoint});
		if (!gcloud) box.env.PATH = await pathHiding(box.env.PATH ?? '', ['gcloud']);
		return box;
	};
	/** A fake of the test's own, for the scenario switches (the cases run side by side). */
	const ownFake = async (context: TestContext) => {
		const own = await startFakeArtifactRegistry();
		context.onTestFinished(async () => own.stop());
		own.addRepository('acme-ml', 'us-east1', 'union-images');
		return own;
	};
	const run = async (box: Sandbox, options: Partial<CheckOptions> = {}) =>
		byId((await runChecks(box.context(), {needDocker: true, needAdc: false, python: false, repository, ...options})).checks);

	it('docker auth: not registered fails with configure-docker for the host; the wizard only warns (it registers it)', async context => {
		const box = await repositoryBox(context);
		const [doctor, wizard] = await Promise.all([run(box), run(box, {mode: 'wizard'})]);
		expect(doctor['docker-auth']).toMatchObject({status: 'fail', required: true, fix: `gcloud auth configure-docker ${host}`});
		expect(doctor['docker-auth'].detail).toContain(`docker has no credentials for ${host}`);
		expect(wizard['docker-auth']).toMatchObject({status: 'warn', required: false});
		expect(wizard['docker-auth'].detail).toContain('the wizard registers it');
	});

	it("docker auth: registered is ok; Docker Desktop's credsStore alone is not gcloud; a corrupt config.json is named", async context => {
		const box = await repositoryBox(context);
		await writeDockerConfig(box, {credsStore: 'desktop', credHelpers: {[host]: 'gcloud'}});
		expect((await run(box))['docker-auth']).toMatchObject({status: 'ok', detail: `${host} → gcloud credential helper`});
		await writeDockerConfig(box, {credsStore: 'desktop', credHelpers: {'europe-docker.pkg.dev': 'gcloud'}});
		const desktop = (await run(box))['docker-auth'];
		expect(desktop).toMatchObject({status: 'fail', fix: `gcloud auth configure-docker ${host}`});
		expect(desktop.detail).toContain('docker-credential-desktop');
		expect(desktop.detail).not.toContain('gone');
		// Registered on an earlier run (saved answers) and gone now: Docker Desktop rewrote config.json.
		await writeDockerConfig(box, {credsStore: 'desktop'});
		const dropped = (await run(box, {dockerAuthSaved: host}))['docker-auth'];
		expect(dropped).toMatchObject({status: 'fail', fix: `gcloud auth configure-docker ${host}`});
		expect(dropped.detail).toContain(`gcloud's entry for ${host} is gone since an earlier run registered it (Docker Desktop rewrote the file)`);
		await writeDockerConfig(box, '{"credHelpers": ');
		const corrupt = (await run(box))['docker-auth'];
		expect(corrupt).toMatchObject({status: 'fail', detail: expect.stringContaining('not valid JSON')});
		expect(corrupt.fix).toContain(path.join(box.dockerConfig, 'config.json'));
	});

	it('a private registry host (IMAGESPEC_GAR_REGISTRY_HOST) is the host checked', async context => {
		const box = await repositoryBox(context);
		box.env.IMAGESPEC_GAR_REGISTRY_HOST = '127.0.0.1:5999';
		await writeDockerConfig(box, {credHelpers: {'127.0.0.1:5999': 'gcloud'}});
		expect((await run(box))['docker-auth']).toMatchObject({status: 'ok', detail: '127.0.0.1:5999 → gcloud credential helper'});
	});

	it('the repository exists and you may push: ok, asked with testIamPermissions', async context => {
		const box = await repositoryBox(context);
		const before = fake.calls.length;
		expect((await run(box)).repository).toMatchObject({status: 'ok', required: true, detail: 'union-images in acme-ml · us-east1 exists; you may push to it'});
		const asked = fake.calls
			.slice(before)
			.filter(call => call.method === 'TestIamPermissions' && call.request.resource === 'projects/acme-ml/locations/us-east1/repositories/union-images');
		expect(asked.map(call => call.request.permissions)).toContainEqual([PUSH_PERMISSION]);
	});

	it('the saved repository is gone: required in doctor, a warning in the wizard (its repository step offers to create it)', async context => {
		const box = await repositoryBox(context);
		const gone = {...repository, repository: 'deleted-images'};
		const [doctor, wizard] = await Promise.all([run(box, {repository: gone}), run(box, {repository: gone, mode: 'wizard'})]);
		expect(doctor.repository).toMatchObject({status: 'fail', required: true, detail: 'deleted-images in acme-ml · us-east1 does not exist (any more).'});
		expect(doctor.repository.fix).toContain('imagespec-gar');
		expect(wizard.repository).toMatchObject({status: 'warn', required: false});
	});

	it('not a Docker repository: fails', async context => {
		const box = await repositoryBox(context);
		expect((await run(box, {repository: {...repository, repository: 'maven-libs'}})).repository).toMatchObject({
			status: 'fail',
			detail: expect.stringContaining('MAVEN repository, not Docker'),
		});
	});

	it('no push permission: fails with the writer grant for the gcloud account; with --builder union it only warns', async context => {
		const own = await ownFake(context);
		const box = await repositoryBox(context, own.endpoint, true);
		await loginOffline(box);
		own.deniedPermissions.add(PUSH_PERMISSION);
		const [local, union] = await Promise.all([run(box), run(box, {needDocker: false})]);
		expect(local.repository).toMatchObject({status: 'fail', required: true});
		expect(local.repository.detail).toContain(`you may not push to it (no ${PUSH_PERMISSION}`);
		expect(local.repository.fix).toBe(
			'Ask an admin of the repository for Artifact Registry Writer (roles/artifactregistry.writer):\n' +
				'gcloud artifacts repositories add-iam-policy-binding union-images --project acme-ml --location us-east1 ' +
				`--member serviceAccount:${DEFAULT_ACCOUNT} --role roles/artifactregistry.writer`,
		);
		expect(union.repository).toMatchObject({status: 'warn', required: false});
	});

	it('push permission that cannot be checked (testIamPermissions fails) is a warning, not a failure', async context => {
		const own = await ownFake(context);
		const box = await repositoryBox(context, own.endpoint);
		own.failNext('TestIamPermissions', {code: 12, message: 'Method not found: TestIamPermissions'}, 10);
		const check = (await run(box)).repository;
		expect(check).toMatchObject({status: 'warn', required: false});
		expect(check.detail).toMatch(/exists; could not check push permission/);
	});

	it('without credentials for the API: could not check, with the ADC login as the fix', async context => {
		const box = await repositoryBox(context);
		delete box.env.IMAGESPEC_GAR_API_ENDPOINT;
		const check = (await run(box, {needAdc: true})).repository;
		expect(check).toMatchObject({status: 'warn', required: false, fix: 'gcloud auth application-default login'});
		expect(check.detail).toMatch(/^Could not check union-images in acme-ml · us-east1: /);
	});
});

requireDocker(describe, engine)('runChecks with the Docker engine', () => {
	it("all green: the account and project from gcloud's files, no gcloud started, everything ok", async context => {
		const box = await sandbox(context, {DOCKER_HOST: engine?.dockerHost, CLOUDSDK_CORE_PROJECT: 'acme-ml', PYTHONPATH: path.join(FIXTURES, 'flytekit-engine')});
		await Promise.all([loginOffline(box), writeAdc(box, {type: 'authorized_user'})]);
		const calls = await recordGcloudCalls(box);
		const {checks, gcloud} = await runChecks(box.context(), {needDocker: true, needAdc: true});

		expect(checks.filter(check => check.status !== 'ok')).toEqual([]);
		expect(gcloud).toMatchObject({account: DEFAULT_ACCOUNT, project: 'acme-ml'});
		const result = byId(checks);
		expect(result.account.detail).toBe(DEFAULT_ACCOUNT);
		expect(result.project.detail).toContain('acme-ml');
		expect(result['docker-engine'].detail).toMatch(/\d+\.\d+/);
		expect(result.adc.detail).toContain('authorized_user');
		// The helper answered docker's question with a token, which is never shown.
		expect(result['credential-helper'].detail).toMatch(/docker-credential-gcloud gives docker a token for us-docker\.pkg\.dev$/);
		expect(JSON.stringify(checks)).not.toContain(FAKE_TOKEN);
		expect(gcloud.accounts).toEqual([DEFAULT_ACCOUNT]);
		expect(await calls()).toEqual([]);
	});
});
