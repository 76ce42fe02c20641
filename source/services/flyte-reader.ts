/**
 * Reads every flyte.Image a Flyte 2 module declares, as `flyte build` would see it, and the URI
 * flyte gives each.
 * - `via: 'flyte'`: the Python on PATH imports flyte. The module runs with the real SDK; its
 *   `image.uri` is `sdkUri`, and the tool's own computation must agree (else TAG_MISMATCH).
 * - `via: 'stand-in'`: flyte does not import; the recording stand-in (flyte-stand-in.ts) is
 *   injected and the tool computes the URIs, for the flyte version the project pins exactly.
 * An image the tool cannot name (a layer it does not know, an unpinned flyte version...) carries
 * `problem` instead of a URI: never a guess.
 */
import path from 'node:path';
import type {ServiceContext} from './context.js';
import {StepError} from './errors.js';
import {computeFlyteUri, type FlyteBase, type FlyteImage, type FlyteLayer} from './flyte-image.js';
import {FLYTE_READER, FLYTE_STAND_IN} from './flyte-stand-in.js';
import {runModuleReader} from './python.js';

export type ReadFlyteImage = {
	variable: string;
	variables: string[];
	/** Undefined when the declaration uses what the tool does not model (see problem). */
	image?: FlyteImage;
	uri?: string;
	/** flyte's own `image.uri`, when flyte answered. */
	sdkUri?: string;
	problem?: StepError;
};

export type FlyteEnvironment = {variable: string; name: string /** The variable of its image, when a module-level one. */; image?: string};

export type FlyteModule = {
	via: 'flyte' | 'stand-in';
	/** The importable flyte's version (via flyte only). */
	flyteVersion?: string;
	images: ReadFlyteImage[];
	environments: FlyteEnvironment[];
};

export type ReadFlyteOptions = {
	moduleFile: string;
	/** Where `flyte build` runs: relative requirements paths resolve here. */
	folder: string;
	python: string;
	/** The flyte version the project pins exactly (flyte==X.Y.Z), for the stand-in. */
	pinnedFlyte?: string;
	/** flyte's `image.registry`, for a declaration that names none. */
	configRegistry?: string;
	timeout?: number;
};

const MARK = 'IMAGESPEC_GAR_FLYTE ';

type Where = {file: string; line: number | null; message: string};
type EncodedLayer = Record<string, unknown> & {kind: string};
type Record_ = {
	variables: string[];
	name: string | null;
	registry: string | null;
	platform: string[];
	cloned: boolean;
	debian?: {python_version: number[]; flyte_version: string | null; install_flyte: boolean};
	base_image?: string | null;
	layers: EncodedLayer[];
	uri?: string;
	sdk_error?: Where;
};
type Output =
	| {broken: string}
	| {error: Where}
	| {via: 'flyte' | 'stand-in'; version: string | null; images: Record_[]; environments: Array<{variable: string; name: string; image: string | null}>};

const describe = (where: Where, folder: string): string =>
	`${path.relative(folder, where.file) || where.file}${where.line === null ? '' : `:${where.line}`}: ${where.message}`;

const decodeLayer = (layer: EncodedLayer): FlyteLayer | undefined => {
	if (layer.kind === 'unsupported') return undefined;
	if (layer.kind === 'env_vars') return {kind: 'env_vars', env: Object.fromEntries(layer.env as Array<[string, string]>)};
	return layer as FlyteLayer;
};

