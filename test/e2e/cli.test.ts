import {execFile} from 'node:child_process';
import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {computeTag, type ImageSpec} from '../../source/services/imagespec.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {FAKE_TOKEN, loginOffline} from '../support/gcloud.js';
import {schemaErrors} from '../support/schema.js';
import {imagespecGar} from '../support/cli.js';
import {dockerEngine, requireDocker, startRegistry} from '../support/docker.js';
import {flytekitBaseImage, requirePythonBase} from '../support/python-base.js';
import {whereFlags} from '../support/repository-world.js';

const run = promisify(execFile);
const UNION_STUB = fileURLToPath(new URL('../fixtures/union-stub', import.meta.url));

describe('imagespec-gar --help', () => {
	it('prints the usage with every flag of the contract and exits 0', async () => {
		const {code, stdout} = await imagespecGar(['--help'], {cwd: process.cwd(), env: process.env});
		expect(code).toBe(0);
		for (const flag of [
			'--project',
			'--location',
			'--repository',
			'--image',
			'--base-image',
			'--python-version',
			'--packages',
			'--requirements',
			'--apt-packages',
			'--env',
			'--commands',
			'--pip-index',
			'--pip-extra-index-url',
			'--platform',
			'--tag-format',
			'--builder',
			'--output',
			'--no-build',
			'--yes',
			'--json',
			'--plain',
			'doctor',
		]) {
			expect(stdout).toContain(flag);
		}
	});
});

const engine = await dockerEngine();

