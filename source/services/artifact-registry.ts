// The Artifact Registry API client: repositories, tags, images and IAM policies as plain objects
// (proto messages normalised), each call bounded, retried and its failure mapped (api-errors.ts).
import fs from 'node:fs';
import {createRequire} from 'node:module';
import type {ArtifactRegistryClient, protos as ArtifactRegistryProtos} from '@google-cloud/artifact-registry';
import {GrpcCode, apiCode, apiDetails, failure, isTransient, toStepError} from './api-errors.js';
import {abortable, combineSignals, sleep, throwIfAborted} from './cancellation.js';
import type {ServiceContext} from './context.js';
import {CancelledError, StepError, isAbort} from './errors.js';
import {ADC_LOGIN} from './fixes.js';
import {KNOWN_LOCATIONS, sortLocations} from './locations.js';
import {adcPath} from './platform.js';
import {
	MANAGED_BY_LABELS,
	cleanupPolicies,
	cleanupPresetOf,
	type CleanupPolicyMessage,
	type CleanupPreset,
	type RepositorySettings,
} from './repository-settings.js';
import {apiCall, apiDeadlineMs, withRetry} from './retry.js';
import {filterWarnings} from './warnings.js';

/** `host:port` of a plaintext gRPC Artifact Registry (tests, local fakes). */
export const ENDPOINT_ENV = 'IMAGESPEC_GAR_API_ENDPOINT';

/** Which repository: the triple every repository call and command names. */
export type RepositoryRef = {project: string; location: string; repository: string};

export type Repository = {
	/** Full resource name: projects/P/locations/L/repositories/ID. */
	name: string;
	id: string;
	project: string;
	location: string;
	/** 'DOCKER', 'MAVEN', ... */
	format: string;
	description: string;
	sizeBytes?: number;
	/** ISO 8601. */
	createTime?: string;
	labels: Record<string, string>;
	/** Docker repositories: whether a pushed tag can never move. */
	immutableTags?: boolean;
	/** The cleanup policy, when it is one imagespec-gar sets (none included); undefined for any other. */
	cleanup?: CleanupPreset;
};

export type ArtifactRegistry = {
	/** One array per API page, fetched only when the previous one has been consumed. */
	listRepositoryPages(
		project: string,
		location: string,
		options?: {pageSize?: number; firstPageSize?: number; prefix?: string; signal?: AbortSignal},
	): AsyncIterable<Repository[]>;
	/** undefined when the repository does not exist (NOT_FOUND). */
	getRepository(ref: RepositoryRef, signal?: AbortSignal): Promise<Repository | undefined>;
	/**
	 * Creates a DOCKER repository and waits for its long-running operation (polling GetOperation
	 * while it is pending). created:false when a Docker repository of that name was already there.
	 */
	createDockerRepository(
		ref: RepositoryRef,
		options?: RepositorySettings & {signal?: AbortSignal; onPending?: (operation: string) => void},
	): Promise<{repository: Repository; created: boolean}>;
	/** Which of `permissions` the caller holds on the repository (none when it cannot see it). */
	testIamPermissions(ref: RepositoryRef, permissions: readonly string[], signal?: AbortSignal): Promise<string[]>;
	getIamPolicy(ref: RepositoryRef, signal?: AbortSignal): Promise<IamPolicy>;
	/** Sends the policy with its etag; a concurrent change fails with reason ABORTED or FAILED_PRECONDITION. */
	setIamPolicy(ref: RepositoryRef, policy: IamPolicy, signal?: AbortSignal): Promise<IamPolicy>;
	/** Live location ids, or KNOWN_LOCATIONS when the API cannot tell. Multi-regions first. */
	listLocations(project: string, signal?: AbortSignal): Promise<string[]>;
	/**
	 * The Docker image `tag` points at, as Artifact Registry lists it (what the cluster pulls
	 * from), or undefined when the repository has no such tag.
	 */
	findTag(ref: RepositoryRef, image: string, tag: string, signal?: AbortSignal): Promise<DockerImage | undefined>;
	/**
	 * Every Docker image (one per digest) in the repository: one ListDockerImages call per page of
	 * up to `pageSize` (the API's maximum, 1,000, by default), however many images are asked about.
	 */
	listDockerImages(ref: RepositoryRef, options?: {pageSize?: number; signal?: AbortSignal}): Promise<DockerImageEntry[]>;
	close(): Promise<void>;
};

