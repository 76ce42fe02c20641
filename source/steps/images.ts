/**
 * `imagespec-gar status` and `imagespec-gar build [NAME...] [--all]`: every image of the team's
 * module, checked together (one listing per repository) and built together (bounded concurrency,
 * each through the wizard's own build: buildImage for an ImageSpec, buildFlyteImage for a
 * flyte.Image, so each is proven in Artifact Registry afterwards).
 */
import os from 'node:os';
import path from 'node:path';
import type {Flags} from '../flags.js';
import {answer, moduleFileOf} from '../flow/answers.js';
import {createAsker} from '../flow/ask.js';
import type {JourneyEvent} from '../flow/events.js';
import {buildSummary, buildLine, statusLines, statusVerdict, type BuildRow} from '../present/images.js';
import type {RepositoryRef} from '../services/artifact-registry.js';
import {registryHandle, type OwnedRegistry, type RegistryHandle} from '../services/registry-handle.js';
import type {ServiceContext} from '../services/context.js';
import {dockerInfo} from '../services/docker.js';
import {CancelledError, StepError, UsageError, isAbort} from '../services/errors.js';
import {START_DOCKER} from '../services/fixes.js';
import {configureDocker} from '../services/gcloud.js';
import {imageStatuses, type ImageStatus} from '../services/image-status.js';
import {registryHostOfLocation} from '../services/imagespec.js';
import {readModuleImages, type ModuleImage, type ModuleImages} from '../services/module-images.js';
import type {Platform} from '../services/platform.js';
import {runBounded} from '../services/pool.js';
import {openStore, projectFolder, type AnswerStore, type ProjectAnswers} from '../services/store.js';
import {ALREADY_THERE, buildImage} from './build.js';
import type {StepContext} from './context.js';
import type {DoctorOptions} from './doctor.js';
import {detectSdk, imageSpecSdk, pinnedFlyteVersion, type Sdk} from '../services/sdk.js';
import {readFlyteModuleImages} from '../services/flyte-images.js';
import {DEFAULT_FLYTE_MODULE, buildFlyteImage, chooseFlyteBuilder, type AuthoredFlyte} from './flyte-image.js';
import {toSavedFlyteImage} from './flyte-setup.js';
import type {AuthoredSpec} from './imagespec.js';
import {environmentName, environmentVariable} from '../services/flyte-module.js';
import {findFlyte, type FlyteBuilder} from '../services/flyte-build.js';
import {checkPushPermission} from './repository.js';
import {parseRegistry, toSavedImage} from './setup.js';

/** What doctor gets: flags, where, how to draw and write. */
export type ImagesCommandOptions = DoctorOptions;

/** The document `status --json` prints (schema/status.schema.json). */
export type StatusReport = {ok: boolean; module: string; via?: string; images: ImageStatus[]; error?: {message: string; fix?: string; reason?: string}};
/** The document `build --json` prints (schema/build.schema.json). */
export type BuildReport = {ok: boolean; module: string; jobs: number; images: BuildRow[]; error?: {message: string; fix?: string; reason?: string}};

export const DEFAULT_JOBS = 2;
const MAX_JOBS = 16;

/** The module, its images and their statuses: what both commands start from. */
export type ModuleState = {
	sdk: Sdk;
	moduleFile: string;
	folder: string;
	via: string;
	images: ModuleImage[];
	statuses: ImageStatus[];
	where: (image: ModuleImage) => RepositoryRef | undefined;
	saved: ProjectAnswers;
	store: AnswerStore;
	/** One client for the whole command, opened only when an image is in Artifact Registry. */
	registry: OwnedRegistry;
};

/** Where a registry string lives in Artifact Registry (a private host takes `location` from flags or saved answers). */
const garWhere =
	(platform: Platform, location: string | undefined) =>
	(registry: string): RepositoryRef | undefined => {
		const parsed = parseRegistry(registry, platform.env.IMAGESPEC_GAR_REGISTRY_HOST);
		const at = parsed?.location ?? location;
		return parsed && at ? {project: parsed.project, location: at, repository: parsed.repository} : undefined;
	};

