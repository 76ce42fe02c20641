/**
 * Artifact Registry's docker-image calls (ListDockerImages, GetDockerImage, GetTag), answered
 * from a real registry's HTTP API: what the fake says is in a repository is what was pushed.
 * `projects/P/locations/L/repositories/R` is the registry path `P/R/` on `host` (any location:
 * one loopback registry stands in for every `<location>-docker.pkg.dev`).
 *
 * startFakeArtifactRegistry({dockerImages: {host, auth}}) serves these beside its own methods.
 * ListDockerImages pages as the real API does (page_size up to 1,000, an opaque page_token), over
 * the registry's images and any seeded with `fake.seedDockerImages` (many images, nothing pushed).
 */
import type * as grpc from '@grpc/grpc-js';

export type DockerImagesSource = {
	/** 127.0.0.1:PORT of a `docker-registry serve`. */
	host: string;
	/** Basic credentials when the registry demands them. */
	auth?: {user: string; password: string};
};

type Calls = Array<{method: string; request: any}>;
type Status = {code: number; details: string};

/** A docker image the fake lists without a registry behind it (bench: thousands of them). */
export type SeededDockerImage = {image: string; digest: string; tags: string[]; sizeBytes?: number; uploadTime?: Date};

export type DockerImagesOptions = {
	/** The real registry to answer from; without one only seeded images exist. */
	source?: DockerImagesSource;
	/** Repository name → images listed beside the registry's. */
	seeded: Map<string, SeededDockerImage[]>;
	/** The fake's own gate (failNext, denied permissions): an error to answer with, or undefined. */
	before: (method: string, request: any) => grpc.ServerErrorResponse | undefined;
};

