import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {interruptCli, startBuildWorld, type BuildWorld} from '../support/build-world.js';
import {imagespecGar} from '../support/cli.js';
import {dockerEngine, requireDocker} from '../support/docker.js';
import type {Sandbox} from '../support/environment.js';
import type {FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {flytekitBaseImage, requirePythonBase} from '../support/python-base.js';
import {schemaErrors} from '../support/schema.js';

const engine = await dockerEngine();

type Image = {variable: string; name: string; commands: string[]; registry?: string};

/**
 * `imagespec-gar status` and `build` end to end, as CI runs them: a module the team wrote, the
 * real engine builds, the real registry (gcloud's token only) takes the pushes, and the fake
 * Artifact Registry lists what that registry holds. Every docker command is recorded.
 */
requirePythonBase(requireDocker(describe, engine))('status and build: every image of the module (CLI, real engine and registry)', () => {
	let world: BuildWorld;
	let sandbox: Sandbox;
	let fake: FakeArtifactRegistry;
	let env: NodeJS.ProcessEnv;
	const where = ['--location', 'us-east1'];
	const dockerCommands = async () => (await world.dockerCommands()).filter(command => ['build', 'push'].includes(command));

	const writeModule = async (images: Image[], file = 'image_specs.py') => {
		const declarations = images.map(image =>
			[
				`${image.variable} = union.ImageSpec(`,
				`    name="${image.name}",`,
				`    python_version="3.11",`,
				`    registry="${image.registry ?? `${world.registry.host}/acme-ml/union-images`}",`,
				`    base_image="${world.baseImage}",`,
				`    commands=[${image.commands.map(command => JSON.stringify(command)).join(', ')}],`,
				')',
			].join('\n'),
		);
		await writeFile(path.join(sandbox.project, file), `# Managed by imagespec-gar\nimport union\n\n${declarations.join('\n\n')}\n`);
	};

	const run = async (args: string[]) => imagespecGar(args, {cwd: sandbox.project, env});

	beforeAll(async () => {
		world = await startBuildWorld(engine!, flytekitBaseImage);
		({sandbox, fake, env} = world);
		fake.addRepository('acme-ml', 'us-east1', 'union-images');
	});

	afterAll(async () => {
		await world?.stop();
	});

	const team: Image[] = [
		{variable: 'alpha_image', name: 'alpha', commands: ['echo alpha > /alpha']},
		{variable: 'beta_image', name: 'beta', commands: ['echo beta > /beta']},
	];

	it('status: missing images exit 1, other registries are listed and not checked; one listing call', async () => {
		await writeModule([...team, {variable: 'hub_image', name: 'hub', registry: 'ghcr.io/acme', commands: ['true']}]);
		fake.calls.length = 0;
		const status = await run(['status', ...where, '--json']);
		expect(status.code, status.stderr).toBe(1);
		const report = JSON.parse(status.stdout);
		expect(schemaErrors('status.schema.json', report)).toEqual([]);
		expect(report.images.map((row: {name: string; state: string}) => `${row.name} ${row.state}`)).toEqual(['alpha missing', 'beta missing', 'hub not-checked']);
		expect(fake.calls.filter(call => call.method === 'ListDockerImages')).toHaveLength(1);

		// Plain: one line per image, then the verdict.
		const plain = await run(['status', ...where]);
		expect(plain.code).toBe(1);
		expect(plain.stdout).toMatch(/^MISSING {6}alpha:\S+ {2}no tag of this image in the repository$/m);
		expect(plain.stdout).toMatch(/^not checked {2}hub:\S+ {2}ghcr\.io\/acme is not an Artifact Registry repository: not checked$/m);
		expect(plain.stdout).toContain('Run imagespec-gar build --all');
	});

	it('build --all builds and pushes only what is missing, --jobs 2, and proves each in Artifact Registry', async () => {
		await writeModule(team);
		const before = (await dockerCommands()).length;
		const build = await run(['build', '--all', '--jobs', '2', ...where, '--json']);
		expect(build.code, build.stderr).toBe(0);
		const report = JSON.parse(build.stdout);
		expect(schemaErrors('build.schema.json', report)).toEqual([]);
		expect(report.images).toHaveLength(2);
		for (const row of report.images) expect(row).toMatchObject({outcome: 'pushed', digest: expect.stringMatching(/^sha256:[a-f\d]{64}$/)});
		expect((await dockerCommands()).slice(before).sort()).toEqual(['build', 'build', 'push', 'push']);
		// The proof came from Artifact Registry, per image.
		const asked = fake.calls.filter(call => call.method === 'GetTag').map(call => call.request.name as string);
		expect(asked.some(name => name.includes('/packages/alpha/'))).toBe(true);

		const status = await run(['status', ...where, '--json']);
		expect(status.code, status.stderr).toBe(0);
		const rows = JSON.parse(status.stdout).images;
		expect(rows.map((row: {state: string}) => row.state)).toEqual(['pushed', 'pushed']);
		expect(rows.map((row: {digest: string}) => row.digest).sort()).toEqual(report.images.map((row: {digest: string}) => row.digest).sort());

		// Nothing missing: nothing built.
		const again = await run(['build', '--all', ...where, '--json']);
		expect(again.code, again.stderr).toBe(0);
		expect(JSON.parse(again.stdout).images).toEqual([]);
		expect((await dockerCommands()).slice(before)).toHaveLength(4);
	});

	it('a changed declaration is stale (naming what changed), and build --all rebuilds only it', async () => {
		await writeModule([{...team[0]!, commands: ['echo alpha, again > /alpha']}, team[1]!]);
		const status = await run(['status', ...where, '--json']);
		expect(status.code, status.stderr).toBe(1);
		const [alpha, beta] = JSON.parse(status.stdout).images;
		// No field the saved answers keep changed, and there is no requirements file: the module did.
		expect(alpha).toMatchObject({state: 'stale', changed: 'image_specs.py changed since the last push'});
		expect(beta.state).toBe('pushed');

		const before = (await dockerCommands()).length;
		const build = await run(['build', '--all', ...where, '--json']);
		expect(build.code, build.stderr).toBe(0);
		expect(JSON.parse(build.stdout).images.map((row: {name: string; outcome: string}) => `${row.name} ${row.outcome}`)).toEqual(['alpha pushed']);
		expect((await dockerCommands()).slice(before)).toEqual(['build', 'push']);
	});

	it('a failing image does not stop the others: exit 1, its fix and log, the rest pushed', async () => {
		await writeModule([
			{variable: 'broken_image', name: 'broken', commands: ['echo no such thing >&2; exit 3']},
			{variable: 'gamma_image', name: 'gamma', commands: ['echo gamma > /gamma']},
		]);
		const build = await run(['build', 'broken', 'gamma', ...where, '--json']);
		expect(build.code, build.stderr).toBe(1);
		const report = JSON.parse(build.stdout);
		expect(schemaErrors('build.schema.json', report)).toEqual([]);
		const [broken, gamma] = report.images;
		expect(gamma).toMatchObject({name: 'gamma', outcome: 'pushed'});
		expect(broken).toMatchObject({name: 'broken', outcome: 'failed', error: {reason: expect.any(String), fix: expect.any(String)}});
		expect(build.stderr).toContain(`broken: ${broken.error.message}`);
		expect(build.stderr).toContain(`  log: ${broken.logFile}`);
	});

	it('bad usage exits 2 with one line', async () => {
		for (const args of [['build'], ['build', 'nope', ...where], ['build', '--all', '--jobs', '0'], ['status', '--jobs', '2']]) {
			const result = await run(args);
			expect(result.code, args.join(' ')).toBe(2);
			expect(result.stderr).toMatch(/^Error: .+\nRun imagespec-gar --help for usage\.\n$/);
		}
	});

	it('no permission to list the repository: its images cannot be told, exit 1 with the fix', async () => {
		await writeModule(team);
		fake.deniedPermissions.add('artifactregistry.dockerimages.list');
		try {
			const status = await run(['status', ...where, '--json']);
			expect(status.code).toBe(1);
			const report = JSON.parse(status.stdout);
			expect(schemaErrors('status.schema.json', report)).toEqual([]);
			expect(report.images[0]).toMatchObject({state: 'cannot-tell', reason: 'IAM_PERMISSION_DENIED', fix: expect.stringContaining('Reader')});
		} finally {
			fake.deniedPermissions.clear();
		}
	});

	it('Ctrl-C during a parallel build: exit 130, no docker child left, no build container running', async () => {
		await writeModule([
			{variable: 'slow_one_image', name: 'slow-one', commands: ['sleep 60']},
			{variable: 'slow_two_image', name: 'slow-two', commands: ['sleep 61']},
		]);
		const {code, stdout, stderr, left} = await interruptCli(
			['build', '--all', '--jobs', '2', ...where, '--json'],
			{cwd: sandbox.project, env, sandbox},
			text => /RUN sleep 60/.test(text) && /RUN sleep 61/.test(text),
			'SIGINT',
		);
		expect(code, stderr).toBe(130);
		expect(stderr).toContain('Cancelled:');
		expect(JSON.parse(stdout)).toMatchObject({ok: false, error: {reason: 'CANCELLED'}});
		// No process of this sandbox is left (docker children inherit its CLOUDSDK_CONFIG).
		expect(left).toEqual([]);
		const running = await execa('docker', ['ps', '--format', '{{.Command}}'], {env: {...process.env, DOCKER_HOST: engine!.dockerHost}});
		expect(running.stdout).not.toMatch(/sleep 6[01]/);
	});
});
