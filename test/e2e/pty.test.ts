/**
 * The built CLI in a real terminal, driven as a person drives it: read the screen, answer the
 * question on it, one key at a time. Real gcloud (offline login), the loopback gRPC fake
 * Artifact Registry, a real docker engine and a registry that only takes gcloud's token.
 *
 * Questions are answered by what they ask, not by their position, so added steps only need a
 * rule when the default answer is not the right one (unknown questions get Enter).
 */
import {execFile} from 'node:child_process';
import {existsSync} from 'node:fs';
import {copyFile, readFile, readdir} from 'node:fs/promises';
import path from 'node:path';
import {promisify} from 'node:util';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {dockerEngine, requireDocker, startRegistry, type Registry} from '../support/docker.js';
import {flytekitBaseImage, requirePythonBase} from '../support/python-base.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {FAKE_TOKEN, loginOffline} from '../support/gcloud.js';
import {CLI, KEY, alive, descendants, drive, focusedOption, sgrCodes, spawnCli, type Answer, type PtyRun} from '../support/pty.js';

const run = promisify(execFile);
const engine = await dockerEngine();

const PROJECT = 'acme-ml';
const LOCATION = 'us-east1';
const REPOSITORY = 'union-images';
// Generous for a loaded CI machine; alone, each journey takes 5-20 s.
const JOURNEY_TIMEOUT = 180_000;
// The questions of the setup steps (project, location, repository): a rerun or a newcomer is asked none.
const SETUP_QUESTION = /^GCP project id|^Artifact Registry location|^Docker repository|^New repository name|^Create Docker repository/;

