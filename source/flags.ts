import type {Sdk} from './services/sdk.js';

/** The command-line contract, as the journey sees it (parsed by cli.tsx). */
export type Flags = {
	project?: string;
	location?: string;
	repository?: string;
	/** false (--no-create): a missing repository is an error, never created. */
	create: boolean;
	/** A new repository's settings (asked when interactive). */
	description?: string;
	label: string[];
	immutableTags?: boolean;
	/** none | keep:N | delete-untagged:Dd */
	cleanup?: string;
	/** The Union data plane's worker service account, granted Reader on the repository. */
	dataPlaneSa?: string;
	/** Union's remote image builder's account (Writer) and the operator proxy's (Reader), when the data plane is in another project. */
	builderSa?: string;
	operatorProxySa?: string;
	/** Every read, no change: the run ends with the plan of what it would change. */
	dryRun: boolean;
	image?: string;
	baseImage?: string;
	pythonVersion?: string;
	packages?: string[];
	requirements?: string;
	aptPackages?: string[];
	env: string[];
	commands: string[];
	pipIndex?: string;
	pipExtraIndexUrl: string[];
	platform?: string;
	tagFormat?: string;
	builder?: string;
	output?: string;
	sdk?: Sdk;
	/** Flyte 2: also set image.registry in the project's flyte config.yaml (asked when interactive and not given). */
	flyteConfig?: boolean;
	build: boolean;
	/** Build and push even when the tag is already in the repository. */
	force: boolean;
	/** The person means to put a secret-looking value (--env HF_TOKEN=..., a URL with a password) into the module. */
	allowSecrets: boolean;
	/** `export`: gcloud | terraform. */
	format?: string;
	yes: boolean;
	json: boolean;
	plain: boolean;
	/** build: every missing or stale image of the module. */
	all?: boolean;
	/** build: how many images at once (validated by the command: 1-16). */
	jobs?: string;
};

export const defaultFlags = (): Flags => ({
	create: true,
	label: [],
	dryRun: false,
	env: [],
	commands: [],
	pipExtraIndexUrl: [],
	build: true,
	force: false,
	allowSecrets: false,
	yes: false,
	json: false,
	plain: false,
});

/** `a, b,,c` → ['a', 'b', 'c'] */
export const splitList = (value: string | undefined): string[] | undefined =>
	value === undefined
		? undefined
		: value
				.split(',')
				.map(item => item.trim())
				.filter(Boolean);