/** Every image the module declares, read as its SDK's CLI loads it: `union register`, or `flyte build` for flyte.Image. */
const readDeclaredImages = async (ctx: ServiceContext, sdk: Sdk, where: {moduleFile: string; folder: string}): Promise<ModuleImages> =>
	sdk === 'flyte' ? readFlyteModuleImages(ctx, {...where, pinnedFlyte: await pinnedFlyteVersion(where.folder)}) : readModuleImages(ctx, where);

/** The rerun menu's question: which declared images are missing or stale (none when it cannot tell). */
export async function missingImages(
	c: Pick<StepContext, 'ctx' | 'folder' | 'flags' | 'saved' | 'sdk'>,
	moduleFile: string,
	registry: RegistryHandle,
): Promise<string[]> {
	const {specs} = await readDeclaredImages(c.ctx, c.sdk, {moduleFile, folder: c.folder});
	const whereOf = garWhere(c.ctx.platform, answer(c, 'location'));
	const statuses = await imageStatuses(specs, {whereOf, registry, saved: c.saved.images, signal: c.ctx.signal});
	return statuses.filter(row => row.state === 'missing' || row.state === 'stale').map(row => row.name);
}

export async function readModuleState(options: Pick<ImagesCommandOptions, 'flags' | 'cwd' | 'platform' | 'signal'>): Promise<ModuleState> {
	const {flags, cwd, platform, signal} = options;
	const ctx: ServiceContext = {platform, signal};
	const folder = projectFolder(cwd);
	const store = await openStore({folder, platform});
	const saved = store.problem ? {} : store.load();
	// A Flyte 2 project's module is flyte_images.py (or --output), read as flyte build loads it.
	const sdk = flags.sdk ?? (await detectSdk(folder));
	const moduleFile = sdk === 'flyte' ? path.resolve(cwd, flags.output ?? path.join(folder, DEFAULT_FLYTE_MODULE)) : moduleFileOf({flags, saved}, {cwd, folder});
	const {via, specs: images} = await readDeclaredImages(ctx, sdk, {moduleFile, folder});

	const whereOf = garWhere(platform, answer({flags, saved}, 'location'));

	const registry = registryHandle(ctx);
	const statuses = await imageStatuses(images, {whereOf, registry, saved: saved.images, signal});
	return {
		sdk,
		moduleFile,
		folder,
		via,
		images,
		statuses,
		where: image => (image.spec.registry ? whereOf(image.spec.registry) : undefined),
		saved,
		store,
		registry,
	};
}

const errorOf = (error: unknown) =>
	error instanceof StepError
		? {message: error.message, ...(error.fix ? {fix: error.fix} : {}), ...(error.reason ? {reason: error.reason} : {})}
		: {message: String(error)};

/** Ctrl-C / SIGTERM: absorb the signal conf's when-exit re-sends, say so, exit 130. */
function cancelled(options: Pick<ImagesCommandOptions, 'stderr'>, what: string): number {
	for (const name of ['SIGINT', 'SIGTERM'] as const) process.on(name, () => undefined);
	options.stderr(`Cancelled: ${what}\n`);
	return 130;
}

