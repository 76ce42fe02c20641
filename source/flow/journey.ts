import path from 'node:path';
import type {Flags} from '../flags.js';
import {validateRepositoryId, type ArtifactRegistry, type RepositoryRef} from '../services/artifact-registry.js';
import {configureDocker} from '../services/gcloud.js';
import {CancelledError, StepError, UsageError} from '../services/errors.js';
import type {ServiceContext} from '../services/context.js';
import {DEFAULT_PLATFORM, registryHostOfLocation} from '../services/imagespec.js';
import {SECRET_FIX, secretWarning, secretsInFlags} from '../services/secrets.js';
import {usageLines} from '../services/usage.js';
import {SDKS, detectSdk} from '../services/sdk.js';
import {runFlyteSteps} from '../steps/flyte-journey.js';
import {KNOWN_LOCATIONS, validateLocation} from '../services/locations.js';
import {projectFolder, type AnswerStore} from '../services/store.js';
import {buildImage, chooseBuilder, findInRepository, localBuildCertain} from '../steps/build.js';
import type {StepContext} from '../steps/context.js';
import {authorImageSpec, validateImageFlags, type AuthoredSpec} from '../steps/imagespec.js';
import {checkFlagFiles} from '../steps/flag-files.js';
import {missingImages} from '../steps/images.js';
import {checkPrerequisites} from '../steps/prerequisites.js';
import {chooseProjectAndLocation, validateProjectId} from '../steps/project.js';
import {checkPushPermission, chooseRepository, validateRepositoryFlags} from '../steps/repository.js';
import {grantDataPlaneAccess} from '../steps/access.js';
import {validateServiceAccount} from '../services/repository-iam.js';
import {chooseRerunAction, findKnownSetup, planRerun, resolveAnswers, toSavedImage} from '../steps/setup.js';
import {answer, lastImage} from './answers.js';
import {createAsker, type Asker} from './ask.js';
import type {JourneyResult, Reporter, StepId} from './events.js';
import {dryRunRegistry, plan, planDockerAuth, type PlannedChange} from './plan.js';

export type JourneyOptions = {
	flags: Flags;
	cwd: string;
	ctx: ServiceContext & {signal: AbortSignal};
	ask: Asker;
	report: Reporter;
	store: AnswerStore;
	/** The view's first frame: the client's load (it blocks the event loop) waits for it. */
	viewReady?: Promise<unknown>;
};

/** The first flag in FLAG_RULES whose value is invalid, as a usage error naming it. */
export function rejectInvalidFlags(flags: Flags): void {
	for (const [key, flag, validate] of FLAG_RULES) {
		const value = flags[key];
		const problem = typeof value === 'string' ? validate(value) : undefined;
		if (problem) throw new UsageError(`--${flag} ${JSON.stringify(value)} is invalid: ${problem}`, flag);
	}
}

/** Flags whose values can be judged before any work starts. */
const FLAG_RULES: Array<[keyof Flags, string, (value: string) => string | undefined]> = [
	['project', 'project', validateProjectId],
	['location', 'location', validateLocation],
	['repository', 'repository', validateRepositoryId],
	['builder', 'builder', value => (value === 'local' || value === 'union' ? undefined : 'use local or union')],
	['dataPlaneSa', 'data-plane-sa', validateServiceAccount],
	['sdk', 'sdk', value => ((SDKS as readonly string[]).includes(value) ? undefined : `use ${SDKS.join(', ')}`)],
];

/**
 * The wizard, in the order the user lives it. Every answer goes through `ask` (flag, person,
 * saved answer or default), every status through `report`, and answers are saved after each step.
 */