requirePythonBase(requireDocker(describe, engine))('the whole journey, non-interactively, on real parts', () => {
	let sandbox: Sandbox;
	let fake: FakeArtifactRegistry;
	let registry: {host: string; stop: () => Promise<void>};
	let baseRegistry: {host: string; stop: () => Promise<void>};
	// What docker-credential-gcloud answers for a logged-in gcloud: the registry accepts nothing else.
	const basicAuth = `Basic ${Buffer.from(`_dcgcloud_token:${FAKE_TOKEN}`).toString('base64')}`;
	let baseImage: string;
	let env: NodeJS.ProcessEnv;
	const args = () => [...whereFlags(), '--image', 'trainer', '--base-image', baseImage, '--python-version', '3.11', '--env', 'MODE=train', '--json'];

	beforeAll(async () => {
		sandbox = await makeSandbox({ci: 'true'});
		registry = await startRegistry({auth: {user: '_dcgcloud_token', password: FAKE_TOKEN}});
		// Like the real service, the fake knows the images pushed to its repositories.
		fake = await startFakeArtifactRegistry({dockerImages: {host: registry.host, auth: {user: '_dcgcloud_token', password: FAKE_TOKEN}}});
		baseRegistry = await startRegistry();
		baseImage = await flytekitBaseImage(engine!.dockerHost, baseRegistry.host);
		await loginOffline(sandbox);
		env = {...sandbox.env, DOCKER_HOST: engine!.dockerHost, IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: registry.host};
		// The user's own docker config: none of it may be lost.
		await writeFile(
			path.join(sandbox.dockerConfig, 'config.json'),
			JSON.stringify({auths: {'ghcr.io': {auth: 'dXNlcjpwYXNz'}}, credHelpers: {'europe-docker.pkg.dev': 'gcloud'}, detachKeys: 'ctrl-q'}, null, '\t'),
		);
	});

	afterAll(async () => {
		await fake?.stop();
		await registry?.stop();
		await baseRegistry?.stop();
		await sandbox?.cleanup();
	});

	it('creates the repository, configures docker, writes the module, builds and pushes the tagged image', async () => {
		const anonymous = await fetch(`http://${registry.host}/v2/`);
		expect(anonymous.status).toBe(401);

		const first = await imagespecGar(args(), {cwd: sandbox.project, env});
		expect(first.stderr).not.toMatch(/Unexpected error/);
		expect(first.code, first.stderr).toBe(0);
		const result = JSON.parse(first.stdout);

		// The repository exists in the fake, as Docker.
		const repository = fake.repositories.get('projects/acme-ml/locations/us-east1/repositories/union-images') as {format: unknown} | undefined;
		expect(repository).toBeDefined();
		expect(String(repository?.format)).toMatch(/DOCKER|^1$/);
		expect(fake.calls.filter(call => call.method === 'CreateRepository')).toHaveLength(1);

		// docker's config has the helper for the host and kept everything that was there.
		const config = JSON.parse(await readFile(path.join(sandbox.dockerConfig, 'config.json'), 'utf8'));
		expect(config.credHelpers).toEqual({'europe-docker.pkg.dev': 'gcloud', [registry.host]: 'gcloud'});
		expect(config.auths).toEqual({'ghcr.io': {auth: 'dXNlcjpwYXNz'}});
		expect(config.detachKeys).toBe('ctrl-q');

		// The module parses as Python and declares the registry and the name.
		const registryString = `${registry.host}/acme-ml/union-images`;
		const moduleFile = path.join(sandbox.project, 'image_specs.py');
		const parsed = await run('python3', [
			'-c',
			'import ast, json, sys; tree = ast.parse(open(sys.argv[1]).read()); print(json.dumps([{k.arg: ast.literal_eval(k.value) ' +
				'for k in n.value.keywords} for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)]))',
			moduleFile,
		]);
		const [declared] = JSON.parse(parsed.stdout) as Array<Record<string, unknown>>;
		expect(declared).toMatchObject({name: 'trainer', registry: registryString, python_version: '3.11', base_image: baseImage, env: {MODE: 'train'}});

		// The tag is flytekit's for exactly that declaration.
		const tag = await computeTag(declared as ImageSpec, {baseDir: sandbox.project});
		expect(result).toMatchObject({
			ok: true,
			project: 'acme-ml',
			location: 'us-east1',
			repository: 'union-images',
			registry: registryString,
			image: 'trainer',
			tag,
			imageUri: `${registryString}/trainer:${tag}`,
			specFile: moduleFile,
			pushed: true,
		});
		expect(result.digest).toMatch(/^sha256:[a-f\d]{64}$/);
		expect(schemaErrors('result.schema.json', result)).toEqual([]);
		// The exact lines that use this image in a task, for this module and SDK.
		expect(result.usage).toEqual(['import union', 'from image_specs import trainer_image', '', '@union.task(container_image=trainer_image)']);
		// They run as written (with a stand-in union that has union.ImageSpec and union.task).
		const task = `${result.usage.join('\n')}\ndef train():\n    pass\nprint(trainer_image.registry)`;
		const imported = await run('python3', ['-c', task], {cwd: sandbox.project, env: {...process.env, PYTHONPATH: UNION_STUB}});
		expect(imported.stdout.trim()).toBe(registryString);

		// The registry (which only accepts gcloud's token, through docker-credential-gcloud) has that tag, with that digest.
		const manifest = await fetch(`http://${registry.host}/v2/acme-ml/union-images/trainer/manifests/${tag}`, {
			method: 'HEAD',
			headers: {authorization: basicAuth, accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json'},
		});
		expect(manifest.status).toBe(200);
		expect(manifest.headers.get('docker-content-digest')).toBe(result.digest);
	});

	it('run again, creates no second repository and rebuilds nothing', async () => {
		const moduleBefore = await readFile(path.join(sandbox.project, 'image_specs.py'), 'utf8');
		const second = await imagespecGar(args(), {cwd: sandbox.project, env});
		expect(second.code, second.stderr).toBe(0);
		const result = JSON.parse(second.stdout);
		expect(result).toMatchObject({ok: true, pushed: false, buildSkipped: 'already in the repository'});
		expect(schemaErrors('result.schema.json', result)).toEqual([]);
		expect(fake.calls.filter(call => call.method === 'CreateRepository')).toHaveLength(1);
		expect(second.stderr).not.toMatch(/Step \d+\/\d+/);
		expect(second.stderr).toMatch(/already uses the gcloud credential helper/);
		expect(await readFile(path.join(sandbox.project, 'image_specs.py'), 'utf8')).toBe(moduleBefore);
	});

	it('a new team member with only the module answers no setup question and pushes nothing twice', async () => {
		const member = await makeSandbox({ci: 'true'});
		try {
			await loginOffline(member);
			const moduleText = await readFile(path.join(sandbox.project, 'image_specs.py'), 'utf8');
			await writeFile(path.join(member.project, 'image_specs.py'), moduleText);
			const memberEnv = {...member.env, DOCKER_HOST: engine!.dockerHost, IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: registry.host};
			// The loopback host carries no location: that one flag stands in for `<location>-docker.pkg.dev`.
			const run = await imagespecGar(['--yes', '--json', '--location', 'us-east1'], {cwd: member.project, env: memberEnv});
			expect(run.code, run.stderr).toBe(0);
			expect(run.stderr).toContain("Found your team's setup in image_specs.py: acme-ml · us-east1 · union-images");
			expect(JSON.parse(run.stdout)).toMatchObject({
				ok: true,
				project: 'acme-ml',
				repository: 'union-images',
				image: 'trainer',
				pushed: false,
				buildSkipped: 'already in the repository',
			});
			const config = JSON.parse(await readFile(path.join(member.dockerConfig, 'config.json'), 'utf8'));
			expect(config.credHelpers).toEqual({[registry.host]: 'gcloud'});
			expect(fake.calls.filter(call => call.method === 'CreateRepository')).toHaveLength(1);
			expect(await readFile(path.join(member.project, 'image_specs.py'), 'utf8')).toBe(moduleText);
		} finally {
			await member.cleanup();
		}
	});

	it('a rerun from saved answers needs no flags for the setup', async () => {
		const rerun = await imagespecGar(['--yes', '--json', '--no-build'], {cwd: sandbox.project, env});
		expect(rerun.code, rerun.stderr).toBe(0);
		expect(JSON.parse(rerun.stdout)).toMatchObject({
			ok: true,
			project: 'acme-ml',
			location: 'us-east1',
			repository: 'union-images',
			image: 'trainer',
			pushed: false,
			inRepository: true,
		});
		expect(rerun.stderr).toContain('--no-build: not built (already in the repository)');
		const other = await imagespecGar(['--yes', '--json', '--no-build', '--image', 'not-pushed', '--base-image', baseImage], {cwd: sandbox.project, env});
		expect(other.code, other.stderr).toBe(0);
		expect(JSON.parse(other.stdout)).toMatchObject({ok: true, image: 'not-pushed', pushed: false, inRepository: false});
	});

	it("Docker Desktop rewrote config.json and dropped gcloud's entry: doctor says so, the next run adds it back beside credsStore", async () => {
		const file = path.join(sandbox.dockerConfig, 'config.json');
		await writeFile(file, JSON.stringify({auths: {}, credsStore: 'desktop', currentContext: 'desktop-linux'}));
		const doctor = await imagespecGar(['doctor', '--json'], {cwd: sandbox.project, env});
		const auth = (JSON.parse(doctor.stdout) as {checks: Array<{id: string; status: string; detail: string}>}).checks.find(check => check.id === 'docker-auth');
		expect(auth).toMatchObject({status: 'fail'});
		expect(auth?.detail).toContain(`gcloud's entry for ${registry.host} is gone since an earlier run registered it (Docker Desktop rewrote the file)`);
		const rerun = await imagespecGar(['--yes', '--json', '--no-build'], {cwd: sandbox.project, env});
		expect(rerun.code, rerun.stderr).toBe(0);
		expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
			auths: {},
			credsStore: 'desktop',
			currentContext: 'desktop-linux',
			credHelpers: {[registry.host]: 'gcloud'},
		});
	});
});