/** A failure before any row: one line and its fix (exit 1), or a usage error (exit 2). */
function failedWhole(options: ImagesCommandOptions, error: unknown, json: (error: {message: string; fix?: string; reason?: string}) => void): number {
	if (error instanceof UsageError) {
		options.stderr(`Error: ${error.message}\nRun imagespec-gar --help for usage.\n`);
		return 2;
	}
	if (error instanceof StepError) {
		options.stderr(
			`Error: ${error.message}\n${
				error.fix
					? `${error.fix
							.split('\n')
							.map(line => `  fix: ${line}`)
							.join('\n')}\n`
					: ''
			}`,
		);
		json(errorOf(error));
		return 1;
	}
	options.stderr(`Unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
	json({message: String(error)});
	return 1;
}

// ---------------------------------------------------------------------------------------------
// status

/**
 * `imagespec-gar status`: one row per declared image. Exit 0 when every Artifact Registry image
 * is pushed, 1 when any is missing, stale or cannot be told, 130 on Ctrl-C.
 */
export async function runStatus(options: ImagesCommandOptions): Promise<number> {
	const {flags, signal} = options;
	let state: ModuleState | undefined;
	const relative = (file: string) => path.relative(options.cwd, file) || file;
	try {
		state = await readModuleState(options);
		const {ok, text} = statusVerdict(state.statuses);
		const report: StatusReport = {ok, module: state.moduleFile, via: state.via, images: state.statuses};
		if (flags.json) options.stdout(`${JSON.stringify(report, null, 2)}\n`);
		else if (options.ink)
			await drawOnce(async () => {
				const {StatusTable} = await import('../ui/images.js');
				return {component: StatusTable, props: {module: relative(state!.moduleFile), rows: state!.statuses, verdict: text, ok}};
			});
		else options.stdout(`${[`${relative(state.moduleFile)}:`, ...statusLines(state.statuses), '', text].join('\n')}\n`);
		return ok ? 0 : 1;
	} catch (error) {
		if (isAbort(error) || signal.aborted) return cancelled(options, 'nothing was changed.');
		return failedWhole(options, error, failure => {
			const report: StatusReport = {ok: false, module: state?.moduleFile ?? '', images: [], error: failure};
			if (flags.json) options.stdout(`${JSON.stringify(report, null, 2)}\n`);
		});
	} finally {
		await state?.registry.close();
	}
}

// biome-ignore lint/suspicious/noExplicitAny: any Ink component with its own props
async function drawOnce(load: () => Promise<{component: (props: any) => unknown; props: object}>): Promise<void> {
	const [{render}, {createElement}, {component, props}] = await Promise.all([import('ink'), import('react'), load()]);
	const instance = render(createElement(component as never, props), {exitOnCtrlC: false});
	await instance.waitUntilRenderFlush();
	instance.unmount();
	await instance.waitUntilExit();
}

// ---------------------------------------------------------------------------------------------
// build

/** --jobs N: a whole number from 1 to 16 (exit 2 otherwise). */
export function parseJobs(value: string | undefined): number {
	if (value === undefined) return DEFAULT_JOBS;
	if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_JOBS) {
		throw new UsageError(`--jobs ${JSON.stringify(value)} is invalid: a whole number from 1 to ${MAX_JOBS}`, 'jobs');
	}

	return Number(value);
}

/** Which images to build: the named ones, or with --all every missing or stale one (every checked one with --force). */
export function selectImages(statuses: readonly ImageStatus[], names: readonly string[], flags: Pick<Flags, 'all' | 'force'>): ImageStatus[] {
	if (names.length > 0 && flags.all) throw new UsageError('Name images or use --all, not both', 'all');
	if (names.length === 0 && !flags.all) {
		throw new UsageError('Name the images to build (imagespec-gar build trainer scorer), or use --all for every missing or stale one', 'all');
	}

	if (flags.all) return statuses.filter(row => row.state === 'missing' || row.state === 'stale' || (flags.force && row.state === 'pushed'));
	const known = statuses.map(row => row.name);
	const unknown = names.filter(name => !known.includes(name) && !statuses.some(row => row.variable === name));
	if (unknown.length > 0) {
		const are = unknown.length > 1 ? 'are' : 'is';
		throw new UsageError(`${unknown.join(', ')} ${are} not declared in the module (it declares ${known.join(', ') || 'no image'})`, 'all');
	}
	return statuses.filter(row => names.includes(row.name) || names.includes(row.variable));
}

/**
 * `imagespec-gar build [NAME...] [--all]`: builds and pushes the selected images, --jobs at a
 * time, each proven in Artifact Registry afterwards. One failure does not stop the others.
 * Exit 0 when none failed, 1 when any did (each with its fix), 2 for bad usage, 130 on Ctrl-C.
 */
export async function runBuild(options: ImagesCommandOptions & {names: string[]}): Promise<number> {
	const {flags, signal} = options;
	let state: ModuleState | undefined;
	let rows: BuildRow[] = [];
	let jobs = DEFAULT_JOBS;
	const json = (report: BuildReport) => {
		if (flags.json) options.stdout(`${JSON.stringify(report, null, 2)}\n`);
	};
	try {
		jobs = parseJobs(flags.jobs);
		state = await readModuleState(options);
		const selected = selectImages(state.statuses, options.names, flags);
		const flyte = state.sdk === 'flyte' ? await flyteBuilding(options, state, selected) : undefined;
		const byStatus = new Map(state.statuses.map((row, index) => [row, state!.images[index]!]));
		rows = selected.map(({variable, name, tag, uri}) => ({variable, name, ...(tag ? {tag} : {}), ...(uri ? {uri} : {}), outcome: 'pending'}));

		const view = await openBuildView(options, rows, jobs);
		try {
			await buildRows(
				options,
				state,
				selected.map(row => byStatus.get(row)!),
				rows,
				{jobs, flyte},
				view.update,
			);
		} finally {
			await view.close();
		}

		if (signal.aborted) throw new CancelledError();
		const summary = buildSummary(rows);
		if (!options.ink || flags.json) options.stderr(`\n${summary.lines.join('\n')}\n`);
		json({ok: summary.ok, module: state.moduleFile, jobs, images: rows});
		return summary.ok ? 0 : 1;
	} catch (error) {
		if (isAbort(error) || signal.aborted) {
			for (const row of rows) if (row.outcome === 'pending' || row.outcome === 'running') row.outcome = 'cancelled';
			json({ok: false, module: state?.moduleFile ?? '', jobs, images: rows, error: {message: 'cancelled', reason: 'CANCELLED'}});
			const done = rows.filter(row => row.outcome === 'pushed').map(row => row.name);
			const pushed = done.length > 0 ? `pushed ${done.join(', ')}; ` : '';
			return cancelled(options, `${pushed}the rest was stopped (no docker build left running). Rerun imagespec-gar build --all to finish.`);
		}
		return failedWhole(options, error, failure => {
			json({ok: false, module: state?.moduleFile ?? '', jobs, images: rows, error: failure});
		});
	} finally {
		await state?.registry.close();
	}
}

/**
 * The builds themselves. Per repository first: docker auth for its host and the push
 * permission (a definite no fails that repository's images, nothing built); then each image
 * through buildImage, whose events feed its row.
 */
async function buildRows(
	options: ImagesCommandOptions,
	state: ModuleState,
	images: ModuleImage[],
	rows: BuildRow[],
	how: {jobs: number; flyte?: FlyteBuilding},
	update: (index: number) => void,
): Promise<void> {
	const {jobs, flyte} = how;
	const {flags, signal} = options;
	const ctx = {platform: options.platform, signal};
	const set = (index: number, change: Partial<BuildRow>) => {
		Object.assign(rows[index]!, change);
		update(index);
	};

	// What is not ours to build says so, and is left out of the work.
	const work: number[] = [];
	for (const [index, image] of images.entries()) {
		const where = state.where(image);
		const elsewhere = `${image.spec.registry ?? 'no registry'} is not Artifact Registry: build it with ${flyte ? 'flyte build' : 'union register or docker'}`;
		if (!where) set(index, {outcome: 'not-built', detail: elsewhere});
		else if (image.problem || !image.tag) set(index, {outcome: 'failed', error: errorOf(image.problem ?? new StepError('its tag cannot be computed'))});
		else if (image.spec.builder === 'union') set(index, {outcome: 'not-built', detail: 'builder="union": Union builds it when you register'});
		else if (flyte && !image.flyte?.environment) set(index, {outcome: 'failed', error: errorOf(noEnvironment(image, state))});
		else work.push(index);
	}
	if (work.length === 0) return;

	// Union's remote builder needs neither this docker nor this account's push permission.
	const local = flyte?.builder !== 'remote';
	const docker = local ? await dockerInfo(ctx) : undefined;
	if (docker && !docker.engineReachable) {
		const error = new StepError(`A local build needs the Docker engine, and it is not reachable: ${docker.error ?? 'no answer'}`, {
			fix: `${START_DOCKER}, then rerun.`,
			reason: docker.cliInstalled ? 'DOCKER_DOWN' : 'DOCKER_MISSING',
		});
		for (const index of work) set(index, {outcome: 'failed', error: errorOf(error)});
		return;
	}

	// Once per repository: docker auth for its host, and may this account push there?
	const ready = new Map<string, Promise<void>>();
	const prepare = async (where: RepositoryRef) => {
		const key = `${where.project}/${where.location}/${where.repository}`;
		let done = ready.get(key);
		if (!done) {
			done = (async () => {
				await configureDocker(ctx, registryHostOfLocation(where.location, options.platform.env.IMAGESPEC_GAR_REGISTRY_HOST));
				const silent = {report: () => undefined, ctx, flags: {...flags, force: true}};
				if (local) await checkPushPermission(silent, await state.registry.open(), where);
			})();
			ready.set(key, done);
		}
		return done;
	};

	const results = await runBounded(
		work,
		jobs,
		async index => {
			const image = images[index]!;
			const where = state.where(image)!;
			set(index, {outcome: 'running', detail: 'starting'});
			await prepare(where);
			const c: StepContext = {
				flags: {...flags, build: true},
				cwd: options.cwd,
				folder: state.folder,
				ctx,
				// No questions mid-build: the spec's builder, docker as the engine.
				ask: createAsker(undefined, signal),
				report: event => {
					const detail = eventDetail(event);
					if (detail) set(index, {detail});
					if (event.type === 'note' && event.text.startsWith('Full build log: ')) rows[index]!.logFile = event.text.slice('Full build log: '.length);
				},
				saved: state.saved,
				sdk: state.sdk,
			};
			const outcome =
				flyte && image.flyte
					? await buildFlyteImage(c, flyteAuthored(image, image.flyte, state.moduleFile), where, {builder: flyte.builder, registry: state.registry})
					: await buildImage(c, spec(image, state), where, state.registry);
			// What this push was made of: the next status can tell what changed since.
			const saved = image.flyte
				? toSavedFlyteImage(image.flyte.image, image.tag!, image.uri!, state.moduleFile)
				: toSavedImage(image.spec, image.tag!, image.uri!, state.moduleFile);
			if (outcome.pushed) state.store.save(answers => ({...answers, images: {...answers.images, [image.spec.name]: saved}}));
			return outcome;
		},
		signal,
	);

	for (const [position, result] of results.entries()) {
		const index = work[position]!;
		if (!result) continue;
		if (result.ok) {
			const {pushed, digest, skipped} = result.value;
			const present = {outcome: 'present' as const, digest, detail: 'already in the repository (--force rebuilds it)'};
			const notBuilt = {outcome: 'not-built' as const, detail: skipped};
			set(index, pushed ? {outcome: 'pushed', digest, detail: undefined} : skipped === ALREADY_THERE ? present : notBuilt);
		} else if (isAbort(result.error) || signal.aborted) {
			set(index, {outcome: 'cancelled', detail: undefined});
		} else {
			set(index, {outcome: 'failed', error: errorOf(result.error), detail: undefined});
		}
	}
}

/** An ImageSpec image as buildImage takes it. */
const spec = (image: ModuleImage, state: ModuleState): AuthoredSpec => ({
	spec: image.spec,
	tag: image.tag!,
	uri: image.uri!,
	moduleFile: state.moduleFile,
	specFile: state.moduleFile,
	variable: image.variable,
	sdk: imageSpecSdk(state.sdk),
});

/** A flyte.Image as buildFlyteImage takes it: built through the TaskEnvironment that uses it. */
const flyteAuthored = (image: ModuleImage, flyte: NonNullable<ModuleImage['flyte']>, moduleFile: string): AuthoredFlyte => ({
	image: flyte.image,
	uri: image.uri,
	tag: image.tag,
	moduleFile,
	specFile: moduleFile,
	variable: image.variable,
	...(flyte.environment ? {environment: flyte.environment} : {}),
});

/** `flyte build FILE ENV` builds an environment's image: one without a TaskEnvironment cannot be built by name. */
const noEnvironment = (image: ModuleImage, state: ModuleState) => {
	const file = path.basename(state.moduleFile);
	return new StepError(`No flyte.TaskEnvironment in ${file} uses ${image.variable}: flyte build builds an environment's image.`, {
		fix: `Add ${environmentVariable(image.variable)} = flyte.TaskEnvironment(name="${environmentName(image.spec.name)}", image=${image.variable}) to ${file}, then rerun.`,
		reason: 'FLYTE_NO_ENVIRONMENT',
	});
};