export async function runJourney(options: JourneyOptions): Promise<JourneyResult> {
	const {ctx, ask, flags} = options;
	// --dry-run: every read runs, nothing changes; each change is reported as a plan entry instead.
	const planned: PlannedChange[] = [];
	const report: Reporter = event => {
		if (event.type === 'plan') planned.push(event.change);
		options.report(event);
	};
	const store: AnswerStore = flags.dryRun ? {...options.store, save() {}} : options.store;
	const env = ctx.platform.env;
	const where = {cwd: options.cwd, folder: projectFolder(options.cwd)};
	const result: JourneyResult = {ok: false, pushed: false};

	// Before anything reads them (a FIFO would block the run, a path outside the project leak).
	await checkFlagFiles({flags, ...where});
	// A rerun starts from the saved answers; a new team member from the team's module.
	const saved = store.load();
	const known = await findKnownSetup({flags, saved, ctx, ...where});
	// After the rerun menu, the context its plan makes (new answers, maybe no one asked).
	let c: StepContext = {...resolveAnswers(flags, saved, known), ...where, ctx, ask, report};
	await validateFlags(c);
	if (store.problem)
		report({
			type: 'note',
			level: 'warn',
			text: `Saved answers in ${store.path} could not be read (${store.problem}); going on from defaults, and the file is left as it is.`,
		});
	if (known?.source === 'module') {
		report({
			type: 'note',
			level: 'info',
			text: `Found your team's setup in ${path.relative(options.cwd, known.moduleFile) || known.moduleFile}: ${known.project} · ${known.location} · ${known.repository}. Checking this machine and your access to it.`,
		});
	}

	const step = async <T>(id: StepId, work: () => Promise<T>): Promise<T> => {
		if (ctx.signal.aborted) throw new CancelledError();
		report({type: 'step', step: id, status: 'running'});
		try {
			const value = await work();
			// A service may finish (or swallow the abort) after Ctrl-C: never start the next step.
			if (ctx.signal.aborted) throw new CancelledError();
			return value;
		} catch (error) {
			// The step ends on screen as cancelled, not as a spinner left turning above the resume line.
			if (ctx.signal.aborted || error instanceof CancelledError) {
				report({type: 'step', step: id, status: 'cancelled'});
				throw new CancelledError();
			}

			report({
				type: 'step',
				step: id,
				status: 'failed',
				detail: error instanceof Error ? error.message : String(error),
				fix: error instanceof StepError ? error.fix : undefined,
			});
			throw error;
		}
	};

	const finished = (id: StepId, status: 'done' | 'skipped', detail: string) => report({type: 'step', step: id, status, detail});

	// Loading the client blocks the event loop ~0.2-0.5 s: the checks open it once their processes
	// run and after the view's first frame, not once a question is up (keys typed meanwhile arrive
	// as one chunk, and Enter is lost as a paste).
	let opening: Promise<ArtifactRegistry> | undefined;
	const openRegistry = async (): Promise<ArtifactRegistry> => {
		if (!opening) {
			opening = Promise.resolve(options.viewReady)
				.then(async () => import('../services/artifact-registry.js'))
				.then(async ({openArtifactRegistry}) => openArtifactRegistry(ctx))
				.then(registry => (flags.dryRun ? dryRunRegistry(registry, report) : registry));
			opening.catch(() => undefined); // Awaited, and its failure reported, in the steps that use it.
		}

		return opening;
	};

	// 1. Prerequisites (docker is required only when a local build is certain: a person without
	// docker is offered Union's builder instead)
	const {checks, gcloud, docker} = await step('checks', async () =>
		checkPrerequisites(c, {docker: localBuildCertain(c), adc: !env.IMAGESPEC_GAR_API_ENDPOINT, registry: openRegistry}),
	);
	result.checks = checks;
	finished('checks', 'done', `${checks.filter(check => check.status === 'ok').length} of ${checks.length} ok`);

	// 2. Project and location (a rerun first offers the saved setup: adding an image is one Enter away)
	let buildMissing: string[] | undefined;
	const {project, location} = await step('project', async () => {
		// Flags that say something else than the known setup mean the person already chose.
		const chosen =
			known &&
			(flags.image !== undefined || (['project', 'location', 'repository'] as const).some(key => flags[key] !== undefined && flags[key] !== known[key]));
		if (known && ask.interactive && !chosen) {
			// The menu offers to build what the repository lacks; a status that cannot answer offers nothing.
			const missing = await missingImages(c, known.moduleFile, openRegistry).catch(() => []);
			const rerun = planRerun(c, known, await chooseRerunAction(c, known, missing));
			buildMissing = rerun.buildImages;
			c = {...c, ...rerun.answers, ask: rerun.asked ? c.ask : createAsker(undefined, ctx.signal)};
		}
		return chooseProjectAndLocation(c, {gcloudProject: gcloud.project, registry: openRegistry()});
	});
	Object.assign(result, {project, location});
	store.save(answers => ({...answers, project, location}));
	finished('project', 'done', `${project} · ${location}`);
	if (buildMissing) {
		// `imagespec-gar build` takes over once the wizard's view has closed (main.tsx).
		for (const id of ['repository', 'access', 'docker-auth', 'imagespec', 'build'] as const) finished(id, 'skipped', 'building every missing image instead');
		return {...result, ok: true, repository: known?.repository, buildImages: buildMissing};
	}

	// 3. Repository
	const {repository, created} = await step('repository', async () => chooseRepository(c, {project, location, registry: await openRegistry()}));
	Object.assign(result, {repository, repositoryCreated: created});
	store.save(answers => ({...answers, repository}));
	const willCreate = planned.some(change => change.kind === 'create-repository');
	finished('repository', 'done', created ? `${repository} (created)` : willCreate ? `${repository} (--dry-run: would be created)` : repository);

	// 3b. A Union data plane in another project may pull from the repository
	const access = await step('access', async () => grantDataPlaneAccess(c, {project, location, repository, registry: await openRegistry()}));
	result.dataPlaneAccess = {status: access.status, serviceAccount: access.serviceAccount, fix: access.fix};
	if (access.saved) store.save(answers => ({...answers, dataPlane: access.saved}));
	finished('access', access.done ? 'done' : 'skipped', access.detail);

	// 4. Docker authentication for the repository's host
	const host = registryHostOfLocation(location, env.IMAGESPEC_GAR_REGISTRY_HOST);
	const auth = await step('docker-auth', async () => {
		if (!flags.dryRun) return configureDocker(ctx, host);
		const change = await planDockerAuth(ctx, host);
		if (change) report(plan(change));
		return {changed: false, planned: change !== undefined};
	});
	if (!flags.dryRun) store.save(answers => ({...answers, dockerAuth: host}));
	if ('planned' in auth && auth.planned) finished('docker-auth', 'skipped', `--dry-run: ${host} not configured`);
	else if (auth.changed) finished('docker-auth', 'done', `${host} → gcloud credential helper`);
	else finished('docker-auth', 'skipped', `${host} already uses the gcloud credential helper`);

	// 5-6 for Flyte 2: the flyte.Image module, flyte's URI and flyte's own builder.
	if ((c.flags.sdk ?? (await detectSdk(c.folder))) === 'flyte') {
		return runFlyteSteps(c, {project, location, repository, account: gcloud.account}, result, {step, finished, openRegistry, save: store.save});
	}

	// 5. The ImageSpec module and the tag flytekit will compute (the builder is part of the spec)
	const authored = await step('imagespec', async () => {
		// A person is asked only when the run builds; a declared builder changes only when chosen.
		const chosen = c.flags.builder !== undefined || (c.ask.interactive && c.flags.build);
		const builder = await chooseBuilder(c, {docker});
		return authorImageSpec(c, {project, location, repository, builder, builderChosen: chosen});
	});
	const builder = authored.spec.builder === 'union' ? 'union' : 'local';
	Object.assign(result, {registry: authored.spec.registry, image: authored.spec.name, tag: authored.tag, imageUri: authored.uri, specFile: authored.specFile});
	store.save(answers => ({
		...answers,
		output: c.flags.output ? authored.moduleFile : answers.output,
		images: {
			...answers.images,
			[authored.spec.name]: {...toSavedImage(authored.spec, authored.tag, authored.uri, authored.moduleFile), builder},
		},
	}));
	finished('imagespec', 'done', authored.uri);

	// 6. Build and push, then proof
	if (!c.flags.build || builder === 'union') {
		// Not building now: still tell whether the cluster would find the image today.
		const there = await findInRepository(c, authored, {project, location, repository}, openRegistry).catch(() => undefined);
		result.inRepository = there?.state === 'present' ? true : there?.state === 'absent' ? false : undefined;
		const now = result.inRepository ? 'already in the repository' : result.inRepository === false ? 'not in the repository yet' : 'not checked';
		finished('build', 'skipped', builder === 'union' ? `builder="union": Union builds the image when you register (${now})` : `--no-build: not built (${now})`);
	} else if (flags.dryRun) {
		await step('build', async () => planBuild(c, authored, {project, location, repository, account: gcloud.account}, openRegistry));
	} else {
		const built = await step('build', async () => {
			// Before any build: a push that cannot succeed is said now, not after minutes of building.
			await checkPushPermission(c, await openRegistry(), {project, location, repository, account: gcloud.account, imageUri: authored.uri});
			return buildImage(c, authored, {project, location, repository}, openRegistry);
		});
		Object.assign(result, {pushed: built.pushed, digest: built.digest, buildSkipped: built.skipped, logFile: built.logFile, inRepository: true});
		if (built.skipped) finished('build', 'skipped', `${authored.uri} is ${built.skipped}`);
		else finished('build', 'done', `pushed ${built.digest ?? ''}`.trim());
	}

	if (flags.dryRun) {
		report(
			plan({
				kind: 'save-answers',
				step: 'build',
				summary: `remember this setup for ${c.folder} in ${options.store.path}`,
				data: {file: options.store.path, folder: c.folder, project, location, repository, image: authored.spec.name},
			}),
		);
		Object.assign(result, {dryRun: true, plan: planned});
	}

	result.ok = true;
	result.nextCommand = authored.specFile ? `union register ${path.relative(options.cwd, c.folder) || '.'}` : undefined;
	result.usage = usageLines({sdk: authored.sdk, moduleFile: authored.moduleFile, folder: c.folder, variable: authored.variable});
	return result;
}