describe('usage errors', () => {
	it('names the missing flag, exits 2 and writes nothing', async () => {
		const sandbox = await makeSandbox({ci: 'true'});
		try {
			const missing = await imagespecGar(['--project', 'acme-ml', '--repository', 'r1', '--image', 'x'], {cwd: sandbox.project, env: sandbox.env});
			expect(missing.code).toBe(2);
			expect(missing.stderr).toContain('Missing --location');
			const invalid = await imagespecGar(['--project', 'acme-ml', '--location', 'us-east1', '--repository', 'Bad_Repo', '--image', 'x'], {
				cwd: sandbox.project,
				env: sandbox.env,
			});
			expect(invalid.code).toBe(2);
			expect(invalid.stderr).toContain('--repository "Bad_Repo" is invalid');
			const unknown = await imagespecGar(['--projekt', 'acme-ml'], {cwd: sandbox.project, env: sandbox.env});
			expect(unknown.code).toBe(2);
			expect(await readFile(path.join(sandbox.project, 'image_specs.py'), 'utf8').catch(() => 'absent')).toBe('absent');
		} finally {
			await sandbox.cleanup();
		}
	});
});

describe('the published JSON Schemas', () => {
	it('describe failures too, and reject what they do not document', async () => {
		const sandbox = await makeSandbox({ci: 'true'});
		try {
			const usage = await imagespecGar(['--project', 'acme-ml', '--repository', 'r1', '--image', 'x', '--json'], {cwd: sandbox.project, env: sandbox.env});
			expect(usage.code).toBe(2);
			const failure = JSON.parse(usage.stdout);
			expect(failure).toMatchObject({ok: false, error: {reason: 'USAGE'}});
			expect(schemaErrors('result.schema.json', failure)).toEqual([]);
			expect(schemaErrors('result.schema.json', {...failure, surprise: 1})).not.toEqual([]);

			const doctor = await imagespecGar(['doctor', '--json'], {cwd: sandbox.project, env: {...sandbox.env, DOCKER_HOST: 'unix:///nonexistent.sock'}});
			expect(doctor.code).toBe(1);
			const report = JSON.parse(doctor.stdout);
			expect(report.ok).toBe(false);
			expect(schemaErrors('doctor.schema.json', report)).toEqual([]);
			expect(schemaErrors('doctor.schema.json', {ok: true, checks: [{id: 'x', status: 'fine'}]})).not.toEqual([]);
		} finally {
			await sandbox.cleanup();
		}
	});
});