/** How a Flyte 2 module's images are built: flyte's builder, chosen once for the command. */
type FlyteBuilding = {builder: FlyteBuilder};

/**
 * Before any row: which of flyte's builders (chooseFlyteBuilder, as the wizard), and, when
 * something is to be built, that the flyte CLI is here: without it, one line saying what to install.
 */
async function flyteBuilding(options: ImagesCommandOptions, state: ModuleState, selected: readonly ImageStatus[]): Promise<FlyteBuilding> {
	const builder = await chooseFlyteBuilder({flags: options.flags, folder: state.folder, ctx: {platform: options.platform, signal: options.signal}});
	const toBuild = selected.some(row => row.state !== 'not-checked' && (options.flags.force || row.state !== 'pushed'));
	if (toBuild && !(await findFlyte({platform: options.platform, signal: options.signal}))) {
		throw new StepError('A Flyte 2 image is built with flyte build, and the flyte CLI is not on PATH.', {
			fix: 'pip install flyte (in the environment you run flyte from), then rerun; or deploy with image.builder: remote and Union builds it.',
			reason: 'FLYTE_MISSING',
		});
	}
	return {builder};
}

/** The short text a row shows for one of buildImage's events. */
function eventDetail(event: JourneyEvent): string | undefined {
	switch (event.type) {
		case 'step': {
			return event.detail;
		}
		case 'build-step': {
			return event.text;
		}
		case 'layer': {
			return event.total ? `pushing layer ${event.id}: ${Math.round(((event.current ?? 0) / event.total) * 100)}%` : `layer ${event.id}: ${event.status}`;
		}
		default: {
			return undefined;
		}
	}
}

