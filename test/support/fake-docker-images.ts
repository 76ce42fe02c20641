/**
 * Artifact Registry's docker-image calls (ListDockerImages, GetDockerImage, GetTag), answered
 * from a real registry's HTTP API: what the fake says is in a repository is what was pushed.
 * `projects/P/locations/L/repositories/R` is the registry path `P/R/` on `host` (any location:
 * one loopback registry stands in for every `<location>-docker.pkg.dev`).
 *
 * startFakeArtifactRegistry({dockerImages: {host, auth}}) serves these beside its own methods.
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

const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;
const UNAVAILABLE = 14;
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

export function dockerImageMethods(source: DockerImagesSource, calls: Calls): Record<string, grpc.UntypedHandleCall> {
	const headers = (extra: Record<string, string> = {}) => ({
		...extra,
		...(source.auth ? {authorization: `Basic ${Buffer.from(`${source.auth.user}:${source.auth.password}`).toString('base64')}`} : {}),
	});
	const get = async (pathname: string, init: RequestInit = {}) => {
		const response = await fetch(`http://${source.host}${pathname}`, {...init, headers: headers(init.headers as Record<string, string>)}).catch((error: unknown) => {
			throw new GrpcFailure({code: UNAVAILABLE, details: `registry ${source.host}: ${String(error)}`});
		});
		return response;
	};

	/** Every tag of `name` (P/R/IMAGE), grouped by the digest it points at. */
	const imagesOf = async (name: string) => {
		const list = await get(`/v2/${name}/tags/list`);
		if (list.status === 404) return [];
		const {tags} = (await list.json()) as {tags?: string[] | null};
		const byDigest = new Map<string, {tags: string[]; size: number; mediaType: string}>();
		for (const tag of tags ?? []) {
			// eslint-disable-next-line no-await-in-loop -- a handful of tags per test image
			const head = await get(`/v2/${name}/manifests/${tag}`, {method: 'HEAD', headers: {accept: ACCEPT}});
			const digest = head.headers.get('docker-content-digest');
			if (!head.ok || !digest) continue;
			const entry = byDigest.get(digest) ?? {tags: [], size: Number(head.headers.get('content-length') ?? 0), mediaType: head.headers.get('content-type') ?? ''};
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

	const dockerImage = (parent: string, image: string, found: {digest: string; tags: string[]; size: number; mediaType: string}) => ({
		name: `${parent}/dockerImages/${encodeURIComponent(image)}@${found.digest}`,
		uri: `${source.host}/${repositoryPath(parent)}/${image}@${found.digest}`,
		tags: found.tags,
		imageSizeBytes: String(found.size),
		mediaType: found.mediaType,
		uploadTime: {seconds: String(Math.floor(Date.now() / 1000)), nanos: 0},
	});

	const handle =
		(method: string, answer: (request: any) => Promise<object>) =>
		(call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>): void => {
			calls.push({method, request: call.request});
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
		ListDockerImages: handle('ListDockerImages', async (request: {parent?: string}) => {
			const parent = request.parent ?? '';
			const prefix = `${repositoryPath(parent)}/`;
			const catalog = (await (await get('/v2/_catalog?n=1000')).json()) as {repositories?: string[]};
			const dockerImages = [];
			for (const name of catalog.repositories ?? []) {
				if (!name.startsWith(prefix)) continue;
				// eslint-disable-next-line no-await-in-loop
				for (const found of await imagesOf(name)) dockerImages.push(dockerImage(parent, name.slice(prefix.length), found));
			}

			return {dockerImages, nextPageToken: ''};
		}),

		GetDockerImage: handle('GetDockerImage', async (request: {name?: string}) => {
			const match = /^(.+)\/dockerImages\/([^@]+)@(sha256:[a-f\d]{64})$/.exec(request.name ?? '');
			if (!match) throw new GrpcFailure({code: INVALID_ARGUMENT, details: `invalid docker image name "${request.name ?? ''}"`});
			const [, parent = '', encoded = '', digest] = match;
			const image = decodeURIComponent(encoded);
			const found = (await imagesOf(`${repositoryPath(parent)}/${image}`)).find(entry => entry.digest === digest);
			if (!found) throw new GrpcFailure({code: NOT_FOUND, details: 'Requested entity was not found.'});
			return dockerImage(parent, image, found);
		}),

		GetTag: handle('GetTag', async (request: {name?: string}) => {
			const match = /^(.+)\/packages\/([^/]+)\/tags\/([^/]+)$/.exec(request.name ?? '');
			if (!match) throw new GrpcFailure({code: INVALID_ARGUMENT, details: `invalid tag name "${request.name ?? ''}"`});
			const [, parent = '', pkg = '', tag = ''] = match;
			const image = decodeURIComponent(pkg);
			const found = (await imagesOf(`${repositoryPath(parent)}/${image}`)).find(entry => entry.tags.includes(tag));
			if (!found) throw new GrpcFailure({code: NOT_FOUND, details: 'Requested entity was not found.'});
			return {name: request.name, version: `${parent}/packages/${pkg}/versions/${found.digest}`};
		}),
	};
}
