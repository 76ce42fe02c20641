/**
 * `npm run bench`: figures, not pass/fail. Runs the built CLI (dist/cli.js, or IMAGESPEC_GAR_CLI)
 * against the same real parts as the tests (gcloud logged in offline, the loopback fake Artifact
 * Registry with 5,000 repositories, docker and a registry), side by side with what a person
 * would run instead, and prints medians as a table; the same goes to bench/results.json.
 *
 *   npm run bench [-- --runs 5 --out bench/results.json --only startup,version,doctor,rerun,first-run,listing,rss,status,build-all]
 */
import {spawn} from 'node:child_process';
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {createServer} from 'node:http';
import type {AddressInfo} from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {parseArgs} from 'node:util';
import {dockerEngine, makeBaseImage, startRegistry, type Registry} from '../test/support/docker.js';
import {makeSandbox, type Sandbox} from '../test/support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../test/support/fake-artifact-registry.js';
import {FAKE_TOKEN, loginOffline} from '../test/support/gcloud.js';
import {CLI, KEY, REPO_ROOT, createReplay, currentQuestion, drive, focusedOption, spawnCli, type PtyRun} from '../test/support/pty.js';
import {computeTag, type ImageSpec} from '../source/services/imagespec.js';
import type {SeededDockerImage} from '../test/support/fake-docker-images.js';
import {PYTHON_BASE_TARBALL, flytekitBaseImage, pythonBaseAvailable} from '../test/support/python-base.js';

const {values: options} = parseArgs({
	options: {
		runs: {type: 'string', default: '5'},
		out: {type: 'string', default: path.join(REPO_ROOT, 'bench', 'results.json')},
		only: {type: 'string'},
		repositories: {type: 'string', default: '5000'},
	},
});
const RUNS = Math.max(1, Number(options.runs));
const REPOSITORIES = Number(options.repositories);
const only = new Set(options.only?.split(',').filter(Boolean));
const wanted = (name: string) => only.size === 0 || only.has(name);

const PROJECT = 'acme-ml';
const LOCATION = 'us-east1';
const REPOSITORY = 'union-images';
const PROBE = path.join(REPO_ROOT, 'bench', 'probe.mjs');

type Row = {
	id: string;
	label: string;
	/** The median (or the single figure); null when it could not be measured. */
	value: number | null;
	unit: 'ms' | 'MB';
	baseline?: {label: string; value: number};
	/** value / baseline, or baseline / value for "faster than" targets (see `target`). */
	ratio?: number;
	target?: string;
	met?: boolean;
	note?: string;
	samples?: number[];
};

const rows: Row[] = [];
const median = (values: number[]) => {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const sleep = async (ms: number) =>
	new Promise<void>(resolve => {
		setTimeout(resolve, ms);
	});
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** Wall time of one command to its exit, in ms, and when each stderr line came (ms from the start). */
const timed = async (
	file: string,
	args: string[],
	env: NodeJS.ProcessEnv,
	cwd?: string,
): Promise<{ms: number; code: number; stdout: string; stderr: string; lines: Array<{at: number; line: string}>}> =>
	new Promise((resolve, reject) => {
		const started = performance.now();
		const child = spawn(file, args, {env, cwd, stdio: ['ignore', 'pipe', 'pipe']});
		let stdout = '';
		let stderr = '';
		const lines: Array<{at: number; line: string}> = [];
		let partial = '';
		child.stdout.on('data', (chunk: Buffer) => {
			stdout += chunk.toString();
		});
		child.stderr.on('data', (chunk: Buffer) => {
			const at = performance.now() - started;
			stderr += chunk.toString();
			const parts = (partial + chunk.toString()).split('\n');
			partial = parts.pop() ?? '';
			for (const line of parts) lines.push({at, line});
		});
		child.on('error', reject);
		child.on('close', code => {
			resolve({ms: performance.now() - started, code: code ?? -1, stdout, stderr, lines});
		});
	});

/** timed, with text on the command's stdin. */
const timedWithInput = async (file: string, args: string[], env: NodeJS.ProcessEnv, input: string): Promise<{ms: number; code: number; stderr: string}> =>
	new Promise((resolve, reject) => {
		const started = performance.now();
		const child = spawn(file, args, {env, stdio: ['pipe', 'ignore', 'pipe']});
		let stderr = '';
		child.stderr.on('data', (chunk: Buffer) => {
			stderr += chunk.toString();
		});
		child.on('error', reject);
		child.on('close', code => {
			resolve({ms: performance.now() - started, code: code ?? -1, stderr});
		});
		child.stdin.end(input);
	});

/** ms from the start to the first stderr line matching pattern. */
const lineAt = (lines: Array<{at: number; line: string}>, pattern: RegExp) => lines.find(entry => pattern.test(entry.line))?.at;

/** gcloud's REST calls for `gcloud artifacts repositories describe`, answered from the gRPC fake's state. */
const startRestFake = async (fake: FakeArtifactRegistry, dockerImages: Map<string, SeededDockerImage[]>) => {
	let calls = 0;
	const server = createServer((request, response) => {
		calls++;
		// ListDockerImages as gcloud calls it (`artifacts docker images list REPO`): pages of pageSize (100 by default).
		const images = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/repositories\/[^/?]+)\/dockerImages\?(.*)$/.exec(request.url ?? '');
		if (images) {
			const query = new URLSearchParams(images[2]);
			const all = dockerImages.get(images[1]!) ?? [];
			const offset = Number(query.get('pageToken') || 0);
			const size = Math.min(Number(query.get('pageSize') || 100), 1000);
			const page = all.slice(offset, offset + size).map(image => ({
				name: `${images[1]}/dockerImages/${encodeURIComponent(image.image)}@${image.digest}`,
				uri: `us-east1-docker.pkg.dev/${PROJECT}/status-bench/${image.image}@${image.digest}`,
				tags: image.tags,
				imageSizeBytes: String(image.sizeBytes ?? 0),
				uploadTime: (image.uploadTime ?? new Date(0)).toISOString(),
				mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
			}));
			response.writeHead(200, {'content-type': 'application/json'});
			response.end(JSON.stringify({dockerImages: page, ...(offset + size < all.length ? {nextPageToken: String(offset + size)} : {})}));
			return;
		}
		const name = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/repositories\/[^/?]+)/.exec(request.url ?? '')?.[1];
		const repository = name ? fake.repositories.get(name) : undefined;
		response.writeHead(repository ? 200 : 404, {'content-type': 'application/json'});
		response.end(
			JSON.stringify(
				repository
					? {...repository, createTime: '2026-01-01T00:00:00Z', updateTime: '2026-01-01T00:00:00Z'}
					: {error: {code: 404, message: 'not found', status: 'NOT_FOUND'}},
			),
		);
	});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, stop: () => server.close(), calls: () => calls};
};

