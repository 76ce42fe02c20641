import {formatBytes} from '../format.js';
import {splitList, type Flags} from '../flags.js';
import type {Choice} from '../flow/ask.js';
import {replayable} from '../flow/choices.js';
import {enableApiCommand, writerGrantFix} from '../services/fixes.js';
import {repositoryName, validateRepositoryId, type ArtifactRegistry, type Repository, type RepositoryRef} from '../services/artifact-registry.js';
import {PUSH_PERMISSION, iamMember} from '../services/repository-iam.js';
import {sleep} from '../services/cancellation.js';
import {enableArtifactRegistryApi} from '../services/gcloud.js';
import {
	MANAGED_BY_LABELS,
	describeCleanup,
	parseCleanupPreset,
	parseLabels,
	type CleanupPreset,
	type RepositorySettings,
} from '../services/repository-settings.js';
import {imageExists} from '../services/docker.js';
import {createRepositoryCommand, repositorySettingsData} from '../services/export-gcloud.js';
import {plan, type dryRunRegistry} from '../flow/plan.js';
import {CancelledError, StepError, UsageError} from '../services/errors.js';
import type {StepContext} from './context.js';

export const NEW_REPOSITORY = '\u0000new';
export const DEFAULT_NEW_REPOSITORY = 'union-images';
export const DEFAULT_DESCRIPTION = 'Union / Flyte images (created by imagespec-gar)';

export type RepositoryTimings = {
	/** Waits between retries after enabling the API (it takes a while to be active everywhere). */
	enableRetryDelaysMs?: readonly number[];
	/** Repositories per list call (every call, the first one too). */
	pageSize?: number;
};

const ENABLE_RETRY_DELAYS_MS: readonly number[] = [2000, 5000, 10_000, 15_000, 30_000];
const FIRST_PAGE_SIZE = 100;
const PAGE_SIZE = 1000;

type Where = {project: string; location: string; registry: ArtifactRegistry; timings?: RepositoryTimings};
export type RepositoryOutcome = {repository: string; created: boolean};

/** --label and --cleanup are judged before any work starts (exit 2, naming the flag). */
export function validateRepositoryFlags(flags: Pick<Flags, 'label' | 'cleanup'>): void {
	const labels = parseLabels(flags.label);
	if (typeof labels === 'string') throw new UsageError(`--label is invalid: ${labels}`, 'label');
	if (flags.cleanup !== undefined) {
		const preset = parseCleanupPreset(flags.cleanup);
		if (typeof preset === 'string') throw new UsageError(`--cleanup ${JSON.stringify(flags.cleanup)} is invalid: ${preset}`, 'cleanup');
	}
}

/**
 * The repository step: a Docker repository. --repository (or, non-interactively, the saved one) is used without
 * a prompt and created when missing; otherwise the person picks from the live list (saved one
 * first) or creates one. API failures the person can fix here (API disabled, no permission to
 * create) are offered a fix and retried.
 */
export async function chooseRepository(c: StepContext, where: Where): Promise<RepositoryOutcome> {
	const {ask, flags, saved} = c;
	let named =
		flags.repository ??
		(ask.interactive
			? undefined
			: await ask.text({flag: 'repository', message: 'Docker repository', default: saved.repository, validate: validateRepositoryId}));
	const list = lister(c, where);
	for (;;) {
		let outcome: RepositoryOutcome | 'back';
		if (named === undefined) {
			const picked = await list.pick();
			if (picked !== NEW_REPOSITORY) return {repository: picked, created: false};
			const id = await ask.text({flag: 'repository', message: 'New repository name:', default: list.unusedName(), validate: validateRepositoryId});
			outcome = await offerCreation(c, where, id, 'list');
		} else {
			outcome = await takeNamed(c, where, named);
		}

		if (outcome !== 'back') return outcome;
		progress(c);
		list.preferExisting();
		named = undefined;
	}
}