/**
 * --dry-run's build step: whether the tag is already there (a read); if not (or --force), the
 * build and push it would run. Nothing is built.
 */
async function planBuild(c: StepContext, authored: AuthoredSpec, where: RepositoryRef & {account?: string}, openRegistry: () => Promise<ArtifactRegistry>) {
	await checkPushPermission(c, await openRegistry(), {...where, imageUri: authored.uri});
	const there = c.flags.force ? undefined : await findInRepository(c, authored, where, openRegistry);
	if (there?.state === 'present') {
		c.report({type: 'step', step: 'build', status: 'skipped', detail: `${authored.uri} is already in the repository: nothing to build`});
		return;
	}

	const platform = authored.spec.platform ?? DEFAULT_PLATFORM;
	c.report(
		plan({
			kind: 'build-push',
			step: 'build',
			summary: `build ${authored.uri} (${platform}) and push it`,
			content: [`docker build --platform ${platform} -t ${authored.uri} ${c.folder}`, `docker push ${authored.uri}`].join('\n'),
			data: {imageUri: authored.uri, platform, context: c.folder, force: c.flags.force, inRepository: there?.state ?? 'unknown'},
		}),
	);
	c.report({type: 'step', step: 'build', status: 'skipped', detail: `--dry-run: ${authored.uri} not built`});
}

