import {mkdir, readFile, rename, writeFile} from 'node:fs/promises';
import {createServer} from 'node:net';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {computeFlyteUri, type FlyteImage} from '../../source/services/flyte-image.js';
import {renderFlyteModule} from '../../source/services/flyte-module.js';
import {interruptCli, startBuildWorld, type BuildWorld} from '../support/build-world.js';
import {imagespecGar} from '../support/cli.js';
import {dockerEngine, requireDocker} from '../support/docker.js';
import {shimTool} from '../support/gcloud.js';
import {schemaErrors} from '../support/schema.js';

const engine = await dockerEngine();

/**
 * `--sdk flyte` end to end. The real flyte SDK cannot be installed on these machines: a recording
 * stand-in `flyte` executable takes its place (it records its arguments and folder, then builds
 * and pushes with the real docker engine); the registry, docker's gcloud credentials and the proof
 * through the fake Artifact Registry are the real ones. The URI is the tool's computation for the
 * flyte the project pins (flyte==2.6.5), whose vectors come from flyte-sdk's own _image.py.
 */
requireDocker(describe, engine)('Flyte 2: flyte.Image module, flyte build, proof (CLI, real engine and registry)', {timeout: 300_000}, () => {
	let world: BuildWorld;
	let flyteLog: string;
	const setup = ['--project', 'acme-ml', '--location', 'us-east1', '--repository', 'union-images'];

	beforeAll(async () => {
		world = await startBuildWorld(engine!);
		flyteLog = path.join(world.sandbox.root, 'flyte-calls.log');
		await shimTool(
			world.sandbox,
			'flyte',
			[
				// One write per call: builds run side by side (build --jobs 2).
				`printf '%s\\n%s\\n' "$*" "$(pwd)" >> '${flyteLog}'`,
				// --image-builder B build FILE ENV: the URI of ENV's image (build NAME...), else the one URI.
				'environment="$5"',
				'eval "uri=\\${IMAGESPEC_STUB_FLYTE_URI_$environment:-\\$IMAGESPEC_STUB_FLYTE_URI}"',
				'if [ "$IMAGESPEC_STUB_FLYTE_FAIL" = "$environment" ]; then echo "error: could not build $environment" >&2; exit 1; fi',
				'if [ "$IMAGESPEC_STUB_FLYTE_SLEEP" = "$environment" ]; then echo "flyte: waiting for $environment"; sleep 60; fi',
				`printf 'FROM %s\\nRUN echo built-by-flyte > /built\\n' "$IMAGESPEC_STUB_FLYTE_BASE" | ` + 'docker build -t "$uri" - && docker push "$uri"',
			].join('\n'),
		);
		await writeFile(path.join(world.sandbox.project, 'requirements.txt'), 'flyte==2.6.5\n');
	});

	afterAll(async () => {
		await world?.stop();
	});

	const image = (name: string): FlyteImage => ({
		name,
		registry: `${world.registry.host}/acme-ml/union-images`,
		platform: ['linux/amd64'],
		base: {kind: 'debian', pythonVersion: [3, 12]},
		layers: [{kind: 'pip_packages', packages: ['pandas']}],
	});

	/** The stand-in's URI for each environment of the module, as the tool computes them. */
	const buildEnv = async (): Promise<NodeJS.ProcessEnv> => {
		const env: NodeJS.ProcessEnv = {...world.env, IMAGESPEC_STUB_FLYTE_BASE: world.baseImage};
		for (const name of ['trainer', 'scorer', 'broken', 'gamma']) {
			const computed = await computeFlyteUri(image(name), {folder: world.sandbox.project, installedFlyte: '2.6.5'});
			if (computed.known) env[`IMAGESPEC_STUB_FLYTE_URI_${name}_env`] = computed.uri;
		}
		return env;
	};

	it("--no-build: flyte==2.6.5 detected, the module written (and, asked, image.registry in flyte's config), the URI flyte computes named", async () => {
		const run = await imagespecGar(
			[...setup, '--image', 'trainer', '--python-version', '3.12', '--packages', 'pandas', '--no-build', '--flyte-config', '--json'],
			{
				cwd: world.sandbox.project,
				env: world.env,
			},
		);
		expect(run.code, run.stderr).toBe(0);
		const result = JSON.parse(run.stdout);
		expect(schemaErrors('result.schema.json', result)).toEqual([]);
		const expected = await computeFlyteUri(image('trainer'), {folder: world.sandbox.project, installedFlyte: '2.6.5'});
		expect(result).toMatchObject({ok: true, sdk: 'flyte', image: 'trainer', imageUri: expected.known && expected.uri, pushed: false});
		expect(result).not.toHaveProperty('buildSkipped');
		expect(result.usage).toEqual(['from flyte_images import trainer_env', '', '@trainer_env.task']);
		expect(await readFile(path.join(world.sandbox.project, 'flyte_images.py'), 'utf8')).toBe(renderFlyteModule([image('trainer')]));
		expect(run.stderr).toContain('amd64 only');
		// The run speaks Flyte 2: the image step is named after what the module declares.
		expect(run.stderr).toMatch(/^flyte\.Image: done — /m);
		expect(run.stderr).not.toContain('ImageSpec');
		// --flyte-config: image.registry in the project's flyte config (none yet: .flyte/config.yaml).
		const config = path.join(world.sandbox.project, '.flyte', 'config.yaml');
		expect(result.flyteConfig).toBe(config);
		expect(await readFile(config, 'utf8')).toBe(`image:\n  registry: ${world.registry.host}/acme-ml/union-images\n`);
	});

	it('builds with flyte build (the stand-in), streams its output, and proves the push with Artifact Registry', async () => {
		const expected = await computeFlyteUri(image('scorer'), {folder: world.sandbox.project, installedFlyte: '2.6.5'});
		if (!expected.known) throw new Error(expected.reason);
		const env = {...world.env, IMAGESPEC_STUB_FLYTE_URI: expected.uri, IMAGESPEC_STUB_FLYTE_BASE: world.baseImage};
		const run = await imagespecGar([...setup, '--sdk', 'flyte', '--image', 'scorer', '--python-version', '3.12', '--packages', 'pandas', '--json'], {
			cwd: world.sandbox.project,
			env,
			timeout: 240_000,
		});
		expect(run.code, run.stderr).toBe(0);
		const result = JSON.parse(run.stdout);
		expect(result).toMatchObject({ok: true, sdk: 'flyte', imageUri: expected.uri, pushed: true, inRepository: true});
		expect(result.digest).toMatch(/^sha256:[a-f\d]{64}$/);
		// flyte was asked for the local builder, the module and the environment, in the module's folder.
		const calls = (await readFile(flyteLog, 'utf8')).trim().split('\n');
		expect(calls).toEqual(['--image-builder local build flyte_images.py scorer_env', world.sandbox.project]);
		expect(await world.dockerCommands()).toEqual(expect.arrayContaining(['build', 'push']));
		expect(run.stderr).toContain('built-by-flyte');
		expect(run.stderr).toContain(`Artifact Registry lists scorer:${expected.tag} → ${result.digest}.`);

		// A rerun finds it there: flyte is not run again.
		const again = await imagespecGar([...setup, '--sdk', 'flyte', '--image', 'scorer', '--json'], {cwd: world.sandbox.project, env});
		expect(again.code, again.stderr).toBe(0);
		expect(JSON.parse(again.stdout)).toMatchObject({ok: true, pushed: false, buildSkipped: 'already in the repository', imageUri: expected.uri});
		expect((await readFile(flyteLog, 'utf8')).trim().split('\n')).toHaveLength(2);

		// --builder union: flyte's remote builder (--force: built again although it is there).
		const remote = await imagespecGar([...setup, '--sdk', 'flyte', '--image', 'scorer', '--builder', 'union', '--force', '--json'], {
			cwd: world.sandbox.project,
			env,
		});
		expect(remote.code, remote.stderr).toBe(0);
		expect(JSON.parse(remote.stdout)).toMatchObject({ok: true, pushed: true, imageUri: expected.uri});
		expect((await readFile(flyteLog, 'utf8')).trim().split('\n').slice(2)).toEqual([
			'--image-builder remote build flyte_images.py scorer_env',
			world.sandbox.project,
		]);
	});

	it("doctor: the flyte SDK and CLI, the config's image.registry, whether the repository host answers", async () => {
		await writeFile(path.join(world.sandbox.project, 'config.yaml'), '# team\nimage:\n  registry: ghcr.io/acme\n');
		const run = await imagespecGar(['doctor', ...setup, '--json'], {cwd: world.sandbox.project, env: world.env});
		const report = JSON.parse(run.stdout) as {ok: boolean; checks: Array<{id: string; status: string; detail: string; fix?: string}>};
		expect(schemaErrors('doctor.schema.json', report)).toEqual([]);
		const byId = Object.fromEntries(report.checks.map(check => [check.id, check]));
		expect(byId['flyte-sdk']).toMatchObject({
			status: 'warn',
			detail: expect.stringMatching(/cannot import flyte: .* and builds with flyte build; the flyte CLI at .*shims\/flyte$/),
		});
		expect(byId['flyte-config']).toMatchObject({
			status: 'warn',
			detail:
				`image.registry is ghcr.io/acme (${path.join(world.sandbox.project, 'config.yaml')}), not this ` +
				`repository's ${world.registry.host}/acme-ml/union-images: a declaration without registry= pushes there`,
		});
		expect(byId['flyte-host']).toMatchObject({status: 'ok', detail: `${world.registry.host} answers`});

		// A port nothing listens on.
		const closed = await new Promise<number>(resolve => {
			const server = createServer().listen(0, '127.0.0.1', () => {
				const {port} = server.address() as {port: number};
				server.close(() => resolve(port));
			});
		});
		const away = await imagespecGar(['doctor', ...setup, '--json'], {
			cwd: world.sandbox.project,
			env: {...world.env, IMAGESPEC_GAR_REGISTRY_HOST: `127.0.0.1:${closed}`},
		});
		expect(away.code).toBe(1);
		expect(JSON.parse(away.stdout).checks.find((check: {id: string}) => check.id === 'flyte-host')).toMatchObject({
			status: 'fail',
			detail: expect.stringContaining(`127.0.0.1:${closed} does not answer (ECONNREFUSED)`),
		});
	});

	it("a new team member's clone: the setup comes from the team's flyte_images.py, and the URI is the same", async () => {
		const clone = path.join(world.sandbox.root, 'newcomer');
		await mkdir(clone, {recursive: true});
		await writeFile(path.join(clone, 'requirements.txt'), 'flyte==2.6.5\n');
		await writeFile(path.join(clone, 'flyte_images.py'), await readFile(path.join(world.sandbox.project, 'flyte_images.py'), 'utf8'));
		// The test registry's host names no location (a real *-docker.pkg.dev host does): --location gives it.
		const run = await imagespecGar(['--image', 'trainer', '--location', 'us-east1', '--no-build', '--json'], {cwd: clone, env: world.env});
		expect(run.code, run.stderr).toBe(0);
		expect(run.stderr).toContain("Found your team's setup in flyte_images.py: acme-ml · us-east1 · union-images.");
		const expected = await computeFlyteUri(image('trainer'), {folder: clone, installedFlyte: '2.6.5'});
		expect(JSON.parse(run.stdout)).toMatchObject({
			ok: true,
			sdk: 'flyte',
			project: 'acme-ml',
			location: 'us-east1',
			repository: 'union-images',
			imageUri: expected.known && expected.uri,
		});
		// The module was read, not rewritten.
		expect(await readFile(path.join(clone, 'flyte_images.py'), 'utf8')).toBe(await readFile(path.join(world.sandbox.project, 'flyte_images.py'), 'utf8'));

		// An update changes only what was asked (the pip layer); the person's own lines stay byte for byte.
		const module = path.join(clone, 'flyte_images.py');
		const theirs = `${await readFile(module, 'utf8')}\n\n@trainer_env.task\ndef train(x: int) -> int:\n    return x  # mine\n`;
		await writeFile(module, theirs);
		const update = await imagespecGar(['--image', 'trainer', '--location', 'us-east1', '--packages', 'pandas,numpy', '--no-build', '--json'], {
			cwd: clone,
			env: world.env,
		});
		expect(update.code, update.stderr).toBe(0);
		const updated: FlyteImage = {...image('trainer'), layers: [{kind: 'pip_packages', packages: ['pandas', 'numpy']}]};
		const now = await computeFlyteUri(updated, {folder: clone, installedFlyte: '2.6.5'});
		expect(JSON.parse(update.stdout)).toMatchObject({ok: true, imageUri: now.known && now.uri});
		expect(await readFile(module, 'utf8')).toBe(theirs.replace('.with_pip_packages("pandas")', '.with_pip_packages("pandas", "numpy")'));
	});

	it('status: every image of the Flyte 2 module, pushed or missing, with the URI flyte computes; build --all builds what is missing', async () => {
		const run = await imagespecGar(['status', '--json'], {cwd: world.sandbox.project, env: world.env});
		expect(run.code, run.stderr).toBe(1);
		const report = JSON.parse(run.stdout);
		expect(schemaErrors('status.schema.json', report)).toEqual([]);
		const uri = async (name: string) => {
			const computed = await computeFlyteUri(image(name), {folder: world.sandbox.project, installedFlyte: '2.6.5'});
			return computed.known ? computed.uri : undefined;
		};
		expect(report).toMatchObject({ok: false, module: path.join(world.sandbox.project, 'flyte_images.py'), via: 'stand-in'});
		expect(report.images.map((row: {name: string; state: string; uri: string}) => [row.name, row.state, row.uri])).toEqual([
			['trainer', 'missing', await uri('trainer')],
			['scorer', 'pushed', await uri('scorer')],
		]);

		// build --all: flyte build for the missing one only (trainer, through trainer_env), proven in Artifact Registry.
		const before = (await readFile(flyteLog, 'utf8')).trim().split('\n').length;
		const build = await imagespecGar(['build', '--all', '--json'], {cwd: world.sandbox.project, env: await buildEnv()});
		expect(build.code, build.stderr).toBe(0);
		const built = JSON.parse(build.stdout);
		expect(schemaErrors('build.schema.json', built)).toEqual([]);
		expect(built).toMatchObject({ok: true, module: path.join(world.sandbox.project, 'flyte_images.py'), jobs: 2});
		expect(built.images).toEqual([
			expect.objectContaining({name: 'trainer', outcome: 'pushed', uri: await uri('trainer'), digest: expect.stringMatching(/^sha256:[a-f\d]{64}$/)}),
		]);
		expect((await readFile(flyteLog, 'utf8')).trim().split('\n').slice(before)).toEqual([
			'--image-builder local build flyte_images.py trainer_env',
			world.sandbox.project,
		]);
		// flyte's output streamed into the row, and its log kept.
		expect(build.stderr).toContain('built-by-flyte');
		expect(await readFile(built.images[0].logFile, 'utf8')).toContain('--image-builder local build flyte_images.py trainer_env');
		const asked = world.fake.calls.filter(call => call.method === 'GetTag').map(call => call.request.name as string);
		expect(asked.some(name => name.includes('/packages/trainer/'))).toBe(true);

		const after = await imagespecGar(['status', '--json'], {cwd: world.sandbox.project, env: world.env});
		expect(after.code, after.stderr).toBe(0);
		expect(JSON.parse(after.stdout).images.map((row: {name: string; state: string}) => `${row.name} ${row.state}`)).toEqual([
			'trainer pushed',
			'scorer pushed',
		]);
		// Plain: one line per image, in the same words as for ImageSpec.
		const plain = await imagespecGar(['status'], {cwd: world.sandbox.project, env: world.env});
		expect(plain.code).toBe(0);
		expect(plain.stdout).toMatch(/^pushed {2}trainer:[a-f\d]{32} {2}sha256:/m);
	});

	it("build NAME...: --jobs 2, one failure does not stop the other; the builder flyte's config names", async () => {
		await writeFile(path.join(world.sandbox.project, 'flyte_images.py'), renderFlyteModule(['trainer', 'scorer', 'broken', 'gamma'].map(name => image(name))));
		const before = (await readFile(flyteLog, 'utf8')).trim().split('\n').length;
		const build = await imagespecGar(['build', 'broken', 'gamma_image', '--jobs', '2', '--json'], {
			cwd: world.sandbox.project,
			env: {...(await buildEnv()), IMAGESPEC_STUB_FLYTE_FAIL: 'broken_env'},
		});
		expect(build.code, build.stderr).toBe(1);
		const report = JSON.parse(build.stdout);
		expect(schemaErrors('build.schema.json', report)).toEqual([]);
		const [broken, gamma] = report.images;
		expect(gamma).toMatchObject({name: 'gamma', outcome: 'pushed', digest: expect.stringMatching(/^sha256:/)});
		expect(broken).toMatchObject({name: 'broken', outcome: 'failed', error: {message: expect.stringContaining('flyte build failed'), fix: expect.any(String)}});
		expect(build.stderr).toContain(`broken: ${broken.error.message}`);
		expect(build.stderr).toContain(`  log: ${broken.logFile}`);
		expect(
			(await readFile(flyteLog, 'utf8'))
				.trim()
				.split('\n')
				.slice(before)
				.filter(line => line.startsWith('--'))
				.sort(),
		).toEqual(['--image-builder local build flyte_images.py broken_env', '--image-builder local build flyte_images.py gamma_env']);

		// image.builder: remote in the config flyte reads here: Union's remote builder (the stand-in again), --force.
		const config = path.join(world.sandbox.project, 'config.yaml');
		const kept = await readFile(config, 'utf8');
		await writeFile(config, `${kept}  builder: remote\n`);
		try {
			const remote = await imagespecGar(['build', 'gamma', '--force', '--json'], {cwd: world.sandbox.project, env: await buildEnv()});
			expect(remote.code, remote.stderr).toBe(0);
			expect(JSON.parse(remote.stdout).images).toEqual([expect.objectContaining({name: 'gamma', outcome: 'pushed'})]);
			expect((await readFile(flyteLog, 'utf8')).trim().split('\n').slice(-2, -1)).toEqual(['--image-builder remote build flyte_images.py gamma_env']);
		} finally {
			await writeFile(config, kept);
		}
	});

	it('build without the flyte CLI: one line saying what to install, exit 1; Ctrl-C stops flyte build, exit 130', async () => {
		const shim = path.join(world.sandbox.root, 'shims', 'flyte');
		await rename(shim, `${shim}.away`);
		try {
			const run = await imagespecGar(['build', 'trainer', '--force'], {cwd: world.sandbox.project, env: world.env});
			expect(run.code).toBe(1);
			expect(run.stderr).toBe(
				'Error: A Flyte 2 image is built with flyte build, and the flyte CLI is not on PATH.\n' +
					'  fix: pip install flyte (in the environment you run flyte from), then rerun; or deploy with image.builder: remote and Union builds it.\n',
			);
			const json = await imagespecGar(['build', 'trainer', '--force', '--json'], {cwd: world.sandbox.project, env: world.env});
			expect(JSON.parse(json.stdout)).toMatchObject({
				ok: false,
				images: [],
				error: {reason: 'FLYTE_MISSING', fix: expect.stringContaining('pip install flyte')},
			});
		} finally {
			await rename(`${shim}.away`, shim);
		}

		const {code, stdout, stderr, left} = await interruptCli(
			['build', 'trainer', '--force', '--json'],
			{cwd: world.sandbox.project, env: {...(await buildEnv()), IMAGESPEC_STUB_FLYTE_SLEEP: 'trainer_env'}, sandbox: world.sandbox},
			/flyte is building trainer/,
			'SIGINT',
		);
		expect(code, stderr).toBe(130);
		expect(stderr).toContain('Cancelled:');
		expect(JSON.parse(stdout)).toMatchObject({ok: false, images: [{name: 'trainer', outcome: 'cancelled'}], error: {reason: 'CANCELLED'}});
		// Neither the stand-in nor its sleep is left.
		expect(left).toEqual([]);
	});
});