/** A named repository: used when it is Docker, created (or offered) when it is missing. */
async function takeNamed(c: StepContext, where: Where, id: string): Promise<RepositoryOutcome | 'back'> {
	const {project, location, registry} = where;
	const existing = await withApiEnabled(c, where, async () => registry.getRepository({project, location, repository: id}, c.ctx.signal));
	if (existing) {
		assertDocker(existing);
		return {repository: id, created: false};
	}

	if (!c.flags.create) {
		throw new StepError(`Repository ${id} does not exist in ${project} · ${location} (or you cannot see it), and --no-create forbids creating it.`, {
			fix: [
				'Create it: rerun without --no-create, or: ' +
					`gcloud artifacts repositories create ${id} --repository-format=docker --location ${location} --project ${project}`,
				`Or use an existing one: gcloud artifacts repositories list --project ${project} --location ${location}`,
			].join('\n'),
			reason: 'NOT_FOUND',
		});
	}

	return offerCreation(c, where, id, 'flag');
}

const assertDocker = (repository: Repository) => {
	if (repository.format === 'DOCKER') return;
	throw new StepError(`Repository ${repository.id} in ${repository.project} · ${repository.location} holds ${repository.format} packages, not Docker images`, {
		fix: 'Choose another repository name (or --repository NAME); Docker images need a DOCKER-format repository.',
		reason: 'NOT_DOCKER',
	});
};

// ---------------------------------------------------------------------------------------------
// Selecting

type Lister = {
	pick(): Promise<string>;
	unusedName(): string;
	/** Back from a creation that cannot be done: an existing repository (not Union's) is preselected. */
	preferExisting(): void;
};

/** The interactive list: fetched once, page by page, and shown again when the person comes back. */
function lister(c: StepContext, where: Where): Lister {
	const {project, location, registry} = where;
	const known = new Set<string>();
	let pages: AsyncIterable<Choice[]> | undefined;
	let empty = false;
	let preferred: string | undefined;
	let firstExisting: string | undefined;

	const open = async () => {
		const savedId = c.saved.repository;
		const signal = c.ctx.signal;
		const {iterator, first, savedRepository} = await withApiEnabled(c, where, async () => {
			// The saved repository goes first even when it is on the last page: ask for it directly.
			const savedLookup = savedId ? registry.getRepository({project, location, repository: savedId}, signal).catch(() => undefined) : undefined;
			const iterator = registry
				.listRepositoryPages(project, location, {
					signal,
					firstPageSize: where.timings?.pageSize ?? FIRST_PAGE_SIZE,
					pageSize: where.timings?.pageSize ?? PAGE_SIZE,
				})
				[Symbol.asyncIterator]();
			return {iterator, first: await iterator.next(), savedRepository: await savedLookup};
		});
		const head = [...(savedRepository ? [savedRepository] : []), ...(first.done ? [] : first.value.filter(repository => repository.id !== savedId))];
		empty = head.length === 0;
		// Your saved one, else a new one: the first Docker repository may well be Union's own.
		preferred = savedRepository?.format === 'DOCKER' ? savedRepository.id : undefined;
		firstExisting = head.find(repository => repository.format === 'DOCKER' && !isUnionRepository(repository))?.id;
		const choice = (repository: Repository): Choice => {
			known.add(repository.id);
			return repositoryChoice(repository, repository.id === savedId);
		};

		async function* all() {
			yield head.map(choice);
			if (first.done) return;
			for (;;) {
				const next = await iterator.next();
				if (next.done) return;
				yield next.value.filter(repository => repository.id !== savedId).map(choice);
			}
		}

		pages = replayable(all());
	};

	return {
		async pick() {
			if (!pages) await open();
			// Nothing to choose from: go straight to naming a new one.
			if (empty) {
				c.report({type: 'note', level: 'info', text: `No repositories in ${project} · ${location} yet: name the one to create.`});
				return NEW_REPOSITORY;
			}
			return c.ask.search({
				flag: 'repository',
				message: `Docker repository in ${project} · ${location}:`,
				pages: pages!,
				pinned: [{label: '+ Create a new repository', value: NEW_REPOSITORY}],
				default: preferred ?? NEW_REPOSITORY,
				noun: {one: 'repository', other: 'repositories'},
			});
		},

		preferExisting() {
			preferred ??= firstExisting;
		},

		unusedName() {
			if (!known.has(DEFAULT_NEW_REPOSITORY)) return DEFAULT_NEW_REPOSITORY;
			for (let index = 2; ; index++) if (!known.has(`${DEFAULT_NEW_REPOSITORY}-${index}`)) return `${DEFAULT_NEW_REPOSITORY}-${index}`;
		},
	};
}