type BuildView = {update: (index: number) => void; close: () => Promise<void>};

/** Ink: one live row per image. Plain (and --json's stderr): a line each time a row's state or step changes. */
async function openBuildView(options: ImagesCommandOptions, rows: BuildRow[], jobs: number): Promise<BuildView> {
	if (options.ink && !options.flags.json) {
		const [{render}, {createElement}, {BuildTable}] = await Promise.all([import('ink'), import('react'), import('../ui/images.js')]);
		const view = (finished: boolean) => createElement(BuildTable, {rows: rows.map(row => ({...row})), jobs, finished});
		const instance = render(view(false), {exitOnCtrlC: false});
		// Layer progress arrives many times a second: redraw at most every 100 ms.
		let timer: NodeJS.Timeout | undefined;
		return {
			update() {
				timer ??= setTimeout(() => {
					timer = undefined;
					instance.rerender(view(false));
				}, 100);
			},
			async close() {
				clearTimeout(timer);
				instance.rerender(view(true));
				await instance.waitUntilRenderFlush();
				instance.unmount();
				await instance.waitUntilExit();
			},
		};
	}

	const printed = new Map<number, string>();
	if (rows.length === 0) options.stderr('Nothing to build: every image is already in the repository.\n');
	else {
		const logs = path.join(os.tmpdir(), 'imagespec-gar');
		options.stderr(`Building ${rows.length} image${rows.length === 1 ? '' : 's'}, ${jobs} at a time; full logs under ${logs}.\n`);
	}
	return {
		update(index) {
			const row = rows[index]!;
			// Layer percentages would flood a log: only a new step or state makes a line.
			if (row.outcome === 'running' && row.detail?.startsWith('pushing layer')) return;
			const line = buildLine(row);
			if (printed.get(index) === line) return;
			printed.set(index, line);
			options.stderr(`${line}\n`);
		},
		async close() {
			// The summary follows.
		},
	};
}
