import fs from 'node:fs';
import {createRequire} from 'node:module';
import type {ArtifactRegistryClient} from '@google-cloud/artifact-registry';
import {ENDPOINT_ENV, GrpcCode, abortable, repositoryName, toStepError} from './artifact-registry.js';
import type {ServiceContext} from './context.js';
import {CancelledError, StepError, isAbort} from './errors.js';
import {adcPath} from './platform.js';

/**
 * Docker images as Artifact Registry lists them (not as docker sees them): the proof that the
 * repository the cluster pulls from has a tag. A small client of its own, loaded lazily.
 * (artifact-registry.ts owns the repository calls; these two could move there.)
 */

export type RepositoryWhere = {project: string; location: string; repository: string};

export type RepositoryImage = {
	/** sha256:... */
	digest: string;
	/** HOST/PROJECT/REPOSITORY/IMAGE@sha256:... as Artifact Registry reports it. */
	uri: string;
	/** Every tag on that digest, as the repository lists them. */
	tags: string[];
};

export type DockerImages = {
	/** The image `tag` points at, or undefined when the repository has no such tag. */
	findTag(where: RepositoryWhere, image: string, tag: string, signal?: AbortSignal): Promise<RepositoryImage | undefined>;
	close(): Promise<void>;
};

type ApiError = {code?: unknown; details?: unknown; message?: unknown};
const codeOf = (error: unknown) => (error as ApiError | undefined)?.code;

const createClient = async (ctx: ServiceContext): Promise<ArtifactRegistryClient> => {
	const module = await import('@google-cloud/artifact-registry');
	const endpoint = ctx.platform.env[ENDPOINT_ENV]?.trim();
	if (endpoint) {
		const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(endpoint);
		if (!match) throw new StepError(`${ENDPOINT_ENV} must be host:port, got "${endpoint}".`, {reason: 'BAD_ENDPOINT'});
		// gRPC from the google-gax the client loads, so it accepts the credentials object.
		const requireFromClient = createRequire(createRequire(import.meta.url).resolve('@google-cloud/artifact-registry'));
		const gax = requireFromClient('google-gax') as typeof import('google-gax');
		return new module.ArtifactRegistryClient({apiEndpoint: match[1], port: Number(match[2]), sslCreds: gax.grpc.credentials.createInsecure() as never, universeDomain: 'googleapis.com'});
	}

	const credentials = adcPath(ctx.platform);
	return new module.ArtifactRegistryClient({
		universeDomain: ctx.platform.env.GOOGLE_CLOUD_UNIVERSE_DOMAIN || 'googleapis.com',
		...(fs.existsSync(credentials) ? {keyFilename: credentials} : {}),
	});
};

/** Opens the client; StepError NO_ADC without credentials (settled here: see facts/artifact-registry.md). */
export const openDockerImages = async (ctx: ServiceContext): Promise<DockerImages> => {
	const client = await abortable(createClient(ctx), ctx.signal);
	try {
		await abortable(client.initialize(), ctx.signal);
	} catch (error) {
		client.close().catch(() => undefined);
		if (ctx.signal?.aborted || isAbort(error)) throw new CancelledError();
		throw new StepError(`Could not load Google Cloud credentials: ${error instanceof Error ? error.message : String(error)}`, {
			fix: 'gcloud auth application-default login',
			reason: 'NO_ADC',
			cause: error,
		});
	}

	return {
		async findTag(where, image, tag, signal) {
			const active = signal && ctx.signal ? AbortSignal.any([signal, ctx.signal]) : (signal ?? ctx.signal);
			const repository = repositoryName(where.project, where.location, where.repository);
			// Docker image paths are URL-encoded package ids (team/trainer → team%2Ftrainer).
			const pkg = encodeURIComponent(image);
			let version: string;
			try {
				const [found] = await abortable(client.getTag({name: `${repository}/packages/${pkg}/tags/${tag}`}), active);
				version = found.version ?? '';
			} catch (error) {
				if (active?.aborted || isAbort(error)) throw new CancelledError();
				if (codeOf(error) === GrpcCode.NOT_FOUND) return undefined;
				throw toStepError(error, `look up tag ${tag} of ${image} in repository ${where.repository}`, where.project);
			}

			const digest = version.split('/versions/').at(-1) ?? '';
			try {
				const [docker] = await abortable(client.getDockerImage({name: `${repository}/dockerImages/${pkg}@${digest}`}), active);
				return {digest, uri: docker.uri ?? '', tags: [...(docker.tags ?? [])]};
			} catch (error) {
				if (active?.aborted || isAbort(error)) throw new CancelledError();
				throw toStepError(error, `read image ${image}@${digest} in repository ${where.repository}`, where.project);
			}
		},

		async close() {
			await client.close().catch(() => undefined);
		},
	};
};