const UNION_WORDS = /(^|[-_])(union|unionai|flyte)([-_]|$)/;
const UNION_NAMES = /^(union|unionai|flyte)([-_](registry|dataplane|data-plane|system|internal|cache|artifacts))?$|[-_](union|unionai|flyte)([-_]registry)?$/;

/**
 * Union's own repositories in a data plane project (Union's GAR instructions: keep your images in
 * a repository of your own): labelled by Union (a label key or value naming union or flyte), or
 * named like one (`union`, `flyte-registry`, `<org>-union`). One this tool created never is.
 */
export function isUnionRepository(repository: Pick<Repository, 'id' | 'labels'>): boolean {
	const labels = Object.entries(repository.labels ?? {});
	if (labels.some(([key, value]) => MANAGED_BY_LABELS[key] === value)) return false;
	return labels.some(([key, value]) => UNION_WORDS.test(key) || UNION_WORDS.test(value)) || UNION_NAMES.test(repository.id);
}

/** One row: the id, then format, location, size and description; non-Docker ones cannot be chosen; Union's own are marked. */
export function repositoryChoice(repository: Repository, saved = false): Choice {
	const docker = repository.format === 'DOCKER';
	const hint = [
		isUnionRepository(repository) ? "Union's own: create one for your images" : undefined,
		docker ? 'Docker' : `${repository.format}, not Docker`,
		repository.location,
		repository.sizeBytes === undefined ? undefined : formatBytes(repository.sizeBytes),
		repository.description || undefined,
		saved ? 'last used' : undefined,
	]
		.filter(Boolean)
		.join(' · ');
	return {label: repository.id, value: repository.id, hint, keywords: repository.description, ...(docker ? {} : {disabled: true})};
}

// ---------------------------------------------------------------------------------------------
// Creating

/** The settings of a new repository: each from its flag, else asked (interactive), else its default. */
async function askSettings(c: StepContext): Promise<Required<RepositorySettings>> {
	const {ask, flags} = c;
	const description = await ask.text({flag: 'description', message: 'Description:', default: DEFAULT_DESCRIPTION}, flags.description);
	const labelText = await ask.text(
		{
			flag: 'label',
			message: 'Labels (key=value, comma-separated; managed-by=imagespec-gar is always added):',
			default: '',
			placeholder: 'team=ml',
			validate: value => {
				const labels = parseLabels(splitList(value) ?? []);
				return typeof labels === 'string' ? labels : undefined;
			},
		},
		flags.label.length > 0 ? flags.label.join(',') : undefined,
	);
	const labels = parseLabels(splitList(labelText) ?? []) as Record<string, string>;
	const immutableTags =
		flags.immutableTags ??
		(await ask.confirm({flag: 'immutable-tags', message: 'Immutable tags (a pushed tag can never be moved to another image)?', default: false}));
	const cleanup = flags.cleanup === undefined ? await askCleanup(c) : (parseCleanupPreset(flags.cleanup) as CleanupPreset);
	return {description, labels, immutableTags, cleanup};
}

async function askCleanup({ask}: StepContext): Promise<CleanupPreset> {
	const kind = await ask.select({
		flag: 'cleanup',
		message: 'Cleanup policy:',
		choices: [
			{label: 'None', value: 'none', hint: 'keep every version'},
			{label: 'Keep the N most recent versions', value: 'keep', hint: 'of each image; older ones are deleted'},
			{label: 'Delete untagged versions older than D days', value: 'delete-untagged', hint: 'tagged versions stay'},
		],
		default: 'none',
	});
	if (kind === 'none') return {kind: 'none'};
	const number = (value: string, min: number, max: number) =>
		/^\d+$/.test(value) && Number(value) >= min && Number(value) <= max ? undefined : `a whole number from ${min} to ${max}`;
	if (kind === 'keep') {
		const count = await ask.text({
			flag: 'cleanup',
			message: 'How many recent versions of each image to keep?',
			default: '10',
			validate: value => number(value, 1, 10_000),
		});
		return {kind: 'keep', count: Number(count)};
	}
	const days = await ask.text({
		flag: 'cleanup',
		message: 'Delete untagged versions older than how many days?',
		default: '30',
		validate: value => number(value, 1, 3650),
	});
	return {kind: 'delete-untagged', days: Number(days)};
}