type Probe = {file: string; env: Record<string, string>; read: () => Promise<Array<{event: string; at: number; maxRssKb?: number; pid: number}>>};
const makeProbe = async (dir: string, modules: boolean): Promise<Probe> => {
	const file = path.join(dir, `probe-${Math.random().toString(36).slice(2)}.jsonl`);
	return {
		file,
		env: {NODE_OPTIONS: `--import=${new URL(`file://${PROBE}`).href}`, BENCH_PROBE_FILE: file, ...(modules ? {BENCH_PROBE_MODULES: '1'} : {})},
		read: async () =>
			(await readFile(file, 'utf8').catch(() => ''))
				.split('\n')
				.filter(Boolean)
				.map(line => JSON.parse(line) as {event: string; at: number; maxRssKb?: number; pid: number}),
	};
};

// -------------------------------------------------------------------------------------------
// The parts

log(`cli: ${CLI}`);
const loadAtStart = os.loadavg()[0]!;
// Other work on the machine (a test run) inflates every figure: say so next to them (and above
// the core count, bench/results.json is not written).
if (loadAtStart > os.cpus().length / 2)
	log(`load average ${loadAtStart.toFixed(1)} on ${os.cpus().length} CPUs: figures will be inflated; run on a quiet machine`);
const engine = await dockerEngine();
const sandbox: Sandbox = await makeSandbox();
const registry: Registry | undefined = engine ? await startRegistry({auth: {user: '_dcgcloud_token', password: FAKE_TOKEN}}) : undefined;
// Like the real service, the fake knows the images pushed to its repositories.
const fake = await startFakeArtifactRegistry(registry ? {dockerImages: {host: registry.host, auth: {user: '_dcgcloud_token', password: FAKE_TOKEN}}} : {});
// When each API call arrived, to time the list from its first call.
const apiCalls: Array<{method: string; at: number}> = [];
const pushCall = fake.calls.push.bind(fake.calls);
fake.calls.push = (...items) => {
	for (const item of items) apiCalls.push({method: item.method, at: Date.now()});
	return pushCall(...items);
};

for (let index = 0; index < REPOSITORIES; index++)
	fake.addRepository(PROJECT, LOCATION, `team-${String(index).padStart(4, '0')}`, {description: `Images of team ${index}`});
fake.addRepository(PROJECT, LOCATION, REPOSITORY, {description: 'Union images'});
const baseRegistry: Registry | undefined = engine ? await startRegistry() : undefined;
const baseImage = engine && baseRegistry ? await makeBaseImage(engine.dockerHost, baseRegistry.host) : 'busybox:1';
// Every local build runs the image once to import flytekit before its push: full runs need a base
// with Python and flytekit (the tests' Debian one), else they are authored only (--no-build).
const flytekitBase =
	engine && baseRegistry && pythonBaseAvailable() && ['listing', 'rss', 'first-run', 'build-all'].some(wanted)
		? await flytekitBaseImage(engine.dockerHost, baseRegistry.host)
		: undefined;
const noBuildsWhy = engine ? `no ${PYTHON_BASE_TARBALL}: run .ci/python-base.sh` : 'no docker';
/** The flags of a run that builds and pushes a small image, or only authors it when it cannot build. */
const buildArgs = (): string[] =>
	flytekitBase ? ['--python-version', '3.11', '--base-image', flytekitBase] : ['--python-version', '3.12', '--base-image', baseImage, '--no-build'];
await loginOffline(sandbox);
// Images the fake lists without a registry behind them (the status bench's 2,000), for gRPC and REST alike.
const seededImages = new Map<string, SeededDockerImage[]>();
const rest = await startRestFake(fake, seededImages);
const env: NodeJS.ProcessEnv = {
	...sandbox.env,
	...(engine ? {DOCKER_HOST: engine.dockerHost} : {}),
	IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint,
	IMAGESPEC_GAR_REGISTRY_HOST: registry?.host ?? '127.0.0.1:9',
};
const registryHost = env.IMAGESPEC_GAR_REGISTRY_HOST!;
const node = process.execPath;
const cli = async (args: string[], cwd: string, extra: Record<string, string> = {}) => timed(node, [CLI, ...args], {...env, ...extra}, cwd);

// A project folder set up once, as after a first run: saved answers, the module, docker's helper.
const setup = await cli(
	[
		'--project',
		PROJECT,
		'--location',
		LOCATION,
		'--repository',
		REPOSITORY,
		'--image',
		'base',
		'--python-version',
		'3.12',
		'--base-image',
		baseImage,
		'--no-build',
		'--yes',
		'--json',
	],
	sandbox.project,
);
if (setup.code !== 0) throw new Error(`setting up the project folder failed (${setup.code}): ${setup.stderr}`);
log(`set up: ${REPOSITORIES.toLocaleString('en-US')} repositories in the fake, docker ${engine ? engine.dockerHost : 'absent (no builds)'}`);

// A service alone, in a node process of its own: the bench's tsc build of source/services (dist/ is one bundle).
const servicesUrl = (name: string) => JSON.stringify(new URL(`../source/services/${name}.js`, import.meta.url).href);
const ctxLine =
	'const ctx = {platform: {os: process.platform, arch: process.arch, env: process.env, home: process.env.HOME}, signal: new AbortController().signal};';

const freshFolder = async () => mkdtemp(path.join(sandbox.root, 'folder-'));
const stopRun = async (run: PtyRun) => {
	if (!run.exit) await run.press(KEY.ctrlC).catch(() => undefined);
	await run.waitForExit(15_000).catch(() => run.kill());
};

// -------------------------------------------------------------------------------------------
// 1. Start-up: process start → first frame, against bare node; and when the AR client loads.

/** spawn → the first output chunk holding the header, and → Ink's first frame (the checks' status line). */
const firstFrames = async () => {
	const run = spawnCli([], {cwd: sandbox.project, env});
	await run.waitFor('Prerequisites', {timeout: 15_000});
	const header = run.chunks.find(chunk => chunk.data.includes('imagespec-gar'))!;
	const ink = run.chunks.find(chunk => chunk.data.includes('Prerequisites'))!;
	await stopRun(run);
	return {header: header.at - run.startedAt, ink: ink.at - run.startedAt};
};

if (wanted('startup')) {
	log('start-up');
	const bare: number[] = [];
	const first: number[] = [];
	const firstInk: number[] = [];
	for (let index = 0; index < RUNS + 2; index++) {
		const warm = index < 2;
		const baseline = spawnCli(['-e', '0'], {cwd: sandbox.project, env, file: node});
		await baseline.waitForExit();
		if (!warm) bare.push(baseline.exitedAt! - baseline.startedAt);
		const frames = await firstFrames();
		if (!warm) {
			first.push(frames.header);
			firstInk.push(frames.ink);
		}

		await sleep(300);
	}

	const value = median(first);
	const base = median(bare);
	rows.push({
		id: 'startup',
		label: 'start-up → first frame (the header)',
		value,
		unit: 'ms',
		baseline: {label: 'node -e 0 (start → exit)', value: base},
		ratio: value / base,
		target: '≤ 3× bare node',
		met: value / base <= 3,
		note: 'written before Ink loads; the checks start with it',
		samples: first,
	});
	rows.push({
		id: 'startup-ink',
		label: "start-up → Ink's first frame (the checks running)",
		value: median(firstInk),
		unit: 'ms',
		baseline: {label: 'node -e 0 (start → exit)', value: base},
		ratio: median(firstInk) / base,
		target: '≤ 250 ms',
		met: median(firstInk) <= 250,
		samples: firstInk,
	});

	// The first question, as a person starts it with --project --location: the repository list.
	const question: number[] = [];
	const questionBare: number[] = [];
	for (let index = 0; index < RUNS + 1; index++) {
		const baseline = spawnCli(['-e', '0'], {cwd: sandbox.project, env, file: node});
		await baseline.waitForExit();
		const folder = await freshFolder();
		const run = spawnCli(['--project', PROJECT, '--location', LOCATION], {cwd: folder, env, cols: 100, rows: 40});
		await run.waitFor(/^\? \S/m, {timeout: 30_000}).catch(() => undefined);
		const replay = createReplay(run);
		const shown = await replay.until(screen => currentQuestion(screen.split('\n')) !== undefined);
		await stopRun(run);
		await rm(folder, {recursive: true, force: true});
		if (index === 0 || !shown) continue;
		question.push(shown.at - run.startedAt);
		questionBare.push(baseline.exitedAt! - baseline.startedAt);
		await sleep(300);
	}

	rows.push({
		id: 'startup-question',
		label: 'start-up → first question on screen (--project --location: the repository list)',
		value: question.length > 0 ? median(question) : null,
		unit: 'ms',
		baseline: {label: 'node -e 0 (start → exit)', value: median(questionBare)},
		ratio: question.length > 0 ? median(question) / median(questionBare) : undefined,
		target: '≤ 600 ms',
		met: question.length > 0 ? median(question) <= 600 : false,
		note: `in a fresh folder, a 100×40 pty; the first frame with a question line (${question.length} of ${RUNS} runs reached it)`,
		samples: question,
	});

	// Module trace (a separate pass: the hook costs start-up time).
	const after: number[] = [];
	for (let index = 0; index < Math.min(3, RUNS); index++) {
		const probe = await makeProbe(sandbox.root, true);
		const run = spawnCli([], {cwd: sandbox.project, env: {...env, ...probe.env}});
		// Ink's first frame, not the header: the client must not hold up what Ink draws.
		await run.waitFor('Prerequisites', {timeout: 15_000});
		const frame = run.chunks.find(chunk => chunk.data.includes('Prerequisites'))!;
		for (let wait = 0; wait < 100 && !(await probe.read()).some(record => record.event === 'ar-load'); wait++) await sleep(100);
		await stopRun(run);
		const load = (await probe.read()).find(record => record.event === 'ar-load');
		if (load) after.push(load.at - frame.at);
	}

	rows.push({
		id: 'startup-ar-import',
		label: "AR client first loaded, after Ink's first frame",
		value: after.length > 0 ? median(after) : null,
		unit: 'ms',
		target: "> 0 (not before Ink's first frame)",
		met: after.length > 0 && after.every(ms => ms > 0),
		samples: after,
	});
}

// -------------------------------------------------------------------------------------------
// 1b. --version: against bare node, both spawn → exit, no terminal.

if (wanted('version')) {
	log('--version');
	const ours: number[] = [];
	const bare: number[] = [];
	for (let index = 0; index < RUNS * 2 + 1; index++) {
		const version = await timed(node, [CLI, '--version'], env);
		if (version.code !== 0) throw new Error(`--version failed (${version.code}): ${version.stderr}`);
		const baseline = await timed(node, ['-e', '0'], env);
		if (index === 0) continue;
		ours.push(version.ms);
		bare.push(baseline.ms);
	}

	rows.push({
		id: 'version',
		label: '--version',
		value: median(ours),
		unit: 'ms',
		baseline: {label: 'node -e 0', value: median(bare)},
		ratio: median(ours) / median(bare),
		target: '≤ 2× bare node',
		met: median(ours) / median(bare) <= 2,
		note: 'spawn → exit; answered by the entry before meow and main load',
		samples: ours,
	});
}

// -------------------------------------------------------------------------------------------
// 2. doctor: against its slowest check, and against the same checks as plain commands in a row.

if (wanted('doctor')) {
	log('doctor');
	const doctor: number[] = [];
	const doctorFirstLine: number[] = [];
	const singles: Record<string, number[]> = {};
	const ownInRow: number[] = [];
	const personInRow: number[] = [];
	// What doctor itself runs, concurrently: its processes, its read of gcloud's files and its one
	// API check (node processes here, as doctor pays node's start too). The modules are the bench's
	// own tsc build of source/ (dist/ is one bundle).
	const gcloudCheck = `const {readGcloudState} = await import(${servicesUrl('gcloud')});
${ctxLine}
const state = await readGcloudState(ctx);
if (!state.account) process.exit(1);`;
	const apiCheck = `const {openArtifactRegistry} = await import(${servicesUrl('artifact-registry')});
${ctxLine}
const registry = await openArtifactRegistry(ctx);
await registry.getRepository('${PROJECT}', '${LOCATION}', '${REPOSITORY}');
await registry.testIamPermissions('${PROJECT}', '${LOCATION}', '${REPOSITORY}', ['artifactregistry.repositories.uploadArtifacts']).catch(() => []);
process.exit(0);`;
	// The third item is stdin: the credential helper is asked for the repository host's token, as doctor asks it.
	const own: Array<[string, string[], string?]> = [
		[node, ['--input-type=module', '-e', gcloudCheck]],
		['docker', ['version', '--format', '{{json .}}']],
		['docker-credential-gcloud', ['get'], `${registryHost}\n`],
		['python3', ['-c', "import importlib.util as u; print(u.find_spec('union'), u.find_spec('flytekit'))"]],
		[node, ['--input-type=module', '-e', apiCheck]],
	];
	const ownName = (file: string, args: string[]) =>
		file === node
			? args.at(-1) === apiCheck
				? 'node: AR getRepository + testIamPermissions'
				: "node: gcloud's account and project from its files"
			: `${file} ${args.join(' ')}`.slice(0, 48);
	// What a person types to learn the same seven things.
	const adcFile = path.join(sandbox.cloudsdkConfig, 'application_default_credentials.json');
	const person: Array<[string, string[]]> = [
		['gcloud', ['--version']],
		['gcloud', ['auth', 'list']],
		['gcloud', ['config', 'get-value', 'project']],
		['gcloud', ['auth', 'application-default', 'print-access-token']],
		['docker', ['version']],
		['sh', ['-c', `command -v docker-credential-gcloud; test -f '${adcFile}'; cat '${path.join(sandbox.dockerConfig, 'config.json')}'; uname -m`]],
		['gcloud', ['artifacts', 'repositories', 'describe', REPOSITORY, '--location', LOCATION, '--project', PROJECT]],
		['python3', ['-c', 'import union']],
	];
	const personEnv = {...env, CLOUDSDK_API_ENDPOINT_OVERRIDES_ARTIFACTREGISTRY: rest.url};
	for (let index = 0; index < RUNS + 1; index++) {
		const warm = index === 0;
		const run = await cli(['doctor'], sandbox.project);
		if (!warm) doctor.push(run.ms);
		if (!warm) doctorFirstLine.push(lineAt(run.lines, /\S/) ?? Number.NaN);
		let total = 0;
		for (const [file, args, input] of own) {
			const {ms, code, stderr} =
				input === undefined
					? await timed(file, args, env)
					: await timedWithInput(file, args, {...env, CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY: 'true'}, input);
			if (input !== undefined && code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${code}): ${stderr}`);
			total += ms;
			if (!warm) (singles[ownName(file, args)] ??= []).push(ms);
		}

		if (!warm) ownInRow.push(total);
		total = 0;
		for (const [file, args] of person) total += (await timed(file, args, personEnv)).ms;
		if (!warm) personInRow.push(total);
	}

	const value = median(doctor);
	const [slowestName, slowest] = Object.entries(singles)
		.map(([name, samples]) => [name, median(samples)] as const)
		.sort((a, b) => b[1] - a[1])[0]!;
	rows.push({
		id: 'doctor-vs-slowest',
		label: 'doctor',
		value,
		unit: 'ms',
		baseline: {label: `slowest check alone (${slowestName})`, value: slowest},
		ratio: value / slowest,
		target: '≤ 1.3× slowest check',
		met: value / slowest <= 1.3,
		note: `its first line comes ${Math.round(median(doctorFirstLine))} ms after start (node and its modules); checks alone: ${Object.entries(singles)
			.map(([name, samples]) => `${name} ${Math.round(median(samples))} ms`)
			.join(', ')}`,
		samples: doctor,
	});
	rows.push({
		id: 'doctor-vs-commands',
		label: 'doctor',
		value,
		unit: 'ms',
		baseline: {label: `${person.length} commands a person runs, in a row`, value: median(personInRow)},
		ratio: median(personInRow) / value,
		target: '≥ 3× faster',
		met: median(personInRow) / value >= 3,
		note: `${person.map(([file, args]) => `${file} ${args.join(' ')}`.slice(0, 60)).join('; ')}. doctor's own ${own.length} checks in a row: ${Math.round(median(ownInRow))} ms (${(median(ownInRow) / value).toFixed(2)}×)`,
	});
}

// -------------------------------------------------------------------------------------------
// 3. Rerun "add an image" up to the spec and tag, against the gcloud commands for the same result.

if (wanted('rerun')) {
	log('rerun');
	const wizard: number[] = [];
	const commands: number[] = [];
	const checksDone: number[] = [];
	const specDone: number[] = [];
	const existence: number[] = [];
	const inspected: number[] = [];
	const gcloudEnv = {...env, CLOUDSDK_API_ENDPOINT_OVERRIDES_ARTIFACTREGISTRY: rest.url, CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY: 'true'};
	// What the wizard asks when Artifact Registry's API cannot answer: the registry itself (one
	// HEAD, docker's credentials fetched once), in a node process of its own.
	const existenceCheck = (ref: string) => `const {imageExists} = await import(${servicesUrl('registry-manifest')});
${ctxLine}
const answer = await imageExists(ctx, ${JSON.stringify(ref)});
if (answer.state !== 'absent') { process.stderr.write(JSON.stringify(answer)); process.exit(1); }`;
	for (let index = 0; index < RUNS + 1; index++) {
		const run = await cli(['--yes', '--json', '--no-build', '--image', `added-${index}`], sandbox.project);
		if (run.code !== 0) throw new Error(`rerun failed (${run.code}): ${run.stderr}`);
		const describe = await timed('gcloud', ['artifacts', 'repositories', 'describe', REPOSITORY, '--location', LOCATION, '--project', PROJECT], gcloudEnv);
		if (describe.code !== 0) throw new Error(`gcloud artifacts repositories describe failed: ${describe.stderr}`);
		const configure = await timed('gcloud', ['auth', 'configure-docker', registryHost, '--quiet'], gcloudEnv);
		// A tag that is not there, asked both ways.
		const absent = `${registryHost}/${PROJECT}/${REPOSITORY}/added-${index}:absent`;
		const asked = registry ? await timed(node, ['--input-type=module', '-e', existenceCheck(absent)], env) : undefined;
		if (asked && asked.code !== 0) throw new Error(`the registry's answer for an absent tag was not "absent": ${asked.stderr}`);
		const inspect = registry
			? await timed('docker', ['manifest', 'inspect', '--verbose', '--insecure', absent], {...gcloudEnv, DOCKER_CLI_EXPERIMENTAL: 'enabled'})
			: undefined;
		if (index === 0) continue;
		if (asked) existence.push(asked.ms);
		if (inspect) inspected.push(inspect.ms);
		wizard.push(run.ms);
		commands.push(describe.ms + configure.ms);
		checksDone.push(lineAt(run.lines, /^Prerequisites: (done|failed)/) ?? Number.NaN);
		specDone.push(lineAt(run.lines, /^ImageSpec: done/) ?? Number.NaN);
	}

	const value = median(wizard);
	rows.push({
		id: 'rerun',
		label: 'rerun: add an image (--yes --json --no-build)',
		value,
		unit: 'ms',
		baseline: {label: 'gcloud artifacts repositories describe + auth configure-docker', value: median(commands)},
		ratio: median(commands) / value,
		target: '≥ 4× faster',
		met: median(commands) / value >= 4,
		note: `where the time goes (medians, from process start): prerequisites done at ${Math.round(median(checksDone))} ms, spec and tag at ${Math.round(median(specDone))} ms, exit at ${Math.round(value)} ms`,
		samples: wizard,
	});
	rows.push({
		id: 'existence-check',
		label: 'is the tag pushed, when Artifact Registry cannot answer (an absent tag)',
		value: existence.length > 0 ? median(existence) : null,
		unit: 'ms',
		baseline: inspected.length > 0 ? {label: 'docker manifest inspect (what the wizard ran before)', value: median(inspected)} : undefined,
		ratio: existence.length > 0 && inspected.length > 0 ? median(inspected) / median(existence) : undefined,
		target: '≤ 1000 ms',
		met: existence.length > 0 ? median(existence) <= 1000 : undefined,
		note: registry
			? "a node process: the registry's manifest, one HEAD with docker's credentials (gcloud's cached token, else one docker-credential-gcloud start); docker manifest inspect starts the helper several times"
			: 'n/a: no docker, so no registry',
		samples: existence,
	});
}

// -------------------------------------------------------------------------------------------
// 3b. A first run, non-interactive: configure docker, build and push a small image, against the
// same three steps typed by hand.

if (wanted('first-run') && !flytekitBase) log(`first run: skipped (${noBuildsWhy})`);
if (wanted('first-run') && flytekitBase) {
	log('first run: build and push, against configure-docker + docker build + docker push');
	const ours: number[] = [];
	const byHand: number[] = [];
	const steps: Record<'configure' | 'build' | 'push', number[]> = {configure: [], build: [], push: []};
	// When the wizard's steps end (its progress lines on stderr, ms from its start).
	const marks: Record<'checks' | 'auth' | 'built', number[]> = {checks: [], auth: [], built: []};
	for (let index = 0; index < RUNS + 1; index++) {
		// A new command each time (so a new image, really built) and a docker config without gcloud's helper.
		const nonce = `${Date.now()}-${index}`;
		const wizard = async () => {
			const folder = await freshFolder();
			const dockerConfig = await mkdtemp(path.join(sandbox.root, 'docker-'));
			const args = [
				'--project',
				PROJECT,
				'--location',
				LOCATION,
				'--repository',
				REPOSITORY,
				'--image',
				`first-${index}`,
				...buildArgs(),
				'--commands',
				`echo ${nonce} > /built`,
				'--yes',
				'--json',
			];
			const run = await cli(args, folder, {DOCKER_CONFIG: dockerConfig});
			if (run.code !== 0 || !(JSON.parse(run.stdout) as {pushed?: boolean}).pushed) throw new Error(`first run failed (${run.code}): ${run.stderr}`);
			if (index > 0) {
				marks.checks.push(lineAt(run.lines, /^Prerequisites: done/) ?? Number.NaN);
				marks.auth.push(lineAt(run.lines, /^Docker authentication: (done|skipped)/) ?? Number.NaN);
				marks.built.push(lineAt(run.lines, /^Build and push: done/) ?? Number.NaN);
			}
			return run.ms;
		};
		const manual = async () => {
			const dockerEnv = {...env, DOCKER_CONFIG: await mkdtemp(path.join(sandbox.root, 'docker-')), CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY: 'true'};
			const ref = `${registryHost}/${PROJECT}/${REPOSITORY}/by-hand-${index}:${nonce}`;
			const configure = await timed('gcloud', ['auth', 'configure-docker', registryHost, '--quiet'], dockerEnv);
			const build = await timedWithInput('docker', ['build', '-t', ref, '-'], dockerEnv, `FROM ${flytekitBase}\nRUN echo ${nonce} > /built\n`);
			const push = await timed('docker', ['push', ref], dockerEnv);
			for (const [name, step] of [
				['configure-docker', configure],
				['docker build', build],
				['docker push', push],
			] as const) {
				if (step.code !== 0) throw new Error(`${name} by hand failed (${step.code}): ${step.stderr}`);
			}
			if (index > 0) {
				steps.configure.push(configure.ms);
				steps.build.push(build.ms);
				steps.push.push(push.ms);
			}
			return configure.ms + build.ms + push.ms;
		};
		// Alternated, so neither side always runs on a warmer engine.
		const [first, second] = index % 2 ? [await manual(), await wizard()] : [await wizard(), await manual()];
		if (index === 0) continue;
		ours.push(index % 2 ? second : first);
		byHand.push(index % 2 ? first : second);
	}

	const value = median(ours);
	rows.push({
		id: 'first-run',
		label: 'first run, non-interactive: build + push of a small image',
		value,
		unit: 'ms',
		baseline: {label: 'gcloud auth configure-docker + docker build + docker push', value: median(byHand)},
		ratio: value / median(byHand),
		target: '≤ 1.1× the commands by hand',
		met: value / median(byHand) <= 1.1,
		note:
			`a fresh folder and docker config each run; the wizard also checks the prerequisites and the repository, and runs the image once (import flytekit) before the push. ` +
			`The wizard (from its start): prerequisites done at ${Math.round(median(marks.checks))} ms, docker authentication at ${Math.round(median(marks.auth))} ms, ` +
			`built, pushed and proven at ${Math.round(median(marks.built))} ms. By hand: configure-docker ${Math.round(median(steps.configure))} ms, ` +
			`build ${Math.round(median(steps.build))} ms, push ${Math.round(median(steps.push))} ms`,
		samples: ours,
	});
}

// -------------------------------------------------------------------------------------------
// 4. The repository list with 5,000 repositories, and 5. peak RSS of full runs.

const matchCount = (screen: string) => /([\d,]+) (?:of [\d,]+ )?repositor(?:y|ies)/.exec(screen)?.[1];

if (wanted('listing') || wanted('rss')) {
	log('repository list and interactive full runs');
	const firstPage: number[] = [];
	const allLoaded: number[] = [];
	const fromStart: number[] = [];
	const filterLatency: number[] = [];
	const moveLatency: number[] = [];
	const rss: number[] = [];
	let filterable = false;
	const listingRuns = Math.min(RUNS, 3);
	for (let index = 0; index < listingRuns; index++) {
		const probe = await makeProbe(sandbox.root, false);
		const folder = await freshFolder();
		const args = ['--project', PROJECT, '--location', LOCATION, '--image', `listed-${index}`, ...buildArgs(), '--commands', `echo listed-${Date.now()}`];
		const run = spawnCli(args, {cwd: folder, env: {...env, ...probe.env}, cols: 100, rows: 40, keyDelay: 0});
		const replay = createReplay(run);
		const stepShown = await (async () => {
			await run.waitFor(/Docker repository in/, {timeout: 60_000});
			return replay.until(screen => /Repository — /.test(screen) && !/✔ Repository — /.test(screen));
		})();
		await run.waitFor(/team-\d{4}/, {timeout: 60_000});
		const firstList = apiCalls.find(call => call.method === 'ListRepositories' && call.at >= run.startedAt);
		const page = await replay.until(screen => /team-\d{4}/.test(screen));
		const stepStart = Math.min(stepShown?.at ?? Number.POSITIVE_INFINITY, firstList?.at ?? Number.POSITIVE_INFINITY);
		firstPage.push(page!.at - stepStart);
		fromStart.push(page!.at - run.startedAt);

		// Everything loaded: the count says so (a plain select shows them all at once).
		filterable = (await run.screen()).some(line => line.includes('Filter:'));
		if (filterable) {
			const loaded = (screen: string) => !/loading/.test(screen) && Number((matchCount(screen) ?? '0').replaceAll(',', '')) >= REPOSITORIES;
			const deadline = Date.now() + 60_000;
			while (!loaded((await run.screen()).join('\n')) && Date.now() < deadline) await sleep(20);
			const all = await replay.until(loaded);
			allLoaded.push((all?.at ?? Number.NaN) - stepStart);
		} else {
			allLoaded.push(page!.at - stepStart);
		}

		// ↓: the pointer moves (any list).
		for (let move = 0; move < 5; move++) {
			const before = focusedOption(currentQuestion(await run.screen())?.body ?? []);
			const pressed = Date.now();
			await run.press(KEY.down);
			const deadline = Date.now() + 3000;
			let now = before;
			while (now === before && Date.now() < deadline) {
				await sleep(5);
				now = focusedOption(currentQuestion(await run.screen())?.body ?? []);
			}

			const drawn = await replay.until(screen => focusedOption(currentQuestion(screen.split('\n'))?.body ?? []) === now, pressed);
			if (drawn && now !== before) moveLatency.push(drawn.at - pressed);
			await sleep(100);
		}

		// Typing a filter, one key at a time, as a person types.
		if (filterable) {
			let query = '';
			for (const character of REPOSITORY) {
				query += character;
				const pressed = Date.now();
				await run.press(character);
				await run.waitFor(`Filter: ${query}`, {timeout: 5000});
				const drawn = await replay.until(screen => screen.includes(`Filter: ${query}`), pressed);
				if (drawn) filterLatency.push(drawn.at - pressed);
				await sleep(60);
			}

			await run.waitFor(new RegExp(`› ${REPOSITORY}`), {timeout: 5000});
		}

		await run.press(KEY.enter);
		await drive(run, {
			answers: [[/^Write .*\?$/, {confirm: true}]],
			until: /Your image is in Artifact Registry|Your ImageSpec is ready|Your image was already/,
			timeout: 120_000,
		});
		const exit = await run.waitForExit(30_000);
		if (exit.exitCode !== 0) throw new Error(`full run exited ${exit.exitCode}:\n${(await run.history()).join('\n')}`);
		const peak = (await probe.read()).find(record => record.event === 'exit' && record.maxRssKb);
		if (peak?.maxRssKb) rss.push(peak.maxRssKb / 1024);
		await rm(folder, {recursive: true, force: true});
	}

	if (wanted('listing')) {
		const n = REPOSITORIES.toLocaleString('en-US');
		rows.push({
			id: 'list-first-page',
			label: `repository list (${n}): first page on screen`,
			value: median(firstPage),
			unit: 'ms',
			note: `from the repository step's start; from process start: ${Math.round(median(fromStart))} ms`,
			samples: firstPage,
		});
		rows.push({
			id: 'list-all',
			label: `repository list (${n}): all loaded`,
			value: median(allLoaded),
			unit: 'ms',
			note: filterable ? 'the count on screen stops saying "loading"' : 'a plain select: shown only once all are loaded',
			samples: allLoaded,
		});
		const sortedFilter = [...filterLatency].sort((a, b) => a - b);
		rows.push({
			id: 'list-filter-keystroke',
			label: `filter keystroke → frame (${n})`,
			value: filterable && filterLatency.length > 0 ? median(filterLatency) : null,
			unit: 'ms',
			target: '≤ 50 ms',
			met: filterable && filterLatency.length > 0 ? median(filterLatency) <= 50 : undefined,
			note: filterable
				? `max ${Math.round(sortedFilter.at(-1) ?? 0)} ms over ${filterLatency.length} keys`
				: 'n/a: the list has no filter (source/ui/filter-select.tsx not in this build)',
			samples: filterLatency,
		});
		rows.push({
			id: 'list-move-keystroke',
			label: `↓ keystroke → frame (${n})`,
			value: moveLatency.length > 0 ? median(moveLatency) : null,
			unit: 'ms',
			note: `max ${Math.round(Math.max(...moveLatency, 0))} ms`,
			samples: moveLatency,
		});
	}

	if (wanted('rss')) {
		rows.push({
			id: 'rss-interactive',
			label: `peak RSS, interactive full run (${REPOSITORIES.toLocaleString('en-US')}-repository list${flytekitBase ? ', build, push' : ', no build'})`,
			value: rss.length > 0 ? Math.max(...rss) : null,
			unit: 'MB',
			target: '≤ 150 MB',
			met: rss.length > 0 ? Math.max(...rss) <= 150 : undefined,
			note: 'the node process only (gcloud and docker are children); max over runs',
			samples: rss,
		});
	}
}

if (wanted('rss')) {
	log('non-interactive full run');
	const probe = await makeProbe(sandbox.root, false);
	const args = ['--yes', '--json', '--image', 'plain-run', ...buildArgs(), '--commands', `echo ${Date.now()}`];
	const run = await cli(args, sandbox.project, probe.env);
	if (run.code !== 0) throw new Error(`non-interactive run failed (${run.code}): ${run.stderr}`);
	const peak = (await probe.read()).find(record => record.event === 'exit')?.maxRssKb;
	rows.push({
		id: 'rss-json',
		label: `peak RSS, non-interactive full run (--yes --json${flytekitBase ? ', build, push' : ', no build'})`,
		value: peak ? peak / 1024 : null,
		unit: 'MB',
		target: '≤ 150 MB',
		met: peak ? peak / 1024 <= 150 : undefined,
	});
}

// -------------------------------------------------------------------------------------------
// 6. status: a module of 20 images against a repository of 2,000, against gcloud's listing.

const STATUS_IMAGES = 20;
const STATUS_REPOSITORY_IMAGES = 2000;
const apiCallsBetween = (start: number, end: number, method: string) =>
	apiCalls.filter(call => call.method === method && call.at >= start && call.at <= end).length;
const writeModuleOf = async (folder: string, specs: ImageSpec[]) => {
	const declarations = specs.map(spec =>
		[
			`${spec.name.replaceAll('-', '_')}_image = union.ImageSpec(`,
			`    name="${spec.name}",`,
			`    python_version="${spec.python_version}",`,
			`    registry="${spec.registry}",`,
			`    base_image="${String(spec.base_image)}",`,
			`    commands=[${(spec.commands ?? []).map(command => JSON.stringify(command)).join(', ')}],`,
			')',
		].join('\n'),
	);
	await writeFile(path.join(folder, 'image_specs.py'), `# Managed by imagespec-gar\nimport union\n\n${declarations.join('\n\n')}\n`);
};

if (wanted('status')) {
	log(`status: ${STATUS_IMAGES} images, a repository of ${STATUS_REPOSITORY_IMAGES.toLocaleString('en-US')}`);
	const repositoryName = `projects/${PROJECT}/locations/${LOCATION}/repositories/status-bench`;
	fake.addRepository(PROJECT, LOCATION, 'status-bench');
	const folder = await freshFolder();
	const specs: ImageSpec[] = Array.from({length: STATUS_IMAGES}, (_, index) => ({
		name: `model-${String(index).padStart(2, '0')}`,
		python_version: '3.12',
		registry: `${registryHost}/${PROJECT}/status-bench`,
		base_image: baseImage,
		commands: [`echo ${index}`],
	}));
	await writeModuleOf(folder, specs);
	// Half the module is pushed at its current tag; the rest of the 2,000 are other images.
	const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
	const seeded: SeededDockerImage[] = [];
	for (const [index, spec] of specs.entries()) {
		if (index % 2 === 0) seeded.push({image: spec.name, digest: digestOf(index + 1), tags: [await computeTag(spec, {baseDir: folder})], sizeBytes: 1e6});
	}
	for (let index = seeded.length; index < STATUS_REPOSITORY_IMAGES; index++) {
		seeded.push({image: `other/image-${String(index).padStart(4, '0')}`, digest: digestOf(100_000 + index), tags: ['v1']});
	}
	fake.seedDockerImages(repositoryName, seeded);
	seededImages.set(repositoryName, seeded);

	const ours: number[] = [];
	const theirs: number[] = [];
	let calls = 0;
	let restCalls = 0;
	let counts = '';
	const gcloudEnv = {...env, CLOUDSDK_API_ENDPOINT_OVERRIDES_ARTIFACTREGISTRY: rest.url};
	for (let index = 0; index < RUNS + 1; index++) {
		const started = Date.now();
		const run = await cli(['status', '--location', LOCATION, '--json'], folder);
		if (run.code !== 1) throw new Error(`status should exit 1 (half missing), got ${run.code}: ${run.stderr}`);
		calls = apiCallsBetween(started, Date.now(), 'ListDockerImages');
		const report = JSON.parse(run.stdout) as {images: Array<{state: string}>};
		counts = ['pushed', 'missing'].map(state => `${report.images.filter(row => row.state === state).length} ${state}`).join(', ');
		const before = rest.calls();
		const listArgs = ['artifacts', 'docker', 'images', 'list', `${LOCATION}-docker.pkg.dev/${PROJECT}/status-bench`, '--include-tags', '--format=json'];
		const listing = await timed('gcloud', listArgs, gcloudEnv);
		if (listing.code !== 0) throw new Error(`gcloud artifacts docker images list failed: ${listing.stderr}`);
		restCalls = rest.calls() - before;
		if (index === 0) continue;
		ours.push(run.ms);
		theirs.push(listing.ms);
	}
	const value = median(ours);
	rows.push({
		id: 'status',
		label: `status: ${STATUS_IMAGES} images, repository of ${STATUS_REPOSITORY_IMAGES.toLocaleString('en-US')}`,
		value,
		unit: 'ms',
		baseline: {label: 'gcloud artifacts docker images list --include-tags', value: median(theirs)},
		ratio: median(theirs) / value,
		note:
			`${calls} ListDockerImages call${calls === 1 ? '' : 's'} per status (pages of 1,000; ${counts}); ` +
			`gcloud made ${restCalls} REST calls (its default pages) and still leaves the 20 tags to compute and compare by hand`,
		samples: ours,
	});
}

// -------------------------------------------------------------------------------------------
// 7. build --all: 4 small images, --jobs 2 against one after another (--jobs 1).

// Builds run the image once (import flytekit) before the push: they need a base with Python and flytekit.
// The load after the figures that others' work would inflate: build --all's own two parallel builds load both
// cores of a small machine, which says nothing about whether it was quiet.
const loadBeforeOwnBuilds = os.loadavg()[0]!;
if (wanted('build-all') && !flytekitBase) log(`build --all: skipped (${noBuildsWhy})`);
if (wanted('build-all') && flytekitBase) {
	log('build --all: 4 images, --jobs 2 and --jobs 1');
	const folder = await freshFolder();
	const buildAll = async (jobs: number) => {
		// New commands each time: new tags, so every image is missing and really built.
		const nonce = `${Date.now()}-${jobs}`;
		const specs: ImageSpec[] = Array.from({length: 4}, (_, index) => ({
			name: `small-${index}`,
			python_version: '3.11',
			registry: `${registryHost}/${PROJECT}/${REPOSITORY}`,
			base_image: flytekitBase,
			commands: [`echo ${nonce}-${index} > /built`],
		}));
		await writeModuleOf(folder, specs);
		const run = await cli(['build', '--all', '--jobs', String(jobs), '--location', LOCATION, '--json'], folder);
		if (run.code !== 0) throw new Error(`build --all --jobs ${jobs} failed (${run.code}): ${run.stderr}`);
		const report = JSON.parse(run.stdout) as {images: Array<{outcome: string}>};
		if (report.images.filter(row => row.outcome === 'pushed').length !== 4) throw new Error(`build --all --jobs ${jobs} did not push 4 images: ${run.stdout}`);
		return run.ms;
	};
	const parallel: number[] = [];
	const serial: number[] = [];
	// Builds are slow: at most 3 pairs, after one warm pair (base image layers in the engine's cache).
	for (let index = 0; index < Math.min(RUNS, 3) + 1; index++) {
		const two = await buildAll(2);
		const one = await buildAll(1);
		if (index === 0) continue;
		parallel.push(two);
		serial.push(one);
	}
	rows.push({
		id: 'build-all',
		label: 'build --all: 4 small images, --jobs 2',
		value: median(parallel),
		unit: 'ms',
		baseline: {label: 'the same, one after another (--jobs 1)', value: median(serial)},
		ratio: median(serial) / median(parallel),
		note: 'each image built, pushed and proven in Artifact Registry; both runs in the same engine with a warm layer cache',
		samples: parallel,
	});
}

// -------------------------------------------------------------------------------------------
// The table

// Every row with a target is printed, measured or not: a section that could not run says so.
const targets: Array<{section: string; id: string; label: string; target: string; why: string}> = [
	{section: 'startup', id: 'startup-question', label: 'start-up → first question on screen', target: '≤ 600 ms', why: 'no question reached'},
	{section: 'version', id: 'version', label: '--version', target: '≤ 2× bare node', why: ''},
	{
		section: 'first-run',
		id: 'first-run',
		label: 'first run, non-interactive: build + push of a small image',
		target: '≤ 1.1× the commands by hand',
		why: noBuildsWhy,
	},
	{
		section: 'rerun',
		id: 'existence-check',
		label: 'is the tag pushed, when Artifact Registry cannot answer',
		target: '≤ 1000 ms',
		why: 'no docker, so no registry',
	},
];
for (const missing of targets.filter(target => wanted(target.section) && !rows.some(row => row.id === target.id))) {
	rows.push({id: missing.id, label: missing.label, value: null, unit: 'ms', target: missing.target, note: `not measured: ${missing.why}`});
}

const format = (value: number | null, unit: Row['unit']) =>
	value === null ? 'n/a' : unit === 'MB' ? `${value.toFixed(0)} MB` : value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
const verdict = (row: Row) => (row.target === undefined ? '' : row.value === null || row.met === undefined ? 'not measured' : row.met ? 'met' : 'NOT MET');
const table = [
	['measure', 'median', 'against', 'ratio', 'target', ''],
	...rows.map(row => [
		row.label,
		format(row.value, row.unit),
		row.baseline ? `${row.baseline.label}: ${format(row.baseline.value, row.unit)}` : '',
		row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×`,
		row.target ?? '',
		verdict(row),
	]),
];
const widths = table[0]!.map((_, column) => Math.min(column === 2 ? 64 : 70, Math.max(...table.map(line => line[column]!.length))));
const cell = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));
process.stdout.write(
	`\n${table
		.map(line =>
			line
				.map((text, column) => cell(text, widths[column]!))
				.join('  ')
				.trimEnd(),
		)
		.join('\n')}\n`,
);
process.stdout.write('\n');
for (const row of rows.filter(row => row.note)) process.stdout.write(`${row.id}: ${row.note}\n`);

const cores = os.cpus().length;
const loadAtEnd = loadBeforeOwnBuilds;
const result = {
	when: new Date().toISOString(),
	cli: CLI,
	node: process.version,
	cpus: cores,
	cpuModel: os.cpus()[0]?.model,
	runs: RUNS,
	repositories: REPOSITORIES,
	docker: Boolean(engine),
	loadAverage: {start: loadAtStart, end: loadAtEnd},
	rows,
};
process.stdout.write(
	`\nnode ${process.version}, ${cores} × ${os.cpus()[0]?.model ?? 'cpu'}, load average ${loadAtStart.toFixed(1)} → ${loadAtEnd.toFixed(1)} (1 min; the end read before build --all's own builds)\n`,
);
// Figures from a machine busier than its cores are a measure of the other work: never the record.
if (Math.max(loadAtStart, loadAtEnd) > cores) {
	process.stdout.write(
		`${options.out} NOT written: the load average (${loadAtStart.toFixed(1)} → ${loadAtEnd.toFixed(1)}) exceeded the ${cores} cores; rerun on a quiet machine.\n`,
	);
} else {
	await writeFile(options.out, `${JSON.stringify(result, null, '\t')}\n`);
	process.stdout.write(`written: ${options.out}\n`);
}

rest.stop();
// A stop that never settles must not keep the table from being final.
await Promise.race([Promise.all([fake.stop(), registry?.stop(), baseRegistry?.stop()]), sleep(3000)]);
await sandbox.cleanup();
process.exit(0);
