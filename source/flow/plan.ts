import {repositoryName, type ArtifactRegistry, type Repository, type RepositoryRef} from '../services/artifact-registry.js';
import {readDockerConfig, isGcloudHelperRegistered} from '../services/docker-config.js';
import {StepError} from '../services/errors.js';
import type {ServiceContext} from '../services/context.js';
import {dockerConfigPath} from '../services/platform.js';
import {ARTIFACT_REGISTRY_SERVICE, configureDockerCommand, enableApiCommand} from '../services/fixes.js';
import type {Prompter, Question} from './ask.js';
import type {JourneyResult, Reporter, StepId} from './events.js';

/**
 * One change a run would make, as `--dry-run` reports it: in the order the journey would make
 * it, with its exact content (what a reviewer approves) and, where there is one, the command
 * that makes it by hand.
 */
export type PlannedChange = {
	kind: 'enable-api' | 'create-repository' | 'grant-access' | 'configure-docker' | 'write-file' | 'build-push' | 'save-answers';
	step: StepId;
	/** One line: what would change, e.g. "create repository union-images in acme-ml · us-east1". */
	summary: string;
	/** The exact content: the repository's settings, the IAM diff, the config entry, the module or its diff. */
	content?: string;
	/** The command that makes the change by hand, when one does. */
	command?: string;
	/** The change as data (names, file, settings), for --json. */
	data?: Record<string, unknown>;
};

export const plan = (change: PlannedChange) => ({type: 'plan' as const, change});

const DRY_RUN_MUTATION = 'DRY_RUN_MUTATION';

/**
 * The journey's Artifact Registry client under --dry-run: every read goes through; a change
 * is never sent (a guard the steps' own dry-run branches should never reach). A repository the
 * plan creates reads as new and empty, so the steps after it plan against it. A disabled API
 * is planned to be enabled once, and reads as a project with nothing in it.
 */
export function dryRunRegistry(registry: ArtifactRegistry, report: Reporter): ArtifactRegistry & {planRepository(ref: RepositoryRef): void} {
	const planned = new Set<string>();
	const enabling = new Set<string>();
	const isPlanned = (ref: RepositoryRef) => planned.has(repositoryName(ref)) || enabling.has(ref.project);
	const refuse = (what: string): never => {
		throw new StepError(`--dry-run: ${what} must not be sent (a bug: please report it).`, {reason: DRY_RUN_MUTATION});
	};

	/** A read in a project whose API is off: plan the enable once, answer as for an empty project. */
	const read = async <T>(project: string, work: () => Promise<T>, empty: () => T): Promise<T> => {
		if (enabling.has(project)) return empty();
		try {
			return await work();
		} catch (error) {
			if (!(error instanceof StepError) || error.reason !== 'SERVICE_DISABLED') throw error;
			enabling.add(project);
			report(
				plan({
					kind: 'enable-api',
					step: 'repository',
					summary: `enable the Artifact Registry API in project ${project}`,
					command: enableApiCommand(project),
					data: {project, service: ARTIFACT_REGISTRY_SERVICE},
				}),
			);
			return empty();
		}
	};

	const fresh = (ref: RepositoryRef): Repository => ({
		name: repositoryName(ref),
		id: ref.repository,
		project: ref.project,
		location: ref.location,
		format: 'DOCKER',
		description: '',
		labels: {},
	});

	return {
		planRepository(ref) {
			planned.add(repositoryName(ref));
		},

		async *listRepositoryPages(project, location, options) {
			if (enabling.has(project)) {
				yield [];
				return;
			}

			const iterator = registry.listRepositoryPages(project, location, options)[Symbol.asyncIterator]();
			for (;;) {
				const next = await read(
					project,
					async () => iterator.next(),
					() => ({done: true as const, value: undefined}),
				);
				if (next.done) {
					if (enabling.has(project)) yield [];
					return;
				}

				yield next.value;
			}
		},

		async getRepository(ref, signal) {
			if (isPlanned(ref)) return planned.has(repositoryName(ref)) ? fresh(ref) : undefined;
			return read(
				ref.project,
				async () => registry.getRepository(ref, signal),
				() => undefined,
			);
		},

		async createDockerRepository(ref) {
			return refuse(`creating repository ${ref.repository}`);
		},

		async testIamPermissions(ref, permissions, signal) {
			// The person who creates the repository administers it.
			if (isPlanned(ref)) return [...permissions];
			return registry.testIamPermissions(ref, permissions, signal);
		},

		async getIamPolicy(ref, signal) {
			if (isPlanned(ref)) return {bindings: []};
			return registry.getIamPolicy(ref, signal);
		},

		async setIamPolicy(ref) {
			return refuse(`the IAM policy of repository ${ref.repository}`);
		},

		listLocations: async (project, signal) => registry.listLocations(project, signal),

		async findTag(where, image, tag, signal) {
			if (isPlanned(where)) return undefined;
			return registry.findTag(where, image, tag, signal);
		},

		async listDockerImages(where, options) {
			// A repository the plan would create holds no images yet.
			if (isPlanned(where)) return [];
			return registry.listDockerImages(where, options);
		},

		close: async () => registry.close(),
	};
}

