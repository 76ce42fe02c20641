import type {Check} from '../services/checks.js';
import type {Sdk} from '../services/sdk.js';
import type {PlannedChange} from './plan.js';

/** The wizard's steps, in the order of the user's journey. */
export const STEPS = [
	{id: 'checks', title: 'Prerequisites'},
	{id: 'project', title: 'Project and location'},
	{id: 'repository', title: 'Repository'},
	{id: 'access', title: 'Data plane access'},
	{id: 'docker-auth', title: 'Docker authentication'},
	{id: 'imagespec', title: 'ImageSpec'},
	{id: 'build', title: 'Build and push'},
] as const;

export type StepId = (typeof STEPS)[number]['id'];
export type StepStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed' | 'cancelled';

/** The result document: `--json` prints it, the summary view draws it. */
export type JourneyResult = {
	ok: boolean;
	project?: string;
	location?: string;
	repository?: string;
	registry?: string;
	image?: string;
	tag?: string;
	imageUri?: string;
	specFile?: string;
	/** Which SDK's module was written: flyte (flyte.Image) or union/flytekit (ImageSpec, the default). */
	sdk?: Sdk;
	/** Flyte 2: the flyte config.yaml whose image.registry was set (--flyte-config). */
	flyteConfig?: string;
	pushed: boolean;
	/** Whether the repository has the image now (undefined: could not tell). */
	inRepository?: boolean;
	digest?: string;
	repositoryCreated?: boolean;
	/** Whether the Union data plane (another project's worker service account) may pull from the repository. */
	dataPlaneAccess?: {status: string; serviceAccount?: string; fix?: string};
	/** Union's remote image builder (another project): its account's Writer and the operator proxy's Reader on the repository. */
	builderAccess?: {status: string; grants: Array<{account: string; serviceAccount: string; role: string; status: string; fix?: string}>};
	buildSkipped?: string;
	logFile?: string;
	nextCommand?: string;
	/** The Python lines that use the image in a task (the import and the decorator). */
	usage?: string[];
	error?: {message: string; fix?: string; reason?: string};
	checks?: Check[];
	/** --dry-run: nothing was changed; `plan` lists each change the run would make, in order. */
	dryRun?: boolean;
	plan?: PlannedChange[];
	/** The rerun menu's "build every missing image": main hands these to `imagespec-gar build` (never in --json). */
	buildImages?: string[];
};

/**
 * One stream of events feeds every presenter (Ink view, plain lines, JSON), so no step
 * is written three times.
 */
export type JourneyEvent =
	| {type: 'step'; step: StepId; status: StepStatus; detail?: string; fix?: string}
	| {type: 'check'; check: Check}
	| {type: 'checks-started'; ids: Array<Check['id']>}
	| {type: 'note'; level: 'info' | 'warn'; text: string}
	| {type: 'code'; title: string; code: string}
	/** --dry-run: a change the run would make here, and does not. */
	| {type: 'plan'; change: PlannedChange}
	| {type: 'log'; line: string}
	| {type: 'build-step'; text: string}
	| {type: 'layer'; id: string; status: string; current?: number; total?: number}
	/** Everything known so far (after each step): what --json prints, with the error, when a later step fails. */
	| {type: 'known'; result: JourneyResult}
	/** The project's SDK, once the run knows it: the image step's title (and words) follow it. */
	| {type: 'sdk'; sdk: Sdk}
	| {type: 'done'; result: JourneyResult};

export type Reporter = (event: JourneyEvent) => void;

/** What the module declares, in the SDK's own word: a Flyte 2 project has flyte.Image, not ImageSpec. */
export const declarationNoun = (sdk: Sdk | undefined): string => (sdk === 'flyte' ? 'flyte.Image' : 'ImageSpec');

/** A step's title in the run's SDK: the image step is named after what the module declares. */
export const stepTitle = (id: string, sdk: Sdk | undefined): string =>
	id === 'imagespec' ? declarationNoun(sdk) : (STEPS.find(step => step.id === id)?.title ?? id);