/** Invalid or missing flags fail before any work, with the flag named (exit 2). */
async function validateFlags(c: StepContext) {
	const {flags, ask} = c;
	rejectInvalidFlags(flags);

	for (const [a, b] of [
		['json', 'plain'],
		['force', 'build'],
	] as const) {
		// --force with --no-build: build is false when --no-build was given.
		const clash = a === 'force' ? flags.force && !flags.build : flags[a] && flags[b];
		if (clash) throw new UsageError(`--${a} and --${b === 'build' ? 'no-build' : b} cannot be used together`, a);
	}

	validateImageFlags(flags);
	// A script cannot be asked whether it means to publish a secret: it says so with a flag.
	const secrets = flags.allowSecrets ? [] : secretsInFlags(flags);
	if (secrets.length > 0 && !ask.interactive) throw new UsageError(`${secretWarning(secrets, 'the module')} ${SECRET_FIX}`, 'allow-secrets');
	validateRepositoryFlags(flags);
	if (flags.location !== undefined) await rejectUnknownLocation(c, flags.location);
	// Non-interactive runs fail fast on what no flag, saved answer or default can supply.
	if (!ask.interactive) {
		const missing = (
			[
				['location', answer(c, 'location')],
				['repository', answer(c, 'repository')],
				['image', flags.image ?? lastImage(c)?.name],
			] as const
		).find(([, value]) => value === undefined);
		if (missing) throw new UsageError(`Missing --${missing[0]}: nothing saved for this project folder either`, missing[0]);
	}
}

/**
 * `us-east99` has the shape of a region but is none: catch it before anything is created.
 * A location newer than our list is accepted when the live list (the API) knows it.
 */
async function rejectUnknownLocation(c: StepContext, location: string) {
	if (KNOWN_LOCATIONS.includes(location)) return;
	const project = answer(c, 'project');
	const live = project
		? await import('../services/artifact-registry.js')
				.then(async ({openArtifactRegistry}) => (await openArtifactRegistry(c.ctx)).listLocations(project, c.ctx.signal))
				.catch(() => KNOWN_LOCATIONS)
		: KNOWN_LOCATIONS;
	if (live.includes(location)) return;
	const family = location.replace(/\d+$/, '');
	const near = live.filter(known => known.startsWith(family));
	throw new UsageError(
		`--location ${JSON.stringify(location)} is not an Artifact Registry location${near.length > 0 ? `; did you mean ${near.join(', ')}?` : ` (e.g. ${KNOWN_LOCATIONS.slice(3, 6).join(', ')})`}`,
		'location',
	);
}
