import {createHash, type Hash} from 'node:crypto';
import path from 'node:path';
import {StepError} from './errors.js';
import {readRegularFile} from './file-safety.js';

/*
 * Flyte 2's `flyte.Image` as the wizard writes and reads it, and the URI flyte computes for it.
 * Read from flyteorg/flyte-sdk 7e2d4231 (v2.6.5), src/flyte/_image.py: `Image._get_hash_digest`
 * and each layer's `update_hash`. Vectors with provenance: test/fixtures/flyte-uri-vectors.ts.
 */

/** `from_debian_base(python_version=..., flyte_version=...)` or `from_base(uri)`. */
export type FlyteBase =
	| {kind: 'debian'; pythonVersion: [number, number] /** `flyte_version=` when the declaration pins it. */; flyteVersion?: string}
	| {kind: 'base'; uri: string};

/** flyte's PipOption fields, as the wizard names them. */
export type PipOptions = {indexUrl?: string; extraIndexUrls?: string[]; pre?: boolean; extraArgs?: string};

/** The layers the wizard writes, named after the `with_*` call that adds each. */
export type FlyteLayer =
	| ({kind: 'pip_packages'; packages: string[]} & PipOptions)
	| ({kind: 'requirements' /** As written, relative to the project folder. */; file: string} & PipOptions)
	| {kind: 'apt_packages'; packages: string[]}
	| {kind: 'env_vars'; env: Record<string, string>}
	| {kind: 'commands'; commands: string[]};

export type FlyteImage = {
	name: string;
	/** Absent: flyte takes `image.registry` from its config (or FLYTE_IMAGE_REGISTRY). */
	registry?: string;
	/** Absent: flyte's default, both amd64 and arm64. Not part of the tag. */
	platform?: string[];
	base: FlyteBase;
	layers: FlyteLayer[];
};

/** The platform the wizard writes: task pods run on amd64 nodes, and a second arch doubles an emulated build. */
export const DEFAULT_FLYTE_PLATFORM = ['linux/amd64'];

/** Where flyte's released default images live (`_BASE_REGISTRY`, `_DEFAULT_IMAGE_NAME`). */
const FLYTE_BASE_REPOSITORY = 'ghcr.io/flyteorg/flyte';

export type FlyteUri =
	| {known: true; uri: string; tag: string; baseImage: string}
	/** Why the URI cannot be known without running flyte itself, in one sentence. */
	| {known: false; reason: string};

/**
 * `from_debian_base`'s base image: the released `ghcr.io/flyteorg/flyte:pyX.Y-v<flyte version>`,
 * where the version is the declaration's `flyte_version` or else the installed flyte's. A dev
 * build of flyte builds its base from layers of its own instead: undefined.
 */
export const debianBaseImage = (base: Extract<FlyteBase, {kind: 'debian'}>, installedFlyte: string | undefined): string | undefined => {
	const [major, minor] = base.pythonVersion;
	let version = base.flyteVersion;
	if (version === undefined) {
		if (installedFlyte === undefined || installedFlyte.includes('dev')) return undefined;
		version = installedFlyte.replaceAll('+', '-');
	}
	const suffix = version.startsWith('v') ? version : `v${version}`;
	return `${FLYTE_BASE_REPOSITORY}:py${major}.${minor}-${suffix}`;
};

/** PipOption.update_hash: the options concatenated, then (PipPackages) the packages concatenated. */
const pipOptionsText = (options: PipOptions): string =>
	(options.indexUrl ?? '') + (options.extraIndexUrls ?? []).join('') + (options.pre ? 'True' : '') + (options.extraArgs ?? '');

const hashLayer = async (hasher: Hash, layer: FlyteLayer, folder: string): Promise<void> => {
	switch (layer.kind) {
		case 'pip_packages': {
			hasher.update(pipOptionsText(layer) + layer.packages.join(''), 'utf8');
			break;
		}
		case 'requirements': {
			// Requirements is a PipPackages without packages, then the file's bytes.
			hasher.update(pipOptionsText(layer), 'utf8');
			const file = path.resolve(folder, layer.file);
			const bytes = await readRegularFile(file);
			if (!bytes)
				throw new StepError(`${file} does not exist: the requirements layer hashes its bytes.`, {
					fix: `Create ${file}, or name another file.`,
					reason: 'REQUIREMENTS_MISSING',
				});
			hasher.update(bytes);
			break;
		}
		case 'apt_packages': {
			hasher.update(layer.packages.join(''), 'utf8');
			break;
		}
		case 'env_vars': {
			hasher.update(
				Object.entries(layer.env)
					.map(([key, value]) => `${key}=${value}`)
					.join(' '),
				'utf8',
			);
			break;
		}
		case 'commands': {
			hasher.update(layer.commands.join(''), 'utf8');
			break;
		}
	}
};

/**
 * The URI flyte gives `image`: `{registry}/{name}:{md5 hex}` over the base image string and each
 * layer in order (registry, name and platform are not hashed). `installedFlyte` is the flyte
 * version the declaration runs under (importable, or pinned exactly by the project);
 * `configRegistry` is flyte's `image.registry` when the declaration names none. Requirements
 * files are read from `folder`, where flyte would resolve the declaration's relative path.
 */
export const computeFlyteUri = async (image: FlyteImage, options: {folder: string; installedFlyte?: string; configRegistry?: string}): Promise<FlyteUri> => {
	const baseImage = image.base.kind === 'base' ? image.base.uri : debianBaseImage(image.base, options.installedFlyte);
	if (baseImage === undefined) {
		return {
			known: false,
			reason:
				options.installedFlyte === undefined
					? `the tag of ${image.name} depends on the flyte version, and flyte is neither importable nor pinned exactly (flyte==X.Y.Z) by the project`
					: `flyte ${options.installedFlyte} is a development build, whose from_debian_base image is built from layers this tool does not reproduce`,
		};
	}
	const hasher = createHash('md5');
	hasher.update(baseImage, 'utf8');
	for (const layer of image.layers) {
		try {
			// the layers hash in order
			await hashLayer(hasher, layer, options.folder);
		} catch (error) {
			return {known: false, reason: `${(layer as {file?: string}).file ?? 'a layer file'} cannot be read (${(error as Error).message})`};
		}
	}
	const tag = hasher.digest('hex');
	const registry = image.registry ?? options.configRegistry;
	return {known: true, tag, baseImage, uri: registry ? `${registry}/${image.name}:${tag}` : `${image.name}:${tag}`};
};