/** The tool's model of a recorded image, or why there is none. */
const decodeImage = (record: Record_): FlyteImage | string => {
	if (!record.cloned || !record.name) return 'it has no name of its own (a bare from_base or from_debian_base is not built)';
	const unsupported = record.layers.filter(layer => layer.kind === 'unsupported').map(layer => String(layer.layer));
	if (unsupported.length > 0) return `it uses ${unsupported.join(', ')}, which the tool does not model`;
	let base: FlyteBase;
	if (record.debian) {
		const [major, minor] = record.debian.python_version;
		if (!record.debian.install_flyte) return 'from_debian_base(install_flyte=False) builds a base the tool does not reproduce';
		base = {kind: 'debian', pythonVersion: [major!, minor!], ...(record.debian.flyte_version ? {flyteVersion: record.debian.flyte_version} : {})};
	} else if (record.base_image) {
		base = {kind: 'base', uri: record.base_image};
	} else {
		return 'it has no base image (from_dockerfile or from_ref_name)';
	}
	return {
		name: record.name,
		...(record.registry ? {registry: record.registry} : {}),
		platform: record.platform,
		base,
		layers: record.layers.map(layer => decodeLayer(layer)!),
	};
};

export const readFlyteModule = async (ctx: ServiceContext, options: ReadFlyteOptions): Promise<FlyteModule> => {
	const output = await runModuleReader<Output>(ctx, options.python, {script: FLYTE_READER, mark: MARK, input: FLYTE_STAND_IN, ...options});
	if ('broken' in output) {
		throw new StepError(`flyte is installed but does not import (${output.broken}); \`flyte build\` would fail the same way.`, {
			fix: `Repair the environment of ${options.python}, e.g. pip install --force-reinstall flyte.`,
			reason: 'SDK_BROKEN',
		});
	}
	if ('error' in output) {
		throw new StepError(describe(output.error, options.folder), {
			fix: `Fix ${path.basename(options.moduleFile)} so that \`python ${path.basename(options.moduleFile)}\` runs, then rerun.`,
			reason: 'MODULE_FAILED',
		});
	}
	const installedFlyte = output.via === 'flyte' ? (output.version ?? undefined) : options.pinnedFlyte;
	const images: ReadFlyteImage[] = [];
	for (const record of output.images) {
		const variable = record.variables[0]!;
		const entry: ReadFlyteImage = {variable, variables: record.variables};
		const image = decodeImage(record);
		if (typeof image === 'string') {
			entry.problem = new StepError(`Cannot name ${variable}: ${image}.`, {
				fix: 'Build it with `flyte build` itself; the tool reports only images it can name.',
				reason: 'FLYTE_IMAGE_UNMODELLED',
			});
		} else {
			entry.image = image;
			// a handful of images
			const uri = await computeFlyteUri(image, {folder: options.folder, installedFlyte, configRegistry: options.configRegistry});
			if (uri.known) entry.uri = uri.uri;
			else
				entry.problem = new StepError(`Cannot name ${variable}: ${uri.reason}.`, {
					fix: 'Pin flyte exactly (flyte==X.Y.Z) in the project, or install it in this Python.',
					reason: 'FLYTE_VERSION_UNKNOWN',
				});
		}
		if (output.via === 'flyte') {
			if (record.sdk_error) {
				entry.problem = new StepError(`flyte cannot name ${variable}: ${describe(record.sdk_error, options.folder)}`, {reason: 'SDK_TAG_FAILED'});
				delete entry.uri;
			} else if (record.uri !== undefined) {
				entry.sdkUri = record.uri;
				if (entry.uri !== undefined && entry.uri !== record.uri) {
					throw new StepError(`The URI of ${variable} differs: flyte ${output.version ?? ''} names ${record.uri}, imagespec-gar computed ${entry.uri}.`, {
						fix: 'Report this with the declaration; meanwhile build with `flyte build` itself.',
						reason: 'TAG_MISMATCH',
					});
				}
				if (entry.uri === undefined) {
					// Something only flyte models (a layer the tool does not write): its answer stands.
					entry.uri = record.uri;
					delete entry.problem;
				}
			}
		}
		images.push(entry);
	}
	return {
		via: output.via,
		...(output.via === 'flyte' && output.version ? {flyteVersion: output.version} : {}),
		images,
		environments: output.environments.map(env => ({variable: env.variable, name: env.name, ...(env.image ? {image: env.image} : {})})),
	};
};