/** A Docker image (one digest) in a repository, as the API's DockerImage resource describes it. */
export type DockerImage = {
	/** sha256:... */
	digest: string;
	/** HOST/PROJECT/REPOSITORY/IMAGE@sha256:... as Artifact Registry reports it. */
	uri: string;
	/** Every tag on that digest, as the repository lists them. */
	tags: string[];
};

/** One digest of one image in a repository, as ListDockerImages reports it. */
export type DockerImageEntry = DockerImage & {
	/** The image name (package), decoded: `team/trainer`. */
	image: string;
	sizeBytes?: number;
	/** ISO 8601. */
	uploadTime?: string;
};

export type IamBinding = {role: string; members: string[]; condition?: {expression?: string; title?: string; description?: string; location?: string}};
export type IamPolicy = {version?: number; bindings: IamBinding[]; etag?: Uint8Array};

export type OpenArtifactRegistryOptions = {
	/** Waits before each retry of UNAVAILABLE / DEADLINE_EXCEEDED; its length is the retry count. */
	retryDelaysMs?: readonly number[];
	/** Waits between GetOperation polls of a pending create; the last one repeats. */
	operationPollDelaysMs?: readonly number[];
	/** How long a create may stay pending before the wizard stops waiting (the operation goes on). */
	operationTimeoutMs?: number;
};

const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [300, 1000, 2500];
const DEFAULT_OPERATION_POLL_DELAYS_MS: readonly number[] = [500, 1000, 2000, 3000, 5000];
const DEFAULT_OPERATION_TIMEOUT_MS = 5 * 60_000;
const LIST_LOCATIONS_TIMEOUT_MS = 15_000;
// How far Google's clock may be behind ours when judging a creation time.
const CLOCK_SKEW_MS = 60_000;
/** ListDockerImages' maximum page size. */
const DOCKER_IMAGES_PAGE_SIZE = 1000;

export const repositoryParent = (project: string, location: string): string => `projects/${project}/locations/${location}`;

/** projects/P/locations/L/repositories/R: the repository's resource name. */
export const repositoryName = ({project, location, repository}: RepositoryRef): string => `${repositoryParent(project, location)}/repositories/${repository}`;

const repositoryNamePattern = /^projects\/([^/]+)\/locations\/([^/]+)\/repositories\/([^/]+)$/;

function parseRepositoryName(name: string): RepositoryRef | undefined {
	const match = repositoryNamePattern.exec(name);
	if (!match) return undefined;
	return {project: match[1]!, location: match[2]!, repository: match[3]!};
}

const repositoryIdPattern = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;
const REPOSITORY_ID_MAX = 63;

/** Why `id` cannot name a repository (gcloud's own check), or undefined; the server has the last word. */
export function validateRepositoryId(id: string): string | undefined {
	if (id === '') return 'A repository name is required.';
	if (id.length > REPOSITORY_ID_MAX) return `Repository names must be at most ${REPOSITORY_ID_MAX} characters (this one has ${id.length}).`;
	if (!repositoryIdPattern.test(id)) {
		return 'Names may only contain lowercase letters, numbers, and hyphens, and must begin with a letter and end with a letter or number.';
	}
	return undefined;
}

// ---------------------------------------------------------------------------------------------
// Messages to Repository

type Timestamp = {seconds?: unknown; nanos?: unknown};
type RepositoryMessage = {
	name?: string | null;
	format?: unknown;
	description?: string | null;
	labels?: Record<string, string> | null;
	sizeBytes?: unknown;
	createTime?: Timestamp | null;
	dockerConfig?: {immutableTags?: boolean | null} | null;
	cleanupPolicies?: Record<string, CleanupPolicyMessage> | null;
};

