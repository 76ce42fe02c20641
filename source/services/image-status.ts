/**
 * Which of the module's images the repository has: one ListDockerImages listing per repository
 * (paged), however many images the module declares. No React here: `status`, `build --all` and
 * the rerun menu all read these rows.
 */
import type {ArtifactRegistry, DockerImageEntry, RepositoryRef} from './artifact-registry.js';
import type {RegistryHandle} from './registry-handle.js';
import {CancelledError, StepError, isAbort} from './errors.js';
import type {ModuleImage} from './module-images.js';
import type {SavedImage} from './store.js';

/**
 * pushed: the repository has this tag. stale: it has other tags of this image, not this one (the
 * spec or its requirements changed since the last push). missing: no tag of it at all.
 * cannot-tell: the tag or the repository could not be read. not-checked: not Artifact Registry.
 */
export type ImageState = 'pushed' | 'stale' | 'missing' | 'cannot-tell' | 'not-checked';

export type ImageStatus = {
	variable: string;
	name: string;
	state: ImageState;
	tag?: string;
	uri?: string;
	registry?: string;
	/** pushed: the tag's image. stale: the newest image of this name the repository has. */
	digest?: string;
	uploadTime?: string;
	sizeBytes?: number;
	/** stale: the tags the repository has for this image (newest first). */
	otherTags?: string[];
	/** stale: what changed since the last push, when the tool can tell. */
	changed?: string;
	/** cannot-tell / not-checked: why. */
	reason?: string;
	detail?: string;
	fix?: string;
};

export type StatusOptions = {
	/** Where a registry string lives in Artifact Registry; undefined for other registries. */
	whereOf: (registry: string) => RepositoryRef | undefined;
	/** The Artifact Registry client, opened only when some image is in Artifact Registry. */
	registry: RegistryHandle;
	/** This folder's saved images by name: what was pushed from here last (for `changed`). */
	saved?: Record<string, SavedImage>;
	signal?: AbortSignal;
};

const key = (where: RepositoryRef) => `${where.project}/${where.location}/${where.repository}`;

export async function imageStatuses(images: readonly ModuleImage[], options: StatusOptions): Promise<ImageStatus[]> {
	const wheres = images.map(image => (image.spec.registry ? options.whereOf(image.spec.registry) : undefined));
	const repositories = new Map<string, RepositoryRef>();
	for (const where of wheres) if (where) repositories.set(key(where), where);

	// One listing per repository, all at once.
	const listings = new Map<string, DockerImageEntry[] | StepError>();
	if (repositories.size > 0) {
		let client: ArtifactRegistry | StepError;
		try {
			client = await options.registry.open();
		} catch (error) {
			if (isAbort(error) || options.signal?.aborted) throw new CancelledError();
			client = asStepError(error);
		}
		await Promise.all(
			[...repositories].map(async ([id, where]) => {
				if (client instanceof StepError) {
					listings.set(id, client);
					return;
				}
				try {
					listings.set(id, await client.listDockerImages(where, {signal: options.signal}));
				} catch (error) {
					if (isAbort(error) || options.signal?.aborted) throw new CancelledError();
					listings.set(id, asStepError(error));
				}
			}),
		);
	}

	return images.map((image, index) => {
		const where = wheres[index];
		const row: ImageStatus = {
			variable: image.variable,
			name: image.spec.name,
			state: 'missing',
			...(image.tag ? {tag: image.tag} : {}),
			...(image.uri ? {uri: image.uri} : {}),
			...(image.spec.registry ? {registry: image.spec.registry} : {}),
		};
		if (!where) {
			return {
				...row,
				state: 'not-checked',
				reason: 'NOT_ARTIFACT_REGISTRY',
				detail: image.spec.registry
					? `${image.spec.registry} is not an Artifact Registry repository: not checked`
					: 'no registry: the image stays on the machine that builds it',
			};
		}
		if (image.problem || !image.tag) {
			return {...row, ...cannotTell(image.problem ?? new StepError('its tag cannot be computed', {reason: 'NO_TAG'}))};
		}
		const listing = listings.get(key(where));
		if (listing instanceof StepError || listing === undefined) {
			return {...row, ...cannotTell(listing ?? new StepError('no answer', {reason: 'NO_ANSWER'}))};
		}
		// Artifact Registry keeps image names lowercase, as flytekit writes them.
		const name = image.spec.name.toLowerCase();
		const ofImage = listing.filter(entry => entry.image === name);
		const found = ofImage.find(entry => entry.tags.includes(image.tag!));
		if (found) return {...row, state: 'pushed', digest: found.digest, ...times(found)};
		const tagged = ofImage.filter(entry => entry.tags.length > 0).sort((a, b) => (b.uploadTime ?? '').localeCompare(a.uploadTime ?? ''));
		if (tagged.length === 0) return row;
		const newest = tagged[0]!;
		const otherTags = tagged.flatMap(entry => entry.tags);
		const changed = whatChanged(image, options.saved?.[image.spec.name], otherTags);
		return {...row, state: 'stale', digest: newest.digest, ...times(newest), otherTags, ...(changed ? {changed} : {})};
	});
}

const cannotTell = (why: StepError) => ({
	state: 'cannot-tell' as const,
	reason: why.reason ?? 'UNKNOWN',
	detail: why.message,
	...(why.fix ? {fix: why.fix} : {}),
});

const times = (entry: DockerImageEntry) => ({
	...(entry.uploadTime ? {uploadTime: entry.uploadTime} : {}),
	...(entry.sizeBytes === undefined ? {} : {sizeBytes: entry.sizeBytes}),
});

const asStepError = (error: unknown): StepError =>
	error instanceof StepError ? error : new StepError(error instanceof Error ? error.message : String(error), {reason: 'UNEXPECTED'});

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * What changed since the push this folder made last, when the tool can tell: the saved answers
 * hold that push's tag and fields. Fields that differ point at the module; equal fields with a
 * requirements file point at that file (its digest is part of the tag).
 */
export function whatChanged(image: ModuleImage, saved: SavedImage | undefined, tagsThere: readonly string[]): string | undefined {
	if (!saved || !tagsThere.includes(saved.tag) || saved.tag === image.tag) return undefined;
	const {spec} = image;
	const fields = (
		[
			['python_version', saved.pythonVersion, spec.python_version],
			['packages', saved.packages, spec.packages],
			['base_image', saved.baseImage, typeof spec.base_image === 'string' ? spec.base_image : undefined],
			['platform', saved.platform, spec.platform],
			['requirements', saved.requirements, spec.requirements],
		] as const
	)
		.filter(([, before, now]) => !same(before, now))
		.map(([field]) => field);
	const module = saved.specFile ? saved.specFile.split(/[/\\]/).at(-1) : 'the module';
	if (fields.length > 0) return `${module} changed since the last push: ${fields.join(', ')}`;
	if (spec.requirements) return `${spec.requirements} changed since the last push`;
	return `${module} changed since the last push`;
}
