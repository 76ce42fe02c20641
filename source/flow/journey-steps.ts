import path from 'node:path';
import type {Flags} from '../flags.js';
import type {RepositoryRef} from '../services/artifact-registry.js';
import type {ChecksOutcome} from '../services/checks.js';
import {hasBuildx} from '../services/docker.js';
import {dockerAuthDone} from '../services/docker-config.js';
import {configureDocker} from '../services/gcloud.js';
import {DEFAULT_PLATFORM, registryHostOfLocation} from '../services/imagespec.js';
import type {RegistryHandle} from '../services/registry-handle.js';
import type {ProjectAnswers, SavedDataPlane} from '../services/store.js';
import {usageLines} from '../services/usage.js';
import {grantDataPlaneAccess} from '../steps/access.js';
import {flyteBuildsRemotely, grantBuilderAccess} from '../steps/builder-access.js';
import {buildImage, chooseBuilder, findInRepository, localBuildCertain} from '../steps/build.js';
import type {StepContext} from '../steps/context.js';
import type {AuthoredFlyte} from '../steps/flyte-image.js';
import {flyteBuildStep, flyteImageStep} from '../steps/flyte-journey.js';
import {authorImageSpec, type AuthoredSpec} from '../steps/imagespec.js';
import {missingImages} from '../steps/images.js';
import {checkPrerequisites, knownRepository} from '../steps/prerequisites.js';
import {chooseProjectAndLocation} from '../steps/project.js';
import {checkPushPermission, chooseRepository} from '../steps/repository.js';
import {chooseRerunAction, planRerun, toSavedImage, type KnownSetup} from '../steps/setup.js';
import {createAsker} from './ask.js';
import type {JourneyResult, StepId} from './events.js';
import {plan, planDockerAuth, type PlannedChange} from './plan.js';

/** What the journey lends every step besides its answers. */
export type JourneyDeps = {
	/** The one Artifact Registry client: the journey opens it on first use and closes it at the end. */
	registry: RegistryHandle;
	/** --dry-run: the changes planned so far. */
	planned: readonly PlannedChange[];
	/** The saved setup, or the team's module's, a rerun starts from. */
	known?: KnownSetup;
};

/** What earlier steps found, for the later ones (the result holds what the person is told). */
export type Found = {
	gcloud?: ChecksOutcome['gcloud'];
	docker?: ChecksOutcome['docker'];
	/** Whether docker has buildx, asked beside the checks when a local build is certain. */
	buildkit?: Promise<boolean>;
	/** The repository the checks found you may push to (testIamPermissions): the build step does not ask again. */
	pushChecked?: RepositoryRef;
	project?: string;
	location?: string;
	repository?: string;
	/** Where the data plane runs, as the access step learned it (the remote builder's grants need it). */
	dataPlane?: SavedDataPlane;
	/** The image step's work: an ImageSpec (sdk union or flytekit) or a flyte.Image (sdk flyte). */
	image?: {name: string} & ({sdk: 'imagespec'; authored: AuthoredSpec} | {sdk: 'flyte'; authored: AuthoredFlyte});
	/** What the summary says to do next, once every step has succeeded. */
	next?: Pick<JourneyResult, 'nextCommand' | 'usage'>;
};

/**
 * A step that goes on beside the later ones (configure-docker beside the build): `next` now, its
 * outcome when `later` settles. Whatever needs its work waits for it (ServiceContext.dockerAuth);
 * the run ends only once it has settled.
 */
export type LaterOutcome = {later: Promise<StepOutcome>; next: StepContext};

export type StepOutcome = {
	status: 'done' | 'skipped';
	detail: string;
	found?: Found;
	/** Added to the result (only the fields the step declares in `adds`). */
	result?: Partial<JourneyResult>;
	/** Saved for the next run (only the fields the step declares in `saves`). */
	save?: (saved: ProjectAnswers) => ProjectAnswers;
	/** The rerun menu's plan: the context every later step gets. */
	next?: StepContext;
	/** Every later step is skipped, for this reason. */
	stop?: string;
};

/**
 * One step of the wizard: `(context, deps, found) → outcome`. `reads` names the answers (flags,
 * or the saved and declared answers behind them) it reads; `saves` and `adds` what it may write.
 */
export type JourneyStep = {
	id: StepId;
	reads: ReadonlyArray<keyof Flags>;
	saves: ReadonlyArray<keyof ProjectAnswers>;
	adds: ReadonlyArray<keyof JourneyResult>;
	run(c: StepContext, deps: JourneyDeps, found: Found): Promise<StepOutcome | LaterOutcome>;
};