/** What `gcloud auth configure-docker HOST` would change in docker's config.json, or undefined when nothing. */
export async function planDockerAuth(ctx: ServiceContext, host: string): Promise<PlannedChange | undefined> {
	const configFile = dockerConfigPath(ctx.platform);
	if (isGcloudHelperRegistered(await readDockerConfig(ctx.platform), host)) return undefined;
	return {
		kind: 'configure-docker',
		step: 'docker-auth',
		summary: `register gcloud as docker's credential helper for ${host} in ${configFile}`,
		content: `"credHelpers": {\n  "${host}": "gcloud"\n}\n(every other entry of ${configFile} is kept)`,
		command: configureDockerCommand(host),
		data: {host, configFile, credHelpers: {[host]: 'gcloud'}},
	};
}

/** What a planned change shows under its title: its content, then the command that makes it. */
export const planBody = (change: PlannedChange): string[] => [
	...(change.content ? change.content.trimEnd().split('\n') : []),
	...(change.command ? [`$ ${change.command}`] : []),
];

/** How a planned change is titled on screen and in logs. */
export const planTitle = (change: PlannedChange): string => `--dry-run: would ${change.summary}`;

/** The plan at the end of a dry run: one numbered line per change. */
export const planLines = (changes: readonly PlannedChange[]): string[] =>
	changes.length === 0
		? ['Nothing to change: everything is in place.']
		: changes.map((change, index) => `${index + 1}. ${change.summary}${change.command ? `  (${change.command})` : ''}`);

/** A file the run would write: the whole content when new, else the diff. */
export const planFile = (file: string, shown: string, kind: 'create' | 'add' | 'update', preview: string, step: StepId) =>
	plan({
		kind: 'write-file',
		step,
		summary: `${kind === 'create' ? 'create' : 'update'} ${shown}`,
		content: preview,
		data: {file, action: kind === 'create' ? 'create' : 'update'},
	});

type Recorded = {question: Question; answer: string | boolean; used?: boolean};

const sameQuestion = (a: Question, b: Question) => a.kind === b.kind && a.flag === b.flag && a.message === b.message;

/**
 * An interactive --dry-run: the journey once with every read and no change, its plan shown
 * (`shown`), then "Apply these changes?". Yes runs it again for real, answering each question
 * as the person did in the dry run (nobody is asked twice); a confirmation the dry run never
 * asked (create the repository, write the module, grant the reader role) takes its default:
 * applying the plan said yes to it.
 */
export async function planThenApply(
	prompter: Prompter,
	signal: AbortSignal,
	run: (prompter: Prompter, dryRun: boolean) => Promise<JourneyResult>,
	shown: (planned: JourneyResult) => void,
): Promise<JourneyResult> {
	const recorded: Recorded[] = [];
	const recording =
		// biome-ignore lint/suspicious/noExplicitAny: wraps each Prompter method, whose question types differ
			<T extends string | boolean>(ask: (question: any, signal: AbortSignal) => Promise<T>) =>
			async (question: Question, signal: AbortSignal): Promise<T> => {
				const answer = await ask(question, signal);
				recorded.push({question, answer});
				return answer;
			};

	const planned = await run(
		{
			...prompter,
			select: recording(prompter.select),
			text: recording(prompter.text),
			confirm: recording(prompter.confirm),
			search: prompter.search && recording(prompter.search),
		},
		true,
	);
	shown(planned);
	if (!planned.plan || planned.plan.length === 0) return planned;
	if (!(await prompter.confirm({kind: 'confirm', flag: 'dry-run', message: 'Apply these changes?', default: false}, signal))) return planned;

	const replay =
		// biome-ignore lint/suspicious/noExplicitAny: wraps each Prompter method, whose question types differ
			<T extends string | boolean>(ask: (question: any, signal: AbortSignal) => Promise<T>) =>
			async (question: Question, signal: AbortSignal): Promise<T> => {
				const earlier = recorded.find(entry => !entry.used && sameQuestion(entry.question, question));
				if (earlier) {
					earlier.used = true;
					return earlier.answer as T;
				}

				if (question.kind === 'confirm') return question.default as T;
				return ask(question, signal);
			};

	return run(
		{
			...prompter,
			select: replay(prompter.select),
			text: replay(prompter.text),
			confirm: replay(prompter.confirm),
			search: prompter.search && replay(prompter.search),
		},
		false,
	);
}