/** Exactly what will be created, as the person reads it before saying yes. */
export function describeRepositoryPlan(where: {project: string; location: string}, id: string, settings: Required<RepositorySettings>): string {
	const labels = {...settings.labels, ...MANAGED_BY_LABELS};
	return [
		`name            ${repositoryName({project: where.project, location: where.location, repository: id})}`,
		'format          Docker (standard repository)',
		`description     ${settings.description || '(none)'}`,
		`labels          ${Object.entries(labels)
			.map(([key, value]) => `${key}=${value}`)
			.join(', ')}`,
		`immutable tags  ${settings.immutableTags ? 'yes' : 'no'}`,
		`cleanup policy  ${describeCleanup(settings.cleanup)}`,
	].join('\n');
}

/**
 * Settings, the plan on screen, a yes (interactive), then the create. 'back' when the person
 * would rather choose an existing repository.
 */
async function offerCreation(c: StepContext, where: Where, id: string, origin: 'flag' | 'list'): Promise<RepositoryOutcome | 'back'> {
	const {ask, report} = c;
	const {project, location} = where;
	if (ask.interactive && origin === 'flag') report({type: 'note', level: 'info', text: `Repository ${id} does not exist in ${project} · ${location} yet.`});
	const settings = await askSettings(c);
	if (c.flags.dryRun) return planRepository(c, where, id, settings);
	report({type: 'code', title: `Repository to create in ${project} · ${location}`, code: describeRepositoryPlan(where, id, settings)});
	if (ask.interactive && !(await ask.confirm({flag: 'repository', message: `Create repository ${id}?`, default: true}))) {
		if (origin === 'list') return 'back';
		throw new StepError(`Repository ${id} was not created, and it does not exist in ${project} · ${location}.`, {
			fix: 'Rerun and choose an existing repository (without --repository), or let the wizard create it.',
			reason: 'NOT_CREATED',
		});
	}

	try {
		return await createRepository(c, where, id, settings);
	} catch (error) {
		if (!(error instanceof StepError) || error.reason !== 'IAM_PERMISSION_DENIED' || !ask.interactive) throw error;
		report({type: 'note', level: 'warn', text: `${error.message}${error.fix ? `\n→ ${error.fix}` : ''}`});
		if (await ask.confirm({flag: 'repository', message: 'Choose an existing repository instead?', default: true})) return 'back';
		throw error;
	}
}

/** --dry-run: the repository it would create, and the steps after it plan against a new, empty one. */
function planRepository(c: StepContext, where: Where, id: string, settings: Required<RepositorySettings>): RepositoryOutcome {
	const {project, location, registry} = where;
	(registry as Partial<ReturnType<typeof dryRunRegistry>>).planRepository?.({project, location, repository: id});
	c.report(
		plan({
			kind: 'create-repository',
			step: 'repository',
			summary: `create repository ${id} in ${project} · ${location}`,
			content: describeRepositoryPlan(where, id, settings),
			command: createRepositoryCommand({project, location, repository: id}, settings),
			data: {project, location, repository: id, ...repositorySettingsData(settings)},
		}),
	);
	return {repository: id, created: false};
}

async function createRepository(c: StepContext, where: Where, id: string, settings: Required<RepositorySettings>): Promise<RepositoryOutcome> {
	const {project, location, registry} = where;
	progress(c, `Creating ${id} in ${location}…`);
	let sent = false;
	try {
		const outcome = await withApiEnabled(c, where, async () => {
			sent = true;
			return registry.createDockerRepository(
				{project, location, repository: id},
				{
					...settings,
					signal: c.ctx.signal,
					onPending: () => progress(c, `Creating ${id} in ${location}: waiting for Artifact Registry to finish…`),
				},
			);
		});
		if (!outcome.created) c.report({type: 'note', level: 'info', text: `Repository ${id} already existed (a Docker repository): using it.`});
		return {repository: id, created: outcome.created};
	} catch (error) {
		// The request may have reached Google: the operation goes on without us.
		if (sent && (error instanceof CancelledError || c.ctx.signal.aborted)) {
			c.report({
				type: 'note',
				level: 'warn',
				text: `Stopped waiting: repository ${id} may still be created in ${project} · ${location}. A rerun finds it (imagespec-gar --repository ${id}).`,
			});
		}
		throw error;
	}
}