/** What a step needs from an earlier one; missing means the table is in the wrong order (a bug). */
export const need = <K extends keyof Found>(found: Found, ...keys: K[]): Required<Pick<Found, K>> => {
	for (const key of keys) if (found[key] === undefined) throw new Error(`A step ran before the step that finds its ${key}`);
	return found as Required<Pick<Found, K>>;
};

const IMAGE_FLAGS = [
	'image',
	'baseImage',
	'pythonVersion',
	'packages',
	'requirements',
	'aptPackages',
	'env',
	'commands',
	'pipIndex',
	'pipExtraIndexUrl',
	'platform',
	'tagFormat',
	'builder',
	'output',
	'sdk',
	'allowSecrets',
] as const;

/** The wizard, in the order the user lives it (README: "What it does"). Find a step by its id. */
export const JOURNEY_STEPS: readonly JourneyStep[] = [
	{
		// Docker is required only when a local build is certain: a person without it is offered Union's builder.
		id: 'checks',
		reads: ['project', 'location', 'repository', 'builder', 'build'],
		saves: [],
		adds: ['checks'],
		async run(c, {registry}) {
			const local = localBuildCertain(c);
			// A build certain to be local asks docker for buildx now, beside the checks, not just before the build.
			const buildkit = local ? hasBuildx(c.ctx).catch(() => false) : undefined;
			const {checks, gcloud, docker} = await checkPrerequisites(c, {
				docker: local,
				adc: !c.ctx.platform.env.IMAGESPEC_GAR_API_ENDPOINT,
				registry,
			});
			const ok = checks.filter(check => check.status === 'ok').length;
			// The repository check is ok only when the repository exists and you may push to it.
			const pushChecked = checks.some(check => check.id === 'repository' && check.status === 'ok') ? knownRepository(c) : undefined;
			return {status: 'done', detail: `${ok} of ${checks.length} ok`, found: {gcloud, docker, buildkit, pushChecked}, result: {checks}};
		},
	},
	{
		// A rerun first offers the saved setup: adding an image is one Enter away.
		id: 'project',
		reads: ['project', 'location', 'repository', 'image'],
		saves: ['project', 'location'],
		adds: ['project', 'location', 'repository', 'buildImages'],
		async run(c, {registry, known}, found) {
			let next = c;
			let buildImages: string[] | undefined;
			// Flags that say something else than the known setup mean the person already chose.
			const chosen =
				known &&
				(c.flags.image !== undefined ||
					(['project', 'location', 'repository'] as const).some(key => c.flags[key] !== undefined && c.flags[key] !== known[key]));
			if (known && c.ask.interactive && !chosen) {
				// The menu offers to build what the repository lacks; a status that cannot answer offers nothing.
				const missing = await missingImages(c, known.moduleFile, registry).catch(() => []);
				const rerun = planRerun(c, known, await chooseRerunAction(c, known, missing));
				buildImages = rerun.buildImages;
				next = {...c, ...rerun.answers, ask: rerun.asked ? c.ask : createAsker(undefined, c.ctx.signal)};
			}

			const {project, location} = await chooseProjectAndLocation(next, {gcloudProject: found.gcloud?.project, registry});
			return {
				status: 'done',
				detail: `${project} · ${location}`,
				next,
				found: {project, location},
				save: saved => ({...saved, project, location}),
				// `imagespec-gar build` takes over once the wizard's view has closed (main.tsx).
				...(buildImages
					? {result: {project, location, repository: known?.repository, buildImages}, stop: 'building every missing image instead'}
					: {result: {project, location}}),
			};
		},
	},
	{
		id: 'repository',
		reads: ['repository', 'create', 'description', 'label', 'immutableTags', 'cleanup', 'dryRun'],
		saves: ['repository'],
		adds: ['repository', 'repositoryCreated'],
		async run(c, {registry, planned}, found) {
			const {project, location} = need(found, 'project', 'location');
			const {repository, created} = await chooseRepository(c, {project, location, registry: await registry.open()});
			const willCreate = planned.some(change => change.kind === 'create-repository');
			return {
				status: 'done',
				detail: created ? `${repository} (created)` : willCreate ? `${repository} (--dry-run: would be created)` : repository,
				found: {repository},
				result: {repository, repositoryCreated: created},
				save: saved => ({...saved, repository}),
			};
		},
	},
	{
		// A Union data plane in another project may pull from the repository.
		id: 'access',
		reads: ['dataPlaneSa', 'dryRun'],
		saves: ['dataPlane'],
		adds: ['dataPlaneAccess'],
		async run(c, {registry}, found) {
			const {project, location, repository} = need(found, 'project', 'location', 'repository');
			const access = await grantDataPlaneAccess(c, {project, location, repository, registry: await registry.open()});
			const dataPlane = access.saved;
			return {
				status: access.done ? 'done' : 'skipped',
				detail: access.detail,
				found: {dataPlane: dataPlane ? keepBuilderAccounts(c.saved.dataPlane, dataPlane) : c.saved.dataPlane},
				result: {dataPlaneAccess: {status: access.status, serviceAccount: access.serviceAccount, fix: access.fix}},
				save: dataPlane && (saved => ({...saved, dataPlane: keepBuilderAccounts(saved.dataPlane, dataPlane)})),
			};
		},
	},
	{
		// Docker authentication for the repository's host.
		id: 'docker-auth',
		reads: ['dryRun'],
		saves: ['dockerAuth'],
		adds: [],
		async run(c, _deps, found) {
			const host = registryHostOfLocation(need(found, 'location').location, c.ctx.platform.env.IMAGESPEC_GAR_REGISTRY_HOST);
			const already = {status: 'skipped', detail: `${host} already uses the gcloud credential helper`} as const;
			if (c.flags.dryRun) {
				const change = await planDockerAuth(c.ctx, host);
				if (!change) return already;
				c.report(plan(change));
				return {status: 'skipped', detail: `--dry-run: ${host} not configured`};
			}

			// Beside the ImageSpec step and the build (nothing they do before the push needs it): the
			// push, and a pull from this host, wait for it (services/docker-config.ts, dockerAuthDone).
			const save = (saved: ProjectAnswers) => ({...saved, dockerAuth: host});
			const later = configureDocker(c.ctx, host).then(
				({changed}): StepOutcome => (changed ? {status: 'done', detail: `${host} → gcloud credential helper`, save} : {...already, save}),
			);
			return {later, next: {...c, ctx: {...c.ctx, dockerAuth: {host, done: later}}}};
		},
	},
	{
		// The module and the tag its SDK computes (the builder is part of an ImageSpec).
		id: 'imagespec',
		reads: IMAGE_FLAGS,
		saves: ['output', 'images'],
		adds: ['sdk', 'registry', 'image', 'tag', 'imageUri', 'specFile', 'flyteConfig'],
		async run(c, _deps, found) {
			const {project, location, repository} = need(found, 'project', 'location', 'repository');
			if (c.sdk === 'flyte') return flyteImageStep(c, {project, location, repository});
			// A person is asked only when the run builds; a declared builder changes only when chosen.
			const chosen = c.flags.builder !== undefined || (c.ask.interactive && c.flags.build);
			const builder = await chooseBuilder(c, {docker: found.docker});
			const authored = await authorImageSpec(c, {project, location, repository, builder, builderChosen: chosen});
			const declared = authored.spec.builder === 'union' ? 'union' : 'local';
			return {
				status: 'done',
				detail: authored.uri,
				found: {
					image: {name: authored.spec.name, sdk: 'imagespec', authored},
					next: {
						nextCommand: authored.specFile ? `union register ${path.relative(c.cwd, c.folder) || '.'}` : undefined,
						usage: usageLines({sdk: authored.sdk, moduleFile: authored.moduleFile, folder: c.folder, variable: authored.variable}),
					},
				},
				result: {registry: authored.spec.registry, image: authored.spec.name, tag: authored.tag, imageUri: authored.uri, specFile: authored.specFile},
				save: saved => ({
					...saved,
					output: c.flags.output ? authored.moduleFile : saved.output,
					images: {
						...saved.images,
						[authored.spec.name]: {...toSavedImage(authored.spec, authored.tag, authored.uri, authored.moduleFile), builder: declared},
					},
				}),
			};
		},
	},
	{
		// Build and push, then the proof that the repository lists the tag; Union's remote builder gets its IAM first.
		id: 'build',
		reads: ['build', 'force', 'dryRun', 'builderSa', 'operatorProxySa'],
		saves: ['dataPlane'],
		adds: ['pushed', 'digest', 'buildSkipped', 'logFile', 'inRepository', 'builderAccess'],
		async run(c, deps, found) {
			const {image} = need(found, 'image');
			const remote = image.sdk === 'flyte' ? await flyteBuildsRemotely(c) : image.authored.spec.builder === 'union';
			if (!remote) return buildStep(c, deps, found);
			const {project, location, repository} = need(found, 'project', 'location', 'repository');
			const access = await grantBuilderAccess(c, {project, location, repository, registry: await deps.registry.open()}, found.dataPlane);
			const outcome = await buildStep(c, deps, found);
			const grants = access.grants.map(({detail: _detail, ...grant}) => grant);
			return {
				...outcome,
				detail: access.status === 'checked' ? `${outcome.detail} · ${access.detail}` : outcome.detail,
				result: {...outcome.result, builderAccess: {status: access.status, grants}},
				save: access.saved && (saved => ({...saved, dataPlane: access.saved})),
			};
		},
	},
];