// Only for enums that arrive as numbers (op.promise() messages not yet normalised).
const formatNames: Record<number, string> = {
	0: 'FORMAT_UNSPECIFIED',
	1: 'DOCKER',
	2: 'MAVEN',
	3: 'NPM',
	5: 'APT',
	6: 'YUM',
	8: 'PYTHON',
	9: 'KFP',
	10: 'GO',
	11: 'GENERIC',
	12: 'RUBY',
};

const toNumber = (value: unknown): number | undefined => {
	if (value === undefined || value === null || value === '') return undefined;
	const number = Number(typeof value === 'object' ? String(value) : value);
	return Number.isFinite(number) ? number : undefined;
};

const toIso = (timestamp: Timestamp | null | undefined): string | undefined => {
	const seconds = toNumber(timestamp?.seconds);
	if (seconds === undefined) return undefined;
	return new Date(seconds * 1000 + Math.floor((toNumber(timestamp?.nanos) ?? 0) / 1e6)).toISOString();
};

function toRepository(message: RepositoryMessage): Repository {
	const name = message.name ?? '';
	const parts = parseRepositoryName(name);
	const format = typeof message.format === 'number' ? (formatNames[message.format] ?? String(message.format)) : String(message.format ?? 'FORMAT_UNSPECIFIED');
	const repository: Repository = {
		name,
		id: parts?.repository ?? name.split('/').pop() ?? '',
		project: parts?.project ?? '',
		location: parts?.location ?? '',
		format,
		description: message.description ?? '',
		labels: {...message.labels},
	};
	const sizeBytes = toNumber(message.sizeBytes);
	if (sizeBytes !== undefined) repository.sizeBytes = sizeBytes;
	const createTime = toIso(message.createTime);
	if (createTime) repository.createTime = createTime;
	if (typeof message.dockerConfig?.immutableTags === 'boolean') repository.immutableTags = message.dockerConfig.immutableTags;
	const cleanup = cleanupPresetOf(message.cleanupPolicies ?? {});
	if (cleanup) repository.cleanup = cleanup;
	return repository;
}

type DockerImageMessage = {name?: string | null; uri?: string | null; tags?: string[] | null; imageSizeBytes?: unknown; uploadTime?: Timestamp | null};

/** `.../dockerImages/team%2Ftrainer@sha256:...` → the image, its digest and what the API says of it. */
function toDockerImageEntry(message: DockerImageMessage): DockerImageEntry {
	const [encoded = '', digest = ''] = (message.name ?? '').split('/dockerImages/').at(-1)?.split('@') ?? [];
	const entry: DockerImageEntry = {image: decodeURIComponent(encoded), digest, uri: message.uri ?? '', tags: [...(message.tags ?? [])]};
	const sizeBytes = toNumber(message.imageSizeBytes);
	if (sizeBytes !== undefined) entry.sizeBytes = sizeBytes;
	const uploadTime = toIso(message.uploadTime);
	if (uploadTime) entry.uploadTime = uploadTime;
	return entry;
}

// ---------------------------------------------------------------------------------------------
// Long-running operations and IAM policies

type OperationLike = {name?: string | null; done?: boolean | null; error?: unknown; result?: unknown};

/**
 * Waits for a long-running operation by polling GetOperation ourselves (not op.promise()): our
 * polls stop on abort, while gax's would keep the process alive after Ctrl-C.
 */