const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;
const UNAVAILABLE = 14;
const UNIMPLEMENTED = 12;
const ACCEPT = [
	'application/vnd.oci.image.index.v1+json',
	'application/vnd.oci.image.manifest.v1+json',
	'application/vnd.docker.distribution.manifest.list.v2+json',
	'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const repositoryPattern = /^projects\/([^/]+)\/locations\/([^/]+)\/repositories\/([^/]+)$/;

class GrpcFailure {
	constructor(readonly status: Status) {}
}

export function dockerImageMethods(options: DockerImagesOptions, calls: Calls): Record<string, grpc.UntypedHandleCall> {
	const {source, seeded} = options;
	const headers = (extra: Record<string, string> = {}) => ({
		...extra,
		...(source?.auth ? {authorization: `Basic ${Buffer.from(`${source.auth.user}:${source.auth.password}`).toString('base64')}`} : {}),
	});
	const get = async (pathname: string, init: RequestInit = {}) => {
		if (!source) return new Response(null, {status: 404});
		const response = await fetch(`http://${source.host}${pathname}`, {...init, headers: headers(init.headers as Record<string, string>)}).catch(
			(error: unknown) => {
				throw new GrpcFailure({code: UNAVAILABLE, details: `registry ${source.host}: ${String(error)}`});
			},
		);
		return response;
	};

	/** Every tag of `name` (P/R/IMAGE), grouped by the digest it points at. */
	const imagesOf = async (name: string) => {
		const list = await get(`/v2/${name}/tags/list`);
		if (list.status === 404) return [];
		const {tags} = (await list.json()) as {tags?: string[] | null};
		const byDigest = new Map<string, {tags: string[]; size: number; mediaType: string}>();
		for (const tag of tags ?? []) {
			// a handful of tags per test image
			const head = await get(`/v2/${name}/manifests/${tag}`, {method: 'HEAD', headers: {accept: ACCEPT}});
			const digest = head.headers.get('docker-content-digest');
			if (!head.ok || !digest) continue;
			const entry = byDigest.get(digest) ?? {
				tags: [],
				size: Number(head.headers.get('content-length') ?? 0),
				mediaType: head.headers.get('content-type') ?? '',
			};
			entry.tags.push(tag);
			byDigest.set(digest, entry);
		}

		return [...byDigest.entries()].map(([digest, entry]) => ({digest, ...entry}));
	};

	const repositoryPath = (parent: string) => {
		const match = repositoryPattern.exec(parent);
		if (!match) throw new GrpcFailure({code: INVALID_ARGUMENT, details: `invalid repository "${parent}"`});
		const [, project = '', , repository = ''] = match;
		return `${project}/${repository}`;
	};

	const dockerImage = (parent: string, image: string, found: {digest: string; tags: string[]; size: number; mediaType: string; uploadTime?: Date}) => ({
		name: `${parent}/dockerImages/${encodeURIComponent(image)}@${found.digest}`,
		uri: `${source?.host ?? 'registry.invalid'}/${repositoryPath(parent)}/${image}@${found.digest}`,
		tags: found.tags,
		imageSizeBytes: String(found.size),
		mediaType: found.mediaType,
		uploadTime: {seconds: String(Math.floor((found.uploadTime?.getTime() ?? Date.now()) / 1000)), nanos: 0},
	});
	const seededOf = (parent: string, image?: string) =>
		(seeded.get(parent) ?? [])
			.filter(entry => image === undefined || entry.image === image)
			.map(entry => ({...entry, size: entry.sizeBytes ?? 0, mediaType: 'application/vnd.docker.distribution.manifest.v2+json'}));

	const handle =
		(method: string, answer: (request: any) => Promise<object>) =>
		(call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>): void => {
			calls.push({method, request: call.request});
			const refused = options.before(method, call.request);
			if (refused) {
				callback(refused);
				return;
			}
			// Without a registry, a repository nothing was seeded in has no such method (as before seeding existed).
			const resource = String(call.request?.parent ?? call.request?.name ?? '');
			if (!source && ![...seeded.keys()].some(repository => resource === repository || resource.startsWith(`${repository}/`))) {
				callback({code: UNIMPLEMENTED, details: `${method} is not served without a registry`});
				return;
			}
			answer(call.request).then(
				result => {
					callback(null, result);
				},
				(error: unknown) => {
					callback(error instanceof GrpcFailure ? error.status : {code: 13, details: String(error)});
				},
			);
		};

	return {
		ListDockerImages: handle('ListDockerImages', async (request: {parent?: string; pageSize?: number; pageToken?: string}) => {
			const parent = request.parent ?? '';
			const prefix = `${repositoryPath(parent)}/`;
			const offset = request.pageToken ? Number(Buffer.from(request.pageToken, 'base64url').toString()) : 0;
			if (!Number.isInteger(offset) || offset < 0) throw new GrpcFailure({code: INVALID_ARGUMENT, details: 'invalid page token'});
			const listed = await get('/v2/_catalog?n=1000');
			const catalog = (listed.ok ? await listed.json() : {}) as {repositories?: string[]};
			const all = seededOf(parent).map(found => dockerImage(parent, found.image, found));
			for (const name of catalog.repositories ?? []) {
				if (!name.startsWith(prefix)) continue;
				for (const found of await imagesOf(name)) all.push(dockerImage(parent, name.slice(prefix.length), found));
			}

			all.sort((a, b) => a.name.localeCompare(b.name));
			// The real API: at most 1,000 per page; a token as long as more remain.
			const size = request.pageSize && request.pageSize > 0 ? Math.min(request.pageSize, 1000) : 100;
			const end = offset + size;
			return {dockerImages: all.slice(offset, end), nextPageToken: end < all.length ? Buffer.from(String(end)).toString('base64url') : ''};
		}),

		GetDockerImage: handle('GetDockerImage', async (request: {name?: string}) => {
			const match = /^(.+)\/dockerImages\/([^@]+)@(sha256:[a-f\d]{64})$/.exec(request.name ?? '');
			if (!match) throw new GrpcFailure({code: INVALID_ARGUMENT, details: `invalid docker image name "${request.name ?? ''}"`});
			const [, parent = '', encoded = '', digest] = match;
			const image = decodeURIComponent(encoded);
			const found = [...seededOf(parent, image), ...(await imagesOf(`${repositoryPath(parent)}/${image}`))].find(entry => entry.digest === digest);
			if (!found) throw new GrpcFailure({code: NOT_FOUND, details: 'Requested entity was not found.'});
			return dockerImage(parent, image, found);
		}),

		GetTag: handle('GetTag', async (request: {name?: string}) => {
			const match = /^(.+)\/packages\/([^/]+)\/tags\/([^/]+)$/.exec(request.name ?? '');
			if (!match) throw new GrpcFailure({code: INVALID_ARGUMENT, details: `invalid tag name "${request.name ?? ''}"`});
			const [, parent = '', pkg = '', tag = ''] = match;
			const image = decodeURIComponent(pkg);
			const found = [...seededOf(parent, image), ...(await imagesOf(`${repositoryPath(parent)}/${image}`))].find(entry => entry.tags.includes(tag));
			if (!found) throw new GrpcFailure({code: NOT_FOUND, details: 'Requested entity was not found.'});
			return {name: request.name, version: `${parent}/packages/${pkg}/versions/${found.digest}`};
		}),
	};
}