requirePythonBase(requireDocker(describe, engine))('imagespec-gar in a terminal, as a person uses it', () => {
	let fake: FakeArtifactRegistry;
	let registry: Registry;
	let baseRegistry: Registry;
	let baseImage: string;
	const sandboxes: Sandbox[] = [];
	const runs: PtyRun[] = [];
	// The first person: set up from nothing, then comes back for more.
	let first: Sandbox;
	let firstEnv: NodeJS.ProcessEnv;
	let trainerTag: string | undefined;
	const registryString = () => `${registry.host}/${PROJECT}/${REPOSITORY}`;
	const basicAuth = `Basic ${Buffer.from(`_dcgcloud_token:${FAKE_TOKEN}`).toString('base64')}`;

	/** A person's machine: its own gcloud (logged in), docker config and saved answers. */
	const person = async (extra: Record<string, string> = {}): Promise<{sandbox: Sandbox; env: NodeJS.ProcessEnv}> => {
		const sandbox = await makeSandbox();
		sandboxes.push(sandbox);
		await loginOffline(sandbox);
		const env = {
			...sandbox.env,
			DOCKER_HOST: engine!.dockerHost,
			IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint,
			IMAGESPEC_GAR_REGISTRY_HOST: registry.host,
			...extra,
		};
		return {sandbox, env};
	};

	const start = (args: string[], options: {cwd: string; env: NodeJS.ProcessEnv; cols?: number; rows?: number}) => {
		const started = spawnCli(args, options);
		runs.push(started);
		return started;
	};

	/** The manifest of name:tag, as docker (with gcloud's token) would see it. */
	const manifest = async (name: string, tag: string) =>
		fetch(`http://${registry.host}/v2/${PROJECT}/${REPOSITORY}/${name}/manifests/${tag}`, {
			method: 'HEAD',
			headers: {authorization: basicAuth, accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json'},
		});

	/** The keyword arguments of each `x = union.ImageSpec(...)` in a module, read by Python itself. */
	const declarations = async (file: string) => {
		const {stdout} = await run('python3', [
			'-c',
			'import ast, json, sys; tree = ast.parse(open(sys.argv[1]).read()); print(json.dumps([{k.arg: ast.literal_eval(k.value) ' +
				'for k in n.value.keywords} for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)]))',
			file,
		]);
		return JSON.parse(stdout) as Array<Record<string, unknown>>;
	};

	const dockerConfig = async (sandbox: Sandbox) =>
		JSON.parse(await readFile(path.join(sandbox.dockerConfig, 'config.json'), 'utf8')) as {credHelpers?: Record<string, string>};
	const creates = () => fake.calls.filter(call => call.method === 'CreateRepository').length;
	/** The screen's rows joined without their margins and box borders: what wrapping split is whole again. */
	const joinRows = (lines: string[]) => lines.map(line => line.replace(/^[\s│╭╰╮╯─┌┐└┘]+|[\s│╭╰╮╯─┌┐└┘]+$/g, '')).join('');
	const tagOnScreen = (lines: string[], name: string) =>
		new RegExp(`${registryString().replaceAll('.', '\\.')}/${name}:([\\w-]{22})`).exec(joinRows(lines))?.[1];

	/**
	 * The terminal after a narrow NO_COLOR run: no colour, nothing wider than the terminal, and no
	 * frame left behind (a live area taller than the terminal leaves copies in the scrollback).
	 */
	const cleanScreen = async (cli: PtyRun): Promise<string[]> => {
		expect(sgrCodes(cli.output())).toEqual([]);
		expect(await cli.softWrapped()).toEqual([]);
		const lines = await cli.history();
		expect(lines.filter(line => line.includes('imagespec-gar · Artifact Registry'))).toHaveLength(1);
		expect(lines.filter(line => /^[✔↷⚠✖] Prerequisites —/.test(line))).toHaveLength(1);
		expect(lines.filter(line => line.includes('Google Cloud SDK (gcloud)'))).toHaveLength(1);
		expect(lines.filter(line => /^\s*[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏›] |step \d+ of \d+/.test(line))).toEqual([]);
		expect(lines.filter(line => /^\? /.test(line))).toEqual([]);
		expect(lines.join('\n')).not.toContain('…');
		return lines;
	};

	/** The image questions, answered the same way by everyone. */
	const imageAnswers = (name: string, python?: string): Array<[RegExp, Answer]> => [
		[/^Image name/, {text: name}],
		// The local interpreter's version carries a hint after it (where the default came from).
		[/^Python version/, python ? {choose: new RegExp(`^${python.replace('.', '\\.')}(\\s|$)`)} : {enter: true}],
		[/^Base image/, {text: baseImage}],
		[/^Python packages/, {enter: true}],
		[/^Write .*\?$/, {confirm: true}],
	];

	beforeAll(async () => {
		expect(existsSync(CLI), 'npm run build first').toBe(true);
		[registry, baseRegistry] = await Promise.all([startRegistry({auth: {user: '_dcgcloud_token', password: FAKE_TOKEN}}), startRegistry()]);
		// Like the real service, the fake knows the images pushed to its repositories.
		fake = await startFakeArtifactRegistry({dockerImages: {host: registry.host, auth: {user: '_dcgcloud_token', password: FAKE_TOKEN}}});
		fake.addRepository(PROJECT, LOCATION, 'team-data', {description: 'Data team images'});
		fake.addRepository(PROJECT, LOCATION, 'maven-libs', {format: 'MAVEN', description: 'Java libraries'});
		baseImage = await flytekitBaseImage(engine!.dockerHost, baseRegistry.host);
		({sandbox: first, env: firstEnv} = await person());
	});

	afterAll(async () => {
		for (const started of runs) started.kill();
		await Promise.all([fake?.stop(), registry?.stop(), baseRegistry?.stop()]);
		await Promise.all(sandboxes.map(async sandbox => sandbox.cleanup()));
	});

	it(
		'first-time setup: from nothing to a pushed image, creating the repository on the way',
		async () => {
			const cli = start([], {cwd: first.project, env: firstEnv});
			const screens: Record<string, string> = {};
			await drive(cli, {
				answers: [
					[/^GCP project id/, {text: PROJECT}],
					[/location/, {choose: LOCATION}],
					[/^Docker repository in/, {choose: 'Create a new repository'}],
					[/^New repository name/, {enter: true}],
					[/^Create Docker repository/, {confirm: true}],
					...imageAnswers('trainer', '3.11'),
				],
				until: /Your image is in Artifact Registry/,
				onQuestion({message, screen}) {
					screens[message.split(/[ :?]/)[0] ?? message] ??= screen.join('\n');
				},
			});

			// The header comes out on its own, before Ink (and its ~0.2 s of modules) draws anything.
			const header = cli.chunks.findIndex(chunk => chunk.data.includes('imagespec-gar'));
			expect(header).toBeGreaterThanOrEqual(0);
			expect(cli.chunks.slice(0, header + 1).some(chunk => chunk.data.includes('Prerequisites'))).toBe(false);
			// Every prerequisite, with its result, before the first question.
			const [firstScreen = ''] = Object.values(screens);
			expect(firstScreen).toContain('imagespec-gar · Artifact Registry for your Flyte images');
			expect(firstScreen).toMatch(/✔ Prerequisites/);
			expect(firstScreen).toMatch(/✔ gcloud account — ci-bot@acme-ml/);
			expect(firstScreen).toMatch(/✔ Docker engine/);
			// The repository list: Docker ones to pick, the Maven one explained, and "create".
			const repositories = Object.entries(screens).find(([key]) => key === 'Docker')?.[1] ?? '';
			expect(repositories).toContain('team-data');
			expect(repositories).toContain('Create a new repository');
			expect(repositories).toMatch(/maven-libs.*not Docker/);
			// The module is shown before it is written, with the registry composed from the answers.
			const write = Object.entries(screens).find(([key]) => key === 'Write')?.[1] ?? '';
			expect(write).toContain(`registry="${registryString()}"`);
			expect(write).toContain('name="trainer"');

			const history = await cli.history();
			const done = history.join('\n');
			expect(done).toMatch(/✔ Repository — union-images \(created\)/);
			expect(done).toMatch(/✔ Docker authentication/);
			expect(done).toMatch(/✔ Build and push — pushed sha256:/);
			expect(done).toContain('union register');
			const tag = tagOnScreen(history, 'trainer');
			expect(tag, done).toBeDefined();
			trainerTag = tag;
			expect(await cli.waitForExit()).toEqual({exitCode: 0});

			// What exists now: the repository (Docker), docker's helper, the module, the image.
			expect(String(fake.repositories.get(`projects/${PROJECT}/locations/${LOCATION}/repositories/${REPOSITORY}`)?.format)).toMatch(/DOCKER|^1$/);
			expect(creates()).toBe(1);
			expect((await dockerConfig(first)).credHelpers?.[registry.host]).toBe('gcloud');
			expect(await declarations(path.join(first.project, 'image_specs.py'))).toEqual([
				expect.objectContaining({name: 'trainer', registry: registryString(), python_version: '3.11', base_image: baseImage}),
			]);
			expect((await manifest('trainer', tag!)).status).toBe(200);
		},
		JOURNEY_TIMEOUT,
	);

	it(
		'rerun: the saved setup comes first, and adding an image asks only about the image',
		async () => {
			const cli = start([], {cwd: first.project, env: firstEnv});
			const before: Array<{message: string; screen: string; offered?: string}> = [];
			let imageAsked = false;
			await drive(cli, {
				answers: [[/^What next/, {choose: /^Add another image/}], ...imageAnswers('evaluator', '3.11')],
				until: /Your image is in Artifact Registry/,
				onQuestion({message, body, screen}) {
					if (/^Image name/.test(message)) imageAsked = true;
					if (!imageAsked) before.push({message, screen: screen.join('\n'), offered: focusedOption(body)});
				},
			});

			// The first thing asked offers the saved setup, with "add an image" one Enter away.
			expect(before[0]?.message).toMatch(/^What next/);
			expect(before[0]?.offered).toMatch(/^Add another image/);
			const menu = before[0]?.screen ?? '';
			expect(menu).toContain('Saved setup for this folder');
			for (const saved of [PROJECT, LOCATION, REPOSITORY]) expect(menu).toContain(saved);
			expect(menu).toMatch(new RegExp(`trainer\\s+:${trainerTag ?? ''}`));
			// No project, location or repository question on the way to the image ones.
			expect(before.map(question => question.message)).not.toContainEqual(expect.stringMatching(SETUP_QUESTION));

			const history = await cli.history();
			const done = history.join('\n');
			expect(done).toMatch(/Docker authentication — .* already uses the gcloud credential helper/);
			expect(done).toContain(`Repository ${PROJECT}/${LOCATION}/${REPOSITORY}`);
			const tag = tagOnScreen(history, 'evaluator');
			expect(tag, done).toBeDefined();
			expect(await cli.waitForExit()).toEqual({exitCode: 0});

			expect(creates()).toBe(1);
			const declared = await declarations(path.join(first.project, 'image_specs.py'));
			expect(declared.map(spec => spec.name)).toEqual(['trainer', 'evaluator']);
			expect(declared[1]).toMatchObject({registry: registryString(), base_image: baseImage});
			expect((await manifest('evaluator', tag!)).status).toBe(200);
		},
		JOURNEY_TIMEOUT,
	);

	it(
		'onboarding: a new team member clones a folder with the module and pushes from it, asked no setup question',
		async () => {
			// Their own machine: logged in, nothing saved, no docker helper yet.
			const {sandbox: newcomer, env} = await person();
			const module = path.join(newcomer.project, 'image_specs.py');
			await copyFile(path.join(first.project, 'image_specs.py'), module);
			const committed = await readFile(module, 'utf8');

			// --location only because the test registry's host (127.0.0.1:PORT) does not name a
			// region, as <location>-docker.pkg.dev does.
			const cli = start(['--location', LOCATION], {cwd: newcomer.project, env});
			let menu = '';
			const {asked} = await drive(cli, {
				answers: [[/^What next/, {choose: /^Rebuild trainer/}]],
				until: /Your image is in Artifact Registry/,
				onQuestion({message, screen}) {
					if (/^What next/.test(message)) menu = screen.join('\n');
				},
			});

			expect(menu).toMatch(/Setup found in image_specs\.py/);
			for (const known of [PROJECT, LOCATION, REPOSITORY, 'trainer', 'evaluator']) expect(menu).toContain(known);
			// The module answered everything: no setup question, no image question.
			expect(asked[0]).toMatch(/^What next/);
			expect(asked).not.toContainEqual(expect.stringMatching(SETUP_QUESTION));
			expect(asked).not.toContainEqual(expect.stringMatching(/^Image name|^Python version|^Base image|^Python packages/));

			const history = await cli.history();
			const done = history.join('\n');
			expect(done).toMatch(/✔ Docker authentication — .* → gcloud credential helper/);
			expect(done).toMatch(/✔ Build and push — pushed sha256:/);
			// The same declaration gives the same tag on another machine.
			expect(tagOnScreen(history, 'trainer')).toBe(trainerTag);
			expect(await cli.waitForExit()).toEqual({exitCode: 0});

			expect(await readFile(module, 'utf8')).toBe(committed);
			expect(creates()).toBe(1);
			expect((await dockerConfig(newcomer)).credHelpers?.[registry.host]).toBe('gcloud');
			expect((await manifest('trainer', trainerTag!)).status).toBe(200);
			const saved = await readdir(newcomer.xdgConfig, {recursive: true});
			const files = await Promise.all(saved.filter(file => file.endsWith('.json')).map(async file => readFile(path.join(newcomer.xdgConfig, file), 'utf8')));
			expect(files.join('\n')).toContain(REPOSITORY);
		},
		JOURNEY_TIMEOUT,
	);

	it(
		'Ctrl-C during the build: exit 130, no docker left running, a line on how to resume',
		async () => {
			// A build that takes a while: one slow command (a flag, since no question asks for commands).
			const cli = start(['--image', 'sleeper', '--python-version', '3.12', '--base-image', baseImage, '--commands', 'sleep 97'], {
				cwd: first.project,
				env: firstEnv,
			});
			await drive(cli, {answers: imageAnswers('sleeper'), until: /RUN sleep 97/});
			let children = descendants(cli.pid).filter(child => child.comm === 'docker');
			for (let attempt = 0; attempt < 40 && !children.some(child => child.args.includes(' build ')); attempt++) {
				await new Promise(resolve => setTimeout(resolve, 50));
				children = descendants(cli.pid).filter(child => child.comm === 'docker');
			}

			expect(children.map(child => child.args)).toContainEqual(expect.stringContaining('docker build'));

			const pressed = Date.now();
			await cli.press(KEY.ctrlC);
			const exit = await cli.waitForExit(15_000);
			expect(exit.exitCode).toBe(130);
			expect(Date.now() - pressed).toBeLessThan(10_000);
			const screen = (await cli.history()).join('\n').replaceAll('\n', '');
			expect(screen).toMatch(/Cancelled\..*rerun imagespec-gar to resume/);

			for (const child of children) expect(alive(child.pid), child.args).toBe(false);
			// Nothing anywhere still builds that image, and the engine runs no container for it.
			expect(descendants(1).filter(process => process.args.includes('sleeper:'))).toEqual([]);
			let containers = '';
			for (let attempt = 0; attempt < 20; attempt++) {
				({stdout: containers} = await run('docker', ['ps', '--no-trunc', '--format', '{{.Command}}'], {
					env: {...process.env, DOCKER_HOST: engine!.dockerHost},
				}));
				if (!containers.includes('sleep 97')) break;
				await new Promise(resolve => setTimeout(resolve, 250));
			}

			expect(containers).not.toContain('sleep 97');
			// The module written before the build is whole.
			expect((await declarations(path.join(first.project, 'image_specs.py'))).map(spec => spec.name)).toContain('sleeper');
		},
		JOURNEY_TIMEOUT,
	);

	it(
		'a 60-column terminal with NO_COLOR=1: nothing cut, nothing garbled, no colour codes',
		async () => {
			const {sandbox: narrow, env} = await person({NO_COLOR: '1'});
			const cli = start([], {cwd: narrow.project, env, cols: 60, rows: 24});
			await drive(cli, {
				answers: [
					[/^GCP project id/, {text: PROJECT}],
					[/location/, {choose: LOCATION}],
					[/^Docker repository in/, {choose: new RegExp(`^${REPOSITORY}\\b`)}],
					...imageAnswers('team/narrow-trainer', '3.11'),
				],
				until: /Your image is in Artifact Registry/,
				onQuestion({screen}) {
					// No row of the screen is wider than the terminal (Ink wrapped it, the terminal did not).
					for (const line of screen) expect(line.length).toBeLessThanOrEqual(60);
				},
			});
			expect(await cli.waitForExit()).toEqual({exitCode: 0});

			const lines = await cleanScreen(cli);
			for (const step of ['Project and location', 'Repository', 'Docker authentication', 'ImageSpec', 'Build and push']) {
				expect(
					lines.filter(line => new RegExp(`^[✔↷] ${step} —`).test(line)),
					step,
				).toHaveLength(1);
			}

			const text = lines.join('\n');
			// Cut: an ellipsis, or a value that is not whole once the wrapped rows are joined.
			expect(text).not.toContain('…');
			const joined = joinRows(lines);
			const tag = tagOnScreen(lines, 'team/narrow-trainer');
			expect(tag, text).toBeDefined();
			expect(joined).toContain(`${registryString()}/team/narrow-trainer:${tag}`);
			expect(joined).toContain(path.join(narrow.project, 'image_specs.py'));
			expect(joined).toMatch(/sha256:[a-f\d]{64}/);
			expect((await manifest('team/narrow-trainer', tag!)).status).toBe(200);

			// Again, now with a saved setup: the longest list of checks (the repository's too).
			const again = start(['--no-build'], {cwd: narrow.project, env, cols: 60, rows: 24});
			await drive(again, {answers: [[/^What next/, {choose: /^Add another image/}], ...imageAnswers('team/narrow-second')], until: /Your ImageSpec is ready/});
			expect(await again.waitForExit()).toEqual({exitCode: 0});
			const second = await cleanScreen(again);
			expect(joinRows(second)).toContain(`${registryString()}/team/narrow-second:`);
		},
		JOURNEY_TIMEOUT,
	);
});