/** The data plane's worker answer, keeping the builder's accounts saved for the same data plane project. */
const keepBuilderAccounts = (previous: SavedDataPlane | undefined, now: SavedDataPlane): SavedDataPlane =>
	previous && !previous.sameProject && !now.sameProject && previous.project === now.project
		? {...now, builderServiceAccount: previous.builderServiceAccount, operatorProxyServiceAccount: previous.operatorProxyServiceAccount}
		: now;

/**
 * Work beside a docker authentication still running (ServiceContext.dockerAuth), stopped as soon
 * as it fails: a build is not run to its end for a push that cannot happen. Its error stands then.
 */
async function stopWhenDockerAuthFails<T>(c: StepContext, work: (c: StepContext) => Promise<T>): Promise<T> {
	const pending = c.ctx.dockerAuth;
	if (!pending) return work(c);
	const failed = new AbortController();
	pending.done.catch(() => failed.abort());
	try {
		return await work({...c, ctx: {...c.ctx, signal: AbortSignal.any([c.ctx.signal, failed.signal])}});
	} catch (error) {
		// dockerAuthDone throws docker authentication's failure (the journey reports this step skipped).
		if (failed.signal.aborted && !c.ctx.signal.aborted) await dockerAuthDone(c.ctx, pending.host);
		throw error;
	}
}