async function waitForOperation(
	first: OperationLike,
	check: (name: string) => Promise<OperationLike>,
	options: {
		signal?: AbortSignal;
		onPending?: (operation: string) => void;
		pollDelaysMs: readonly number[];
		timeoutMs: number;
		retryDelaysMs: readonly number[];
	},
): Promise<unknown> {
	const started = Date.now();
	let operation = first;
	for (let poll = 0; !operation.done; poll++) {
		const name = operation.name ?? '';
		if (poll === 0) options.onPending?.(name);
		if (Date.now() - started >= options.timeoutMs) {
			throw new StepError(`The repository is still being created after ${Math.round(options.timeoutMs / 1000)} s (operation ${name}).`, {
				fix: 'Artifact Registry goes on creating it: rerun imagespec-gar in a minute, and it finds the repository.',
				reason: 'OPERATION_PENDING',
			});
		}
		await sleep(options.pollDelaysMs[Math.min(poll, options.pollDelaysMs.length - 1)] ?? 1000, options.signal);
		operation = await withRetry(async () => abortable(check(name), options.signal), options.retryDelaysMs, options.signal);
	}
	// A failed operation carries a google.rpc.Status (code, message), like a failed call.
	if (operation.error) throw Object.assign(new Error(apiDetails(operation.error)), {code: apiCode(operation.error), details: apiDetails(operation.error)});
	return operation.result;
}

type PolicyMessage = {
	version?: number | null;
	bindings?: Array<{role?: string | null; members?: string[] | null; condition?: object | null}> | null;
	etag?: Uint8Array | string | null;
};

// The client fills unset strings with '' (proto3 defaults): drop them, so a binding goes back as it came.
const nonEmpty = (object: object) => Object.fromEntries(Object.entries(object).filter(([, value]) => value !== '' && value !== null && value !== undefined));

const toPolicy = (message: PolicyMessage): IamPolicy => ({
	...(message.version ? {version: message.version} : {}),
	bindings: (message.bindings ?? []).map(binding => ({
		role: binding.role ?? '',
		members: [...(binding.members ?? [])],
		...(binding.condition ? {condition: nonEmpty(binding.condition) as IamBinding['condition']} : {}),
	})),
	...(message.etag ? {etag: typeof message.etag === 'string' ? Buffer.from(message.etag, 'base64') : message.etag} : {}),
});

// ---------------------------------------------------------------------------------------------
// The client

type ArtifactRegistryModule = typeof import('@google-cloud/artifact-registry');

// gax warnings (AutopaginateTrueWarning, MetadataLookupWarning) go to stderr and garble an Ink
// screen. The calls below avoid triggering them; this drops any that slip through.
const LIBRARY_WARNINGS = new Set(['AutopaginateTrueWarning', 'MetadataLookupWarning']);
let warningFilterInstalled = false;

function silenceLibraryWarnings(): void {
	if (warningFilterInstalled) return;
	warningFilterInstalled = true;
	filterWarnings(type => type !== undefined && LIBRARY_WARNINGS.has(type));
}

function parseEndpoint(value: string): {host: string; port: number} {
	const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(value.trim());
	const port = Number(match?.[2]);
	if (!match || !Number.isInteger(port) || port <= 0 || port > 65_535) {
		throw new StepError(`${ENDPOINT_ENV} must be host:port, got "${value}".`, {
			fix: `export ${ENDPOINT_ENV}=127.0.0.1:8080 (or unset it)`,
			reason: 'BAD_ENDPOINT',
		});
	}
	return {host: match[1]!, port};
}

/** gRPC from the google-gax the client itself loads, so the credentials object is one it accepts. */
function insecureChannelCredentials(): unknown {
	const requireFromClient = createRequire(createRequire(import.meta.url).resolve('@google-cloud/artifact-registry'));
	const gax = requireFromClient('google-gax') as typeof import('google-gax');
	return gax.grpc.credentials.createInsecure();
}

async function createClient(module: ArtifactRegistryModule, ctx: ServiceContext): Promise<ArtifactRegistryClient> {
	const {env} = ctx.platform;
	const endpoint = env[ENDPOINT_ENV]?.trim();
	if (endpoint) {
		const {host, port} = parseEndpoint(endpoint);
		// universeDomain stops the metadata-server probe (and its warning); no token is fetched.
		return new module.ArtifactRegistryClient({
			apiEndpoint: host,
			port,
			sslCreds: insecureChannelCredentials() as never,
			universeDomain: 'googleapis.com',
		});
	}

	// Honour the platform's env/home for where ADC lives; the library would only read process.env.
	const credentials = adcPath(ctx.platform);
	const hasFile = fs.existsSync(credentials);
	if (env.GOOGLE_APPLICATION_CREDENTIALS && !hasFile) {
		throw new StepError(`GOOGLE_APPLICATION_CREDENTIALS points at ${credentials}, which does not exist.`, {
			fix: `Unset GOOGLE_APPLICATION_CREDENTIALS or point it at a key file, then run: ${ADC_LOGIN}`,
			reason: 'NO_ADC',
		});
	}
	return new module.ArtifactRegistryClient({
		universeDomain: env.GOOGLE_CLOUD_UNIVERSE_DOMAIN || 'googleapis.com',
		...(hasFile ? {keyFilename: credentials} : {}),
	});
}

