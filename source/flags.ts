/** The command-line contract, as the journey sees it (parsed by cli.tsx). */
export type Flags = {
	project?: string;
	location?: string;
	repository?: string;
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
	build: boolean;
	/** Build and push even when the tag is already in the repository. */
	force: boolean;
	yes: boolean;
	json: boolean;
	plain: boolean;
};

export const defaultFlags = (): Flags => ({env: [], commands: [], pipExtraIndexUrl: [], build: true, force: false, yes: false, json: false, plain: false});

/** `a, b,,c` → ['a', 'b', 'c'] */
export const splitList = (value: string | undefined): string[] | undefined =>
	value === undefined
		? undefined
		: value
				.split(',')
				.map(item => item.trim())
				.filter(Boolean);