// ---------------------------------------------------------------------------------------------
// Fixes offered on the spot

const progress = (c: StepContext, detail?: string) => c.report({type: 'step', step: 'repository', status: 'running', detail});

/**
 * Runs an API call; when the API is disabled in the project, offers to enable it (interactive),
 * runs `gcloud services enable`, then retries until the API answers. Non-interactive runs get
 * the command and the activation URL as the fix (exit 1).
 */
async function withApiEnabled<T>(c: StepContext, where: Where, work: () => Promise<T>): Promise<T> {
	try {
		return await work();
	} catch (error) {
		if (!isServiceDisabled(error) || !c.ask.interactive) throw error;
		const {project} = where;
		c.report({type: 'note', level: 'warn', text: `The Artifact Registry API is disabled in project ${project}.`});
		const enable = await c.ask.confirm({flag: 'project', message: `Enable it now? (runs: ${enableApiCommand(project)})`, default: true});
		if (!enable) throw error;
		progress(c, `Enabling the Artifact Registry API in ${project}…`);
		await enableArtifactRegistryApi(c.ctx, project);
		c.report({type: 'note', level: 'info', text: `Enabled the Artifact Registry API in project ${project}.`});
		progress(c, `Waiting for the Artifact Registry API to answer in ${project}…`);
		let last: unknown = error;
		// Enabling takes a little while to reach every server: retry while it still says disabled.
		for (const delay of [0, ...(where.timings?.enableRetryDelaysMs ?? ENABLE_RETRY_DELAYS_MS)]) {
			await sleep(delay, c.ctx.signal);
			try {
				const value = await work();
				progress(c);
				return value;
			} catch (retryError) {
				if (!isServiceDisabled(retryError)) throw retryError;
				last = retryError;
			}
		}

		throw new StepError(`The Artifact Registry API was enabled in project ${project}, but it does not answer yet.`, {
			fix: 'It can take a few minutes to be active: rerun imagespec-gar shortly.',
			reason: 'SERVICE_DISABLED',
			cause: last,
		});
	}
}

const isServiceDisabled = (error: unknown) => error instanceof StepError && error.reason === 'SERVICE_DISABLED';

// ---------------------------------------------------------------------------------------------
// Before the build

/**
 * Before any build: may this account push to the repository (uploadArtifacts)? A definite no is
 * a StepError with the grant an admin can run; a check that cannot run only warns, and the push
 * has the last word.
 */
export async function checkPushPermission(
	c: Pick<StepContext, 'report' | 'ctx' | 'flags'>,
	registry: ArtifactRegistry,
	where: RepositoryRef & {account?: string; imageUri?: string},
): Promise<boolean> {
	const {project, location, repository} = where;
	let granted: string[];
	try {
		granted = await registry.testIamPermissions({project, location, repository}, [PUSH_PERMISSION], c.ctx.signal);
	} catch (error) {
		if (error instanceof CancelledError) throw error;
		c.report({
			type: 'note',
			level: 'warn',
			text: `Could not check whether you may push to ${repository} (${error instanceof Error ? error.message : String(error)}); trying the push anyway.`,
		});
		return false;
	}

	if (granted.includes(PUSH_PERMISSION)) return true;
	// Reading is enough when the image is already there (the build step then skips it).
	if (where.imageUri && !c.flags.force && (await imageExists(c.ctx, where.imageUri)).state === 'present') return false;
	throw new StepError(
		`You may not push to repository ${repository} in ${project} · ${location}: you lack ${PUSH_PERMISSION}, so the push would fail. Nothing was built.`,
		{
			fix: writerGrantFix(where, iamMember(where.account)),
			reason: 'NO_PUSH_PERMISSION',
		},
	);
}