/**
 * Opens the Artifact Registry API. Loads the client library on first use (it costs ~0.5 s).
 * Throws StepError reason NO_ADC when no credentials can be found.
 */
export async function openArtifactRegistry(ctx: ServiceContext, options: OpenArtifactRegistryOptions = {}): Promise<ArtifactRegistry> {
	throwIfAborted(ctx.signal);
	silenceLibraryWarnings();
	const module = await abortable(import('@google-cloud/artifact-registry'), ctx.signal);
	const client = await createClient(module, ctx);

	// Without ADC the library's own initialize() rejects unhandled inside every API method (the
	// process exits even in try/catch), so settle it here first and never call the API after.
	try {
		await abortable(client.initialize(), ctx.signal);
	} catch (error) {
		client.close().catch(() => {});
		if (ctx.signal?.aborted || isAbort(error)) throw new CancelledError();
		const mapped = toStepError(error, 'load Google Cloud credentials');
		throw new StepError(mapped.reason === 'NO_ADC' ? mapped.message : `Could not load Google Cloud credentials: ${apiDetails(error)}`, {
			fix: ADC_LOGIN,
			reason: 'NO_ADC',
			cause: error,
		});
	}

	const retryDelays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
	const deadlineMs = apiDeadlineMs(ctx.platform.env);
	const call = async <T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> => apiCall(promise, signal, deadlineMs);
	const operationTimings = {
		pollDelaysMs: options.operationPollDelaysMs ?? DEFAULT_OPERATION_POLL_DELAYS_MS,
		timeoutMs: options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS,
		retryDelaysMs: retryDelays,
	};
	const RepositoryProto: typeof ArtifactRegistryProtos.google.devtools.artifactregistry.v1.Repository =
		module.protos.google.devtools.artifactregistry.v1.Repository;
	// op.promise() yields a protobuf message (numeric enums, Long int64); make it like get/list's.
	// It comes from gax's own reflection root, so `instanceof RepositoryProto` is false: test $type.
	const normalise = (message: unknown): Repository =>
		toRepository(
			typeof message === 'object' && message !== null && '$type' in message
				? (RepositoryProto.toObject(message as unknown as ArtifactRegistryProtos.google.devtools.artifactregistry.v1.Repository, {
						enums: String,
						longs: String,
					}) as RepositoryMessage)
				: (message as RepositoryMessage),
		);

	const getRepository = async (ref: RepositoryRef, signal?: AbortSignal): Promise<Repository | undefined> => {
		const active = combineSignals(ctx.signal, signal);
		try {
			const [message] = await withRetry(async () => call(client.getRepository({name: repositoryName(ref)}), active), retryDelays, active);
			return toRepository(message as RepositoryMessage);
		} catch (error) {
			if (apiCode(error) === GrpcCode.NOT_FOUND && !active?.aborted) return undefined;
			throw failure(error, active, `get repository ${ref.repository} in ${ref.location}`, ref.project);
		}
	};

	return {
		async *listRepositoryPages(project, location, pageOptions = {}) {
			const active = combineSignals(ctx.signal, pageOptions.signal);
			const parent = repositoryParent(project, location);
			const filter = pageOptions.prefix ? `name="${parent}/repositories/${pageOptions.prefix}*"` : undefined;
			let pageToken = '';
			do {
				// A small first page reaches the screen sooner; bigger later pages mean fewer calls.
				const pageSize = (pageToken === '' ? pageOptions.firstPageSize : undefined) ?? pageOptions.pageSize ?? 100;
				const request = {parent, pageSize, pageToken, ...(filter ? {filter} : {})};
				let page;
				try {
					// One call per page (autoPaginate:false): the async iterator would hide page boundaries.
					page = await withRetry(async () => call(client.listRepositories(request, {autoPaginate: false}), active), retryDelays, active);
				} catch (error) {
					throw failure(error, active, `list repositories in ${location}`, project);
				}
				const [repositories, , response] = page;
				yield repositories.map(message => toRepository(message as RepositoryMessage));
				pageToken = response?.nextPageToken ?? '';
			} while (pageToken !== '');
		},

		getRepository,

		async createDockerRepository(ref, createOptions = {}) {
			const {project, location, repository: id} = ref;
			const active = combineSignals(ctx.signal, createOptions.signal);
			const action = `create repository ${id} in ${location}`;
			const invalid = validateRepositoryId(id);
			if (invalid) throw new StepError(`Cannot ${action}: ${invalid}`, {reason: 'INVALID_ARGUMENT'});
			const cleanup = cleanupPolicies(createOptions.cleanup ?? {kind: 'none'});
			const request = {
				parent: repositoryParent(project, location),
				repositoryId: id,
				repository: {
					format: 'DOCKER' as const,
					mode: 'STANDARD_REPOSITORY' as const,
					description: createOptions.description ?? '',
					labels: {...createOptions.labels, ...MANAGED_BY_LABELS},
					dockerConfig: {immutableTags: createOptions.immutableTags ?? false},
					...(Object.keys(cleanup).length > 0 ? {cleanupPolicies: cleanup, cleanupPolicyDryRun: false} : {}),
				},
			};
			// A create whose answer was lost (UNAVAILABLE, a deadline) may have been done: the retry then
			// meets ALREADY_EXISTS for a repository this run made.
			const started = Date.now();
			let answerLost = false;
			try {
				const message = await waitForOperation(
					await withRetry(
						async () =>
							(
								await call(client.createRepository(request), active).catch((error: unknown) => {
									answerLost ||= isTransient(error);
									throw error;
								})
							)[0],
						retryDelays,
						active,
					),
					name => client.checkCreateRepositoryProgress(name),
					{...operationTimings, signal: active, onPending: createOptions.onPending},
				);
				return {repository: normalise(message), created: true};
			} catch (error) {
				if (apiCode(error) !== GrpcCode.ALREADY_EXISTS || active?.aborted) throw failure(error, active, action, project);
			}

			// ALREADY_EXISTS: fine if it is a Docker repository (a rerun, or a teammate made it).
			const existing = await getRepository(ref, createOptions.signal);
			if (!existing) {
				throw new StepError(`Cannot ${action}: the name is taken, but the repository cannot be read.`, {
					fix: 'Choose another repository name.',
					reason: 'ALREADY_EXISTS',
				});
			}
			if (existing.format !== 'DOCKER') {
				throw new StepError(`Repository ${id} already exists in ${location} with format ${existing.format}, not DOCKER.`, {
					fix: 'Choose another repository name, or pick an existing Docker repository.',
					reason: 'WRONG_FORMAT',
				});
			}
			// Made by this run: the lost answer's create, not a teammate's (the labels and creation time say so).
			const ours =
				answerLost &&
				existing.labels?.['managed-by'] === MANAGED_BY_LABELS['managed-by'] &&
				existing.createTime !== undefined &&
				Date.parse(existing.createTime) >= started - CLOCK_SKEW_MS;
			return {repository: existing, created: ours};
		},

		async testIamPermissions(ref, permissions, signal) {
			const active = combineSignals(ctx.signal, signal);
			const resource = repositoryName(ref);
			try {
				const [response] = await withRetry(async () => call(client.testIamPermissions({resource, permissions: [...permissions]}), active), retryDelays, active);
				return response.permissions ?? [];
			} catch (error) {
				throw failure(error, active, `check your permissions on repository ${ref.repository}`, ref.project);
			}
		},

		async getIamPolicy(ref, signal) {
			const active = combineSignals(ctx.signal, signal);
			try {
				const [policy] = await withRetry(
					// Version 3 shows conditional bindings, which a write must then keep.
					async () => call(client.getIamPolicy({resource: repositoryName(ref), options: {requestedPolicyVersion: 3}}), active),
					retryDelays,
					active,
				);
				return toPolicy(policy);
			} catch (error) {
				throw failure(error, active, `read the IAM policy of repository ${ref.repository}`, ref.project);
			}
		},

		async setIamPolicy(ref, policy, signal) {
			const active = combineSignals(ctx.signal, signal);
			try {
				// Not retried here: after a lost answer only a fresh read tells whether it was applied.
				const [written] = await call(
					client.setIamPolicy({
						resource: repositoryName(ref),
						policy: {version: policy.version, bindings: policy.bindings, etag: policy.etag},
					}),
					active,
				);
				return toPolicy(written);
			} catch (error) {
				throw failure(error, active, `change the IAM policy of repository ${ref.repository}`, ref.project);
			}
		},

		async listLocations(project, signal) {
			const active = combineSignals(ctx.signal, signal);
			throwIfAborted(active);
			try {
				const iterable = client.listLocationsAsync({name: `projects/${project}`}, {autoPaginate: false, timeout: LIST_LOCATIONS_TIMEOUT_MS});
				const iterator = iterable[Symbol.asyncIterator]();
				const found: string[] = [];
				for (;;) {
					const next = await abortable(iterator.next(), active);
					if (next.done) break;
					if (next.value.locationId) found.push(next.value.locationId);
				}
				return found.length > 0 ? sortLocations(found) : [...KNOWN_LOCATIONS];
			} catch (error) {
				if (active?.aborted || isAbort(error)) throw new CancelledError();
				// The list is a convenience: any failure falls back to the known locations.
				return [...KNOWN_LOCATIONS];
			}
		},

		async findTag(where, image, tag, signal) {
			const active = combineSignals(ctx.signal, signal);
			const repository = repositoryName(where);
			// Docker image paths are URL-encoded package ids (team/trainer → team%2Ftrainer).
			const pkg = encodeURIComponent(image);
			let version: string;
			try {
				// Not retried: the caller asks the registry itself when the API cannot answer.
				const [found] = await call(client.getTag({name: `${repository}/packages/${pkg}/tags/${tag}`}), active);
				version = found.version ?? '';
			} catch (error) {
				if (apiCode(error) === GrpcCode.NOT_FOUND && !active?.aborted) return undefined;
				throw failure(error, active, `look up tag ${tag} of ${image} in repository ${where.repository}`, where.project);
			}

			const digest = version.split('/versions/').at(-1) ?? '';
			try {
				const [docker] = await call(client.getDockerImage({name: `${repository}/dockerImages/${pkg}@${digest}`}), active);
				return {digest, uri: docker.uri ?? '', tags: [...(docker.tags ?? [])]};
			} catch (error) {
				throw failure(error, active, `read image ${image}@${digest} in repository ${where.repository}`, where.project);
			}
		},

		async listDockerImages(where, listOptions = {}) {
			const active = combineSignals(ctx.signal, listOptions.signal);
			const parent = repositoryName(where);
			const entries: DockerImageEntry[] = [];
			let pageToken = '';
			do {
				const request = {parent, pageSize: listOptions.pageSize ?? DOCKER_IMAGES_PAGE_SIZE, pageToken};
				let page;
				try {
					page = await withRetry(async () => abortable(client.listDockerImages(request, {autoPaginate: false}), active), retryDelays, active);
				} catch (error) {
					throw failure(error, active, `list the images in repository ${where.repository}`, where.project);
				}
				const [images, , response] = page;
				for (const image of images) entries.push(toDockerImageEntry(image));
				pageToken = response?.nextPageToken ?? '';
			} while (pageToken !== '');
			return entries;
		},

		async close() {
			try {
				await client.close();
			} catch {
				// Closing a half-open channel must not hide the real result.
			}
		},
	};
}
