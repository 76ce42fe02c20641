import {execFile} from 'node:child_process';
import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {startBuildWorld, type BuildWorld} from '../support/build-world.js';
import {dockerEngine, requireDocker, startRegistry} from '../support/docker.js';
import {flytekitBaseImage, requirePythonBase} from '../support/python-base.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';
import {schemaErrors} from '../support/schema.js';
import {whereFlags} from '../support/repository-world.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const engine = await dockerEngine();

type Run = {code: number; stdout: string; stderr: string};
const imagespecGar = async (args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> =>
	new Promise(resolve => {
		// A first build installs into and pushes a real Python image (~50 MB): minutes on a busy 2-core machine.
		execFile(process.execPath, [cli, ...args], {cwd, env, timeout: 240_000}, (error, stdout, stderr) => {
			resolve({code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr});
		});
	});

/**
 * `imagespec-gar --json` end to end, as a script runs it: the real engine builds, the real
 * registry (which only takes gcloud's token) receives the push, and the fake Artifact Registry
 * answers "is the tag there" from that registry. Every docker command is recorded.
 */
requirePythonBase(requireDocker(describe, engine))('build and push a user can trust (CLI, real engine and registry)', {timeout: 300_000}, () => {
	let world: BuildWorld;
	let fake: FakeArtifactRegistry;
	let sandbox: Sandbox;
	let env: NodeJS.ProcessEnv;
	let baseImage: string;
	const args = (image = 'scorer') => [
		...whereFlags(),
		'--image',
		image,
		'--base-image',
		baseImage,
		'--python-version',
		'3.11',
		'--commands',
		'echo scored > /scored',
		'--json',
	];
	const dockerCommands = async () => world.dockerCommands();

	beforeAll(async () => {
		world = await startBuildWorld(engine!, flytekitBaseImage);
		({fake, sandbox, env, baseImage} = world);
	});

	afterAll(async () => {
		await world?.stop();
	});

	it('builds, pushes, prints the digest and that Artifact Registry lists the tag', async () => {
		const run = await imagespecGar(args(), sandbox.project, env);
		expect(run.code, run.stderr).toBe(0);
		const result = JSON.parse(run.stdout);
		expect(schemaErrors('result.schema.json', result)).toEqual([]);
		expect(result).toMatchObject({ok: true, pushed: true});
		expect(result.digest).toMatch(/^sha256:[a-f\d]{64}$/);
		expect(await dockerCommands()).toEqual(['buildx', 'build', 'run', 'push']);
		// Progress on stderr: the steps, the log file, and the proof.
		expect(run.stderr).toMatch(/Step \d+\/\d+ : RUN echo scored > \/scored/);
		// The image ran once before the push, and flytekit imported in it.
		expect(run.stderr).toContain('can run a Flyte task (import flytekit)');
		expect(run.stderr).toContain(`Full build log: ${result.logFile}`);
		expect(run.stderr).toContain(`Artifact Registry lists scorer:${result.tag} → ${result.digest}.`);
		expect(fake.calls.map(call => call.method)).toEqual(expect.arrayContaining(['GetTag', 'GetDockerImage']));
	});

	it('a rerun builds nothing and pushes nothing', async () => {
		const before = (await dockerCommands()).length;
		const run = await imagespecGar(args(), sandbox.project, env);
		expect(run.code, run.stderr).toBe(0);
		expect(JSON.parse(run.stdout)).toMatchObject({ok: true, pushed: false, buildSkipped: 'already in the repository'});
		expect((await dockerCommands()).slice(before).filter(command => command === 'build' || command === 'push')).toEqual([]);
		expect(run.stderr).not.toMatch(/Step \d+\/\d+/);
	});

	it('--force builds and pushes again', async () => {
		const before = (await dockerCommands()).length;
		const run = await imagespecGar([...args(), '--force'], sandbox.project, env);
		expect(run.code, run.stderr).toBe(0);
		expect(JSON.parse(run.stdout)).toMatchObject({ok: true, pushed: true});
		expect((await dockerCommands()).slice(before)).toEqual(['buildx', 'build', 'run', 'push']);
	});

	it('a push without credentials fails with the mapped message and fix, exit 1', async () => {
		const loggedOut = await makeSandbox({ci: 'true'});
		try {
			const run = await imagespecGar(args('refused'), loggedOut.project, {
				...loggedOut.env,
				DOCKER_HOST: engine!.dockerHost,
				IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint,
				IMAGESPEC_GAR_REGISTRY_HOST: world.registry.host,
			});
			// Not logged in: stopped at the prerequisites, nothing built.
			expect(run.code, run.stderr).toBe(1);
			const result = JSON.parse(run.stdout);
			expect(schemaErrors('result.schema.json', result)).toEqual([]);
			expect(result.error).toMatchObject({reason: 'PREREQUISITES', fix: expect.stringContaining('gcloud auth login')});
		} finally {
			await loggedOut.cleanup();
		}

		// Logged in, but the registry takes another token than the one gcloud hands docker.
		const strict = await startRegistry({auth: {user: '_dcgcloud_token', password: 'not-your-token'}});
		const strictFake = await startFakeArtifactRegistry({dockerImages: {host: strict.host, auth: {user: '_dcgcloud_token', password: 'not-your-token'}}});
		try {
			const before = (await dockerCommands()).length;
			const run = await imagespecGar(args('refused'), sandbox.project, {
				...env,
				IMAGESPEC_GAR_API_ENDPOINT: strictFake.endpoint,
				IMAGESPEC_GAR_REGISTRY_HOST: strict.host,
			});
			expect(run.code, run.stderr).toBe(1);
			const result = JSON.parse(run.stdout);
			expect(schemaErrors('result.schema.json', result)).toEqual([]);
			expect(result).toMatchObject({
				ok: false,
				pushed: false,
				error: {reason: 'PUSH_UNAUTHENTICATED', fix: `Run \`gcloud auth configure-docker ${strict.host}\` and \`gcloud auth login\`, then retry.`},
			});
			expect(result.error.message).toContain(`${strict.host} did not accept your credentials`);
			expect((await dockerCommands()).slice(before)).toEqual(['buildx', 'build', 'run', 'push']);
		} finally {
			await strictFake.stop();
			await strict.stop();
		}
	});

	it("a team's declaration with conda_packages: refused before any build, the field and the fix named, exit 1", async () => {
		const team = await makeSandbox({ci: 'true'});
		try {
			await loginOffline(team);
			const registryString = `${world.registry.host}/acme-ml/union-images`;
			await writeFile(
				path.join(team.project, 'image_specs.py'),
				[
					'from union import ImageSpec',
					'',
					'conda = ImageSpec(',
					'    name="conda-image",',
					`    registry="${registryString}",`,
					'    python_version="3.11",',
					`    base_image="${baseImage}",`,
					'    conda_packages=["numpy"],',
					')',
					'',
				].join('\n'),
			);
			const before = (await dockerCommands()).length;
			const run = await imagespecGar(
				['--project', 'acme-ml', '--location', 'us-east1', '--repository', 'union-images', '--image', 'conda-image', '--yes', '--json'],
				team.project,
				{
					...team.env,
					PATH: env.PATH,
					DOCKER_HOST: engine!.dockerHost,
					IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint,
					IMAGESPEC_GAR_REGISTRY_HOST: world.registry.host,
				},
			);
			expect(run.code, run.stderr).toBe(1);
			const result = JSON.parse(run.stdout);
			expect(schemaErrors('result.schema.json', result)).toEqual([]);
			expect(result).toMatchObject({ok: false, pushed: false, error: {reason: 'FIELD_NOT_BUILT_LOCALLY', fix: expect.stringContaining('builder="union"')}});
			expect(result.error.message).toContain('cannot honour conda_packages');
			expect((await dockerCommands()).slice(before)).not.toContain('build');
		} finally {
			await team.cleanup();
		}
	});
});
