import {readFile} from 'node:fs/promises';
import {existsSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {Flags} from '../flags.js';
import type {ArtifactRegistry, Repository} from '../services/artifact-registry.js';
import {runChecks} from '../services/checks.js';
import {configureDocker} from '../services/gcloud.js';
import {buildAndPush, imageExists} from '../services/docker.js';
import {CancelledError, StepError, UsageError} from '../services/errors.js';
import type {ServiceContext} from '../services/context.js';
import {
	composeRegistry,
	computeTag,
	defaultBaseImage,
	imageUri as composeImageUri,
	registryHost,
	validateImageName,
	validatePythonVersion,
	validateSpec,
	DEFAULT_PLATFORM,
	SUPPORTED_PYTHON_VERSIONS,
	type ImageSpec,
} from '../services/imagespec.js';
import {KNOWN_LOCATIONS, validateLocation} from '../services/locations.js';
import {planModuleUpdate, renderDeclaration, writeFileAtomic} from '../services/spec-module.js';
import {projectFolder, type AnswerStore, type ProjectAnswers} from '../services/store.js';
import {validateRepositoryId} from '../services/artifact-registry.js';
import {splitList} from '../flags.js';
import type {Asker} from './ask.js';
import type {JourneyResult, Reporter, StepId} from './events.js';

export type JourneyOptions = {
	flags: Flags;
	cwd: string;
	ctx: ServiceContext & {signal: AbortSignal};
	ask: Asker;
	report: Reporter;
	store: AnswerStore;
};

export const DEFAULT_PYTHON_VERSION = '3.12';
export const DEFAULT_MODULE = 'image_specs.py';
const NEW_REPOSITORY = '\u0000new';

/** GCP project ids (and the legacy domain-scoped form `example.com:proj`). */
export const validateProjectId = (id: string): string | undefined =>
	/^(?:[a-z\d.-]+\.[a-z]{2,}:)?[a-z][a-z\d-]{4,28}[a-z\d]$/.test(id)
		? undefined
		: 'project ids are 6-30 lowercase letters, digits and hyphens, start with a letter and do not end with a hyphen';

/**
 * The wizard, in the order the user lives it. Every answer goes through `ask` (flag, person,
 * saved answer or default), every status through `report`, and answers are saved after each step.
 */
export async function runJourney(options: JourneyOptions): Promise<JourneyResult> {
	const {flags, ctx, ask, report, store} = options;
	const env = ctx.platform.env;
	const folder = projectFolder(options.cwd);
	const saved: ProjectAnswers = store.load();
	const result: JourneyResult = {ok: false, pushed: false};
	const builder = flags.builder ?? 'local';
	if (builder !== 'local' && builder !== 'union') throw new UsageError(`--builder ${JSON.stringify(builder)} is invalid: use local or union`, 'builder');
	const willBuild = flags.build && builder === 'local';
	const apiOverride = Boolean(env.IMAGESPEC_GAR_API_ENDPOINT);

	if (store.problem) report({type: 'note', level: 'warn', text: `Saved answers in ${store.path} could not be read (${store.problem}); going on from defaults, the file is left as it is.`});

	const step = async <T>(id: StepId, work: () => Promise<T>): Promise<T> => {
		report({type: 'step', step: id, status: 'running'});
		try {
			return await work();
		} catch (error) {
			if (ctx.signal.aborted || error instanceof CancelledError) throw error instanceof CancelledError ? error : new CancelledError();
			const fix = error instanceof StepError ? error.fix : undefined;
			report({type: 'step', step: id, status: 'failed', detail: error instanceof Error ? error.message : String(error), fix});
			throw error;
		}
	};

	const done = (id: StepId, detail?: string) => report({type: 'step', step: id, status: 'done', detail});
	const skipped = (id: StepId, detail: string) => report({type: 'step', step: id, status: 'skipped', detail});

	// Invalid flags fail before any work, with the flag named.
	if (flags.project !== undefined && validateProjectId(flags.project)) throw new UsageError(`--project ${JSON.stringify(flags.project)} is invalid: ${validateProjectId(flags.project)}`, 'project');
	if (flags.location !== undefined && validateLocation(flags.location)) throw new UsageError(`--location ${JSON.stringify(flags.location)} is invalid: ${validateLocation(flags.location)}`, 'location');
	if (flags.repository !== undefined && validateRepositoryId(flags.repository)) throw new UsageError(`--repository ${JSON.stringify(flags.repository)} is invalid: ${validateRepositoryId(flags.repository)}`, 'repository');
	if (flags.image !== undefined && validateImageName(flags.image)) throw new UsageError(`--image ${JSON.stringify(flags.image)} is invalid: ${validateImageName(flags.image)}`, 'image');
	if (flags.pythonVersion !== undefined && validatePythonVersion(flags.pythonVersion)) throw new UsageError(`--python-version ${JSON.stringify(flags.pythonVersion)} is invalid: ${validatePythonVersion(flags.pythonVersion)}`, 'python-version');
	if (flags.requirements !== undefined && flags.packages !== undefined) throw new UsageError('--packages and --requirements cannot be used together: list the packages in the requirements file', 'requirements');
	if (flags.requirements !== undefined && !existsSync(path.resolve(options.cwd, flags.requirements))) throw new UsageError(`--requirements ${JSON.stringify(flags.requirements)}: no such file`, 'requirements');

	// Non-interactive runs fail fast on what no flag, saved answer or default can supply.
	if (!ask.interactive) {
		const missing = [
			['location', flags.location ?? saved.location],
			['repository', flags.repository ?? saved.repository],
			['image', flags.image ?? Object.values(saved.images ?? {}).at(-1)?.name],
		].find(([, value]) => value === undefined);
		if (missing) throw new UsageError(`Missing --${missing[0]}: nothing saved for this project folder either`, missing[0]);
	}

	// 1. Prerequisites
	const {checks, gcloud} = await step('checks', async () => {
		report({type: 'checks-started', ids: ['gcloud', 'account', 'project', 'adc', 'docker-cli', 'docker-engine', 'credential-helper']});
		const outcome = await runChecks(
			ctx,
			{project: flags.project ?? saved.project, needDocker: willBuild, needAdc: !apiOverride},
			check => report({type: 'check', check}),
		);
		const failed = outcome.checks.filter(check => check.required && check.status === 'fail');
		if (failed.length > 0) {
			throw new StepError(`${failed.length} required prerequisite${failed.length === 1 ? '' : 's'} failed: ${failed.map(check => check.title).join(', ')}`, {
				fix: failed.map(check => check.fix).filter(Boolean).join('\n'),
				reason: 'PREREQUISITES',
			});
		}

		return outcome;
	});
	result.checks = checks;
	done('checks', `${checks.filter(check => check.status === 'ok').length}/${checks.length} ok`);

	// The client costs ~0.5 s to load: start it now, while the person answers.
	const registryClient = import('../services/artifact-registry.js').then(async ({openArtifactRegistry}) => openArtifactRegistry(ctx));
	registryClient.catch(() => undefined); // Awaited (and reported) in the repository step.

	// 2. Project and location
	const {project, location} = await step('project', async () => {
		const project = await ask.text(
			{flag: 'project', message: 'GCP project id:', default: saved.project ?? gcloud.project, validate: validateProjectId},
			flags.project,
		);
		const locations = await (async () => {
			try {
				return await (await registryClient).listLocations(project, ctx.signal);
			} catch {
				return [...KNOWN_LOCATIONS];
			}
		})();
		const location = await ask.select(
			{
				flag: 'location',
				message: 'Artifact Registry location (the same region as your Union data plane):',
				choices: locations.map(value => ({label: value, value})),
				default: saved.location ?? (ask.interactive ? 'us-central1' : undefined),
			},
			flags.location,
		);
		return {project, location};
	});
	Object.assign(result, {project, location});
	store.save(answers => ({...answers, project, location}));
	done('project', `${project} · ${location}`);

	// 3. Repository
	const {repository, created} = await step('repository', async () => {
		const ar: ArtifactRegistry = await registryClient;
		const given = flags.repository;
		let id = given;
		if (id === undefined && ask.interactive) {
			const repositories: Repository[] = [];
			for await (const page of ar.listRepositoryPages(project, location, {signal: ctx.signal})) repositories.push(...page);
			const docker = repositories.filter(repo => repo.format === 'DOCKER');
			const savedFirst = [...docker].sort((a, b) => Number(b.id === saved.repository) - Number(a.id === saved.repository));
			const choice = await ask.select({
				flag: 'repository',
				message: `Docker repository in ${project} · ${location}:`,
				choices: [
					...savedFirst.map(repo => ({label: repo.id, value: repo.id, hint: repo.description || undefined})),
					...repositories.filter(repo => repo.format !== 'DOCKER').map(repo => ({label: repo.id, value: repo.id, hint: `${repo.format}, not Docker`, disabled: true})),
					{label: '+ Create a new repository', value: NEW_REPOSITORY},
				],
				default: savedFirst[0]?.id ?? NEW_REPOSITORY,
			});
			id = choice === NEW_REPOSITORY
				? await ask.text({flag: 'repository', message: 'New repository name:', default: 'union-images', validate: validateRepositoryId})
				: choice;
		}

		id ??= await ask.text({flag: 'repository', message: 'Docker repository:', default: saved.repository, validate: validateRepositoryId});
		const existing = await ar.getRepository(project, location, id, ctx.signal);
		if (existing) {
			if (existing.format !== 'DOCKER') {
				throw new StepError(`Repository ${id} in ${project} · ${location} holds ${existing.format} packages, not Docker images`, {
					fix: 'Choose another repository name (or --repository NAME); Docker images need a DOCKER-format repository.',
					reason: 'NOT_DOCKER',
				});
			}

			return {repository: id, created: false};
		}

		const create = await ask.confirm({flag: 'repository', message: `Create Docker repository ${id} in ${project} · ${location}?`, default: true});
		if (!create) throw new StepError(`Repository ${id} does not exist in ${project} · ${location}`, {fix: 'Rerun and choose an existing repository, or let the wizard create it.'});
		const outcome = await ar.createDockerRepository(project, location, id, {signal: ctx.signal, description: 'Union / Flyte ImageSpec images (created by imagespec-gar)'});
		return {repository: id, created: outcome.created};
	});
	result.repository = repository;
	result.repositoryCreated = created;
	store.save(answers => ({...answers, repository}));
	done('repository', created ? `${repository} (created)` : repository);

	// 4. Docker authentication for the repository's host
	const host = registryHost(location, env.IMAGESPEC_GAR_REGISTRY_HOST);
	const auth = await step('docker-auth', async () => configureDocker(ctx, host));
	if (auth.changed) done('docker-auth', `${host} → gcloud credential helper`);
	else skipped('docker-auth', `${host} already uses the gcloud credential helper`);

	// 5. ImageSpec: answers, validation, the module, the tag
	const authored = await step('imagespec', async () => {
		const savedImages = Object.values(saved.images ?? {});
		const last = savedImages.at(-1);
		const name = await ask.text(
			{flag: 'image', message: 'Image name (e.g. trainer, team/trainer):', default: ask.interactive ? undefined : last?.name, validate: validateImageName},
			flags.image,
		);
		const previous = saved.images?.[name];
		const pythonVersion = await ask.select(
			{
				flag: 'python-version',
				message: 'Python version (always written into the spec, so the tag pins it):',
				choices: [...SUPPORTED_PYTHON_VERSIONS].reverse().map(value => ({label: value, value})),
				default: previous?.pythonVersion ?? DEFAULT_PYTHON_VERSION,
			},
			flags.pythonVersion,
		);
		const baseImage = await ask.text(
			{flag: 'base-image', message: 'Base image:', default: previous?.baseImage ?? defaultBaseImage(pythonVersion), validate: value => (value.trim() ? undefined : 'a base image is required')},
			flags.baseImage,
		);
		const moduleFile = path.resolve(options.cwd, flags.output ?? saved.output ?? path.join(folder, DEFAULT_MODULE));

		let requirements = flags.requirements ?? (flags.packages ? undefined : previous?.requirements);
		let packages = flags.packages ?? (requirements ? undefined : previous?.packages);
		if (requirements === undefined && packages === undefined && ask.interactive) {
			const answer = await ask.text({flag: 'packages', message: 'Python packages (comma-separated; empty for none):', default: '', placeholder: 'pandas, union'});
			packages = splitList(answer);
		}

		if (requirements !== undefined && flags.requirements !== undefined) {
			// flytekit opens the file relative to where `union register` runs: the project folder.
			requirements = path.relative(folder, path.resolve(options.cwd, requirements)).split(path.sep).join('/');
		}

		const spec: ImageSpec = {
			name,
			python_version: pythonVersion,
			builder: builder === 'union' ? 'union' : undefined,
			env: parseEnv(flags.env),
			registry: composeRegistry({location, project, repository, hostOverride: env.IMAGESPEC_GAR_REGISTRY_HOST}),
			packages: packages?.length ? packages : undefined,
			requirements,
			apt_packages: flags.aptPackages?.length ? flags.aptPackages : undefined,
			base_image: baseImage,
			platform: flags.platform ?? previous?.platform ?? DEFAULT_PLATFORM,
			pip_index: flags.pipIndex,
			pip_extra_index_url: flags.pipExtraIndexUrl.length > 0 ? flags.pipExtraIndexUrl : undefined,
			commands: flags.commands.length > 0 ? flags.commands : undefined,
			tag_format: flags.tagFormat,
		};
		const problems = validateSpec(spec);
		if (problems.length > 0) {
			const [first] = problems;
			throw new UsageError(problems.map(p => `${p.field} ${JSON.stringify(p.value)}: ${p.rule}`).join('\n'), first && flagFor(first.field));
		}

		const tag = await computeTag(spec, {baseDir: folder});
		const uri = composeImageUri(spec, tag);
		const existing = await readFile(moduleFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
			if (error.code === 'ENOENT') return undefined;
			throw error;
		});
		const plan = planModuleUpdate(existing, spec, {sdk: 'union'});
		const relative = path.relative(options.cwd, moduleFile) || moduleFile;
		let specFile: string | undefined = moduleFile;
		if (plan.kind === 'unmanaged') {
			report({type: 'code', title: `${relative} is not managed by imagespec-gar: add this yourself`, code: plan.snippet});
			report({type: 'note', level: 'warn', text: `${relative} was left untouched (it was not written by imagespec-gar). Paste the declaration above into it, or use --output to write another file.`});
			specFile = undefined;
		} else if (plan.kind === 'unchanged') {
			report({type: 'note', level: 'info', text: `${relative} already declares ${name} this way`});
		} else {
			report({type: 'code', title: `${plan.kind === 'create' ? 'Create' : plan.kind === 'add' ? 'Add to' : 'Update'} ${relative}`, code: plan.kind === 'create' ? plan.content : renderDeclaration(spec, {sdk: 'union'})});
			const write = await ask.confirm({flag: 'output', message: `Write ${relative}?`, default: true});
			if (write) await writeFileAtomic(moduleFile, plan.content);
			else {
				report({type: 'note', level: 'warn', text: `${relative} was not written; the declaration is shown above.`});
				specFile = undefined;
			}
		}

		return {spec, tag, uri, specFile, moduleFile};
	});
	Object.assign(result, {
		registry: authored.spec.registry,
		image: authored.spec.name,
		tag: authored.tag,
		imageUri: authored.uri,
		specFile: authored.specFile,
	});
	store.save(answers => ({
		...answers,
		output: flags.output ? authored.moduleFile : answers.output,
		images: {
			...answers.images,
			[authored.spec.name]: {
				name: authored.spec.name,
				tag: authored.tag,
				imageUri: authored.uri,
				specFile: authored.moduleFile,
				baseImage: authored.spec.base_image,
				pythonVersion: authored.spec.python_version,
				packages: authored.spec.packages,
				requirements: authored.spec.requirements,
				platform: authored.spec.platform,
				builder,
				updatedAt: new Date().toISOString(),
			},
		},
	}));
	done('imagespec', authored.uri);

	// 6. Build and push, then proof
	if (!flags.build) skipped('build', '--no-build: not built');
	else if (builder === 'union') skipped('build', 'builder="union": Union builds the image when you register');
	else {
		await step('build', async () => {
			const before = await imageExists(ctx, authored.uri);
			if (before.state === 'present') {
				result.buildSkipped = 'already in the repository';
				return;
			}

			const logFile = path.join(os.tmpdir(), 'imagespec-gar', `${authored.spec.name.replaceAll('/', '_')}-${authored.tag}.log`);
			result.logFile = logFile;
			report({type: 'note', level: 'info', text: `Full build log: ${logFile}`});
			const pushed = await buildAndPush(
				ctx,
				{imageRef: authored.uri, spec: authored.spec, contextDir: folder, platform: authored.spec.platform ?? DEFAULT_PLATFORM, logFile},
				event => {
					if (event.type === 'log') report({type: 'log', line: event.line});
					else if (event.type === 'step') report({type: 'build-step', text: event.text});
					else if (event.type === 'layer') report({type: 'layer', id: event.id, status: event.status, current: event.current, total: event.total});
				},
			);
			const after = await imageExists(ctx, authored.uri);
			if (after.state !== 'present') {
				throw new StepError(`Pushed ${authored.uri}, but the registry does not list it${after.detail ? ` (${after.detail})` : ''}`, {
					fix: `Check the repository: gcloud artifacts docker images list ${authored.spec.registry}`,
				});
			}

			result.pushed = true;
			result.digest = pushed.digest;
		});
		if (result.buildSkipped) skipped('build', `${authored.uri} is ${result.buildSkipped}`);
		else done('build', `pushed ${result.digest ?? ''}`.trim());
	}

	result.ok = true;
	result.nextCommand = authored.specFile
		? `union register ${path.relative(options.cwd, folder) || '.'}`
		: undefined;
	return result;
}

const parseEnv = (pairs: string[]): Record<string, string> | undefined => {
	if (pairs.length === 0) return undefined;
	const env: Record<string, string> = {};
	for (const pair of pairs) {
		const index = pair.indexOf('=');
		if (index <= 0) throw new UsageError(`--env ${JSON.stringify(pair)} is invalid: use KEY=VALUE`, 'env');
		env[pair.slice(0, index)] = pair.slice(index + 1);
	}

	return env;
};

const FIELD_FLAGS: Record<string, string> = {
	name: 'image',
	python_version: 'python-version',
	base_image: 'base-image',
	apt_packages: 'apt-packages',
	pip_index: 'pip-index',
	pip_extra_index_url: 'pip-extra-index-url',
	tag_format: 'tag-format',
};
const flagFor = (field: string) => FIELD_FLAGS[field] ?? field;
