// A first run configures docker (`gcloud auth configure-docker`, a gcloud start) beside the build:
// nothing before the push needs that host's credentials. Observed through a gcloud and a docker on
// PATH that log each command's start and end (then run the real ones), with configure-docker made
// a second slower so the order cannot come out right by chance.
import {mkdtemp, readFile, rm} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {startBuildWorld, type BuildWorld} from '../support/build-world.js';
import {imagespecGar} from '../support/cli.js';
import {dockerEngine, requireDocker} from '../support/docker.js';
import {realGcloud, shimTool} from '../support/gcloud.js';
import {flytekitBaseImage, requirePythonBase} from '../support/python-base.js';
import {whereFlags} from '../support/repository-world.js';

const engine = await dockerEngine();

type Span = {start: number; end?: number};

requirePythonBase(requireDocker(describe, engine))('a first run: docker authentication beside the build', {timeout: 300_000}, () => {
	let world: BuildWorld;
	let log: string;
	let dockerConfig: string;

	/** Each logged command's first start and end (ms), by name: configure-docker, buildx, build, run, push. */
	const spans = async (): Promise<Record<string, Span>> => {
		const found: Record<string, Span> = {};
		for (const line of (await readFile(log, 'utf8').catch(() => '')).trim().split('\n')) {
			const [kind, name = '', time = '0'] = line.split(' ');
			const span = (found[name] ??= {start: Number(time) / 1e6});
			if (kind === 'end') span.end = Number(time) / 1e6;
		}
		return found;
	};

	const run = async (
		image: string,
		{base = world.baseImage, commands = `echo ${image} > /built`, env = {}}: {base?: string; commands?: string; env?: NodeJS.ProcessEnv} = {},
	) =>
		imagespecGar([...whereFlags(), '--image', image, '--base-image', base, '--python-version', '3.11', '--commands', commands, '--json'], {
			cwd: world.sandbox.project,
			env: {...world.env, DOCKER_CONFIG: dockerConfig, ...env},
			timeout: 240_000,
		});

	beforeAll(async () => {
		world = await startBuildWorld(engine!, flytekitBaseImage);
		// The repository exists, as in a first run against a team's repository: the checks ask whether you may push to it.
		world.fake.addRepository('acme-ml', 'us-east1', 'union-images');
		log = path.join(world.sandbox.root, 'spans.log');
		const gcloud = await realGcloud(world.sandbox);
		const shims = path.join(world.sandbox.root, 'shims');
		const docker = (
			await execa('sh', ['-c', 'command -v docker'], {env: {PATH: world.sandbox.env.PATH?.replace(`${shims}${path.delimiter}`, '')}})
		).stdout.trim();
		const stamp = (what: string) => `echo "${what} $(date +%s%N)" >> '${log}'`;
		await shimTool(
			world.sandbox,
			'gcloud',
			[
				'case "$*" in *configure-docker*)',
				stamp('start configure-docker'),
				'sleep 1',
				`if [ -n "$FAIL_CONFIGURE" ]; then echo "ERROR: (gcloud.auth.configure-docker) refused" >&2; ${stamp('end configure-docker')}; exit 1; fi`,
				`'${gcloud}' "$@"; rc=$?`,
				stamp('end configure-docker'),
				'exit $rc;;',
				'esac',
				`exec '${gcloud}' "$@"`,
			].join('\n'),
		);
		await shimTool(
			world.sandbox,
			'docker',
			[
				'case "$1" in build|run|push|buildx)',
				stamp('start $1'),
				// A stop (SIGTERM) reaches docker itself, as when the CLI runs it without this wrapper.
				`'${docker}' "$@" & child=$!`,
				"trap 'kill -TERM $child 2>/dev/null' TERM INT",
				'wait $child; rc=$?',
				'if [ $rc -gt 128 ]; then wait $child; rc=$?; fi',
				stamp('end $1'),
				'exit $rc;;',
				'esac',
				`exec '${docker}' "$@"`,
			].join('\n'),
		);
	});

	beforeEach(async () => {
		// A fresh docker config each run, so configure-docker has work to do.
		dockerConfig = await mkdtemp(path.join(world.sandbox.root, 'docker-'));
		await rm(log, {force: true});
	});

	afterAll(async () => {
		await world?.stop();
	});

	it('the build starts while configure-docker runs; the push waits for it', async () => {
		const calls = world.fake.calls.length;
		const result = await run('beside');
		expect(result.code, result.stderr).toBe(0);
		expect(JSON.parse(result.stdout)).toMatchObject({ok: true, pushed: true});
		const {'configure-docker': configure, buildx, build, run: check, push} = await spans();
		expect(configure?.end, result.stderr).toBeDefined();
		// docker's buildx is asked beside the checks (configure-docker starts once they pass), not just before the build.
		expect(buildx!.start).toBeLessThan(configure!.start);
		expect(build!.start).toBeLessThan(configure!.end!);
		expect(check!.start).toBeGreaterThanOrEqual(build!.end!);
		expect(push!.start).toBeGreaterThanOrEqual(Math.max(configure!.end!, check!.end!));
		// Docker's config is what configure-docker writes, and the answers say so.
		const config = JSON.parse(await readFile(path.join(dockerConfig, 'config.json'), 'utf8'));
		expect(config.credHelpers).toMatchObject({[world.registry.host]: 'gcloud'});
		expect(result.stderr).toMatch(/Docker authentication: done/);
		// The push permission is asked once: the checks asked it of this repository, the build step does not again.
		expect(world.fake.calls.slice(calls).filter(call => call.method === 'TestIamPermissions')).toHaveLength(1);
	});

	it('a base image on the host being configured: the build waits for its credentials', async () => {
		const base = `${world.registry.host}/base/own-base:1`;
		await execa('docker', ['tag', world.baseImage, base], {env: {...process.env, DOCKER_HOST: engine!.dockerHost}});
		const result = await run('own-base', {base});
		expect(result.code, result.stderr).toBe(0);
		const {'configure-docker': configure, build} = await spans();
		expect(build!.start).toBeGreaterThanOrEqual(configure!.end!);
	});

	it('configure-docker fails: the build is stopped, the run fails with its fix, and nothing is pushed', async () => {
		// A build step that would take 20 s (new each run: never a cached layer), stopped when configure-docker fails.
		const result = await run('refused', {commands: `sleep 20 && echo ${Date.now()}`, env: {FAIL_CONFIGURE: '1'}});
		expect(result.code, result.stderr).toBe(1);
		expect(result.stderr).toMatch(/Docker authentication: FAILED — gcloud auth configure-docker .* failed \(exit 1\)/);
		expect(result.stderr).toMatch(/Build and push: skipped — docker cannot use \S+: its docker authentication .* failed/);
		// The run fails with configure-docker's own error, in its step, as when it ran before the build.
		expect(JSON.parse(result.stdout)).toMatchObject({ok: false, pushed: false, error: {reason: 'CONFIGURE_DOCKER_FAILED', step: 'docker-auth'}});
		expect(JSON.parse(result.stdout).error.fix).toContain('gcloud auth configure-docker');
		const logged = await spans();
		expect(logged.push).toBeUndefined();
		// The Dockerfile's steps after the commands never ran.
		expect(result.stderr).not.toMatch(/Step \d+\/\d+ : SHELL/);
		expect(logged.build?.end).toBeDefined();
		const running = await execa('docker', ['ps', '--format', '{{.Command}}'], {env: {...process.env, DOCKER_HOST: engine!.dockerHost}});
		expect(running.stdout).not.toContain('sleep 20');
		expect(logged['configure-docker']?.end).toBeDefined();
		await expect(readFile(path.join(dockerConfig, 'config.json'), 'utf8')).rejects.toThrow();
	});
});