const isSameRepository = (a: RepositoryRef | undefined, b: RepositoryRef): boolean =>
	a !== undefined && a.project === b.project && a.location === b.location && a.repository === b.repository;

/** Build and push, then the proof that the repository lists the tag. */
async function buildStep(c: StepContext, deps: JourneyDeps, found: Found): Promise<StepOutcome> {
	const {project, location, repository, image} = need(found, 'project', 'location', 'repository', 'image');
	const where = {project, location, repository};
	const account = found.gcloud?.account;
	if (image.sdk === 'flyte') return flyteBuildStep(c, image.authored, {...where, account}, deps.registry);
	const {authored} = image;
	const union = authored.spec.builder === 'union';
	if (!c.flags.build || union) {
		// Not building now: still tell whether the cluster would find the image today.
		const there = await findInRepository(c, authored, where, deps.registry).catch(() => undefined);
		const inRepository = there?.state === 'present' ? true : there?.state === 'absent' ? false : undefined;
		const now = inRepository ? 'already in the repository' : inRepository === false ? 'not in the repository yet' : 'not checked';
		return {
			status: 'skipped',
			detail: union ? `builder="union": Union builds the image when you register (${now})` : `--no-build: not built (${now})`,
			result: {inRepository},
		};
	}

	if (c.flags.dryRun) return planBuild(c, authored, {...where, account}, deps.registry);
	// Before any build: a push that cannot succeed is said now, not after minutes of building (once:
	// the checks asked already when they knew this repository).
	if (!isSameRepository(found.pushChecked, where)) await checkPushPermission(c, await deps.registry.open(), {...where, account, imageUri: authored.uri});
	const built = await stopWhenDockerAuthFails(c, async building => buildImage(building, authored, where, deps.registry, {buildkit: found.buildkit}));
	return {
		status: built.skipped ? 'skipped' : 'done',
		detail: built.skipped ? `${authored.uri} is ${built.skipped}` : `pushed ${built.digest ?? ''}`.trim(),
		result: {pushed: built.pushed, digest: built.digest, buildSkipped: built.skipped, logFile: built.logFile, inRepository: true},
	};
}

/**
 * --dry-run's build step: whether the tag is already there (a read); if not (or --force), the
 * build and push it would run. Nothing is built.
 */
async function planBuild(c: StepContext, authored: AuthoredSpec, where: RepositoryRef & {account?: string}, registry: RegistryHandle): Promise<StepOutcome> {
	await checkPushPermission(c, await registry.open(), {...where, imageUri: authored.uri});
	const {project, location, repository} = where;
	const there = c.flags.force ? undefined : await findInRepository(c, authored, {project, location, repository}, registry);
	if (there?.state === 'present') return {status: 'skipped', detail: `${authored.uri} is already in the repository: nothing to build`};
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
	return {status: 'skipped', detail: `--dry-run: ${authored.uri} not built`};
}
