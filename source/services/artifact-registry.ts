import fs from 'node:fs';
import {createRequire} from 'node:module';
import type {ArtifactRegistryClient, protos as ArtifactRegistryProtos} from '@google-cloud/artifact-registry';
import type {ServiceContext} from './context.js';
import {CancelledError, StepError, isAbort} from './errors.js';
import {runTool} from './exec.js';
import {KNOWN_LOCATIONS, sortLocations} from './locations.js';
import {adcPath, executable} from './platform.js';
import {filterWarnings} from './warnings.js';

export {KNOWN_LOCATIONS, validateLocation} from './locations.js';

/** `host:port` of a plaintext gRPC Artifact Registry (tests, local fakes). */
export const ENDPOINT_ENV = 'IMAGESPEC_GAR_API_ENDPOINT';

export const MANAGED_BY_LABELS: Readonly<Record<string, string>> = Object.freeze({'managed-by': 'imagespec-gar'});

/** What a docker push needs on the repository (Artifact Registry Writer has it). */
export const PUSH_PERMISSION = 'artifactregistry.repositories.uploadArtifacts';

/** An IAM member for a gcloud account: service accounts and people are named differently. */
export const iamMember = (account: string | undefined): string =>
	account ? (account.endsWith('.gserviceaccount.com') ? `serviceAccount:${account}` : `user:${account}`) : 'user:YOUR_EMAIL';

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
	/** e.g. us-central1-docker.pkg.dev/P/ID, when the server reports it. */
	registryUri?: string;
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
	getRepository(project: string, location: string, id: string, signal?: AbortSignal): Promise<Repository | undefined>;
	/**
	 * Creates a DOCKER repository and waits for its long-running operation (polling GetOperation
	 * while it is pending). created:false when a Docker repository of that name was already there.
	 */
	createDockerRepository(
		project: string,
		location: string,
		id: string,
		options?: RepositorySettings & {signal?: AbortSignal; onPending?: (operation: string) => void},
	): Promise<{repository: Repository; created: boolean}>;
	/** Which of `permissions` the caller holds on the repository (none when it cannot see it). */
	testIamPermissions(project: string, location: string, id: string, permissions: readonly string[], signal?: AbortSignal): Promise<string[]>;
	getIamPolicy(project: string, location: string, id: string, signal?: AbortSignal): Promise<IamPolicy>;
	/** Sends the policy with its etag; a concurrent change fails with reason ABORTED or FAILED_PRECONDITION. */
	setIamPolicy(project: string, location: string, id: string, policy: IamPolicy, signal?: AbortSignal): Promise<IamPolicy>;
	/** Live location ids, or KNOWN_LOCATIONS when the API cannot tell. Multi-regions first. */
	listLocations(project: string, signal?: AbortSignal): Promise<string[]>;
	/**
	 * The Docker image `tag` points at, as Artifact Registry lists it (what the cluster pulls
	 * from), or undefined when the repository has no such tag.
	 */
	findTag(where: RepositoryWhere, image: string, tag: string, signal?: AbortSignal): Promise<RepositoryImage | undefined>;
	/**
	 * Every Docker image (one per digest) in the repository: one ListDockerImages call per page of
	 * up to `pageSize` (the API's maximum, 1,000, by default), however many images are asked about.
	 */
	listDockerImages(where: RepositoryWhere, options?: {pageSize?: number; signal?: AbortSignal}): Promise<DockerImageEntry[]>;
	close(): Promise<void>;
};

export type RepositoryWhere = {project: string; location: string; repository: string};

export type RepositoryImage = {
	/** sha256:... */
	digest: string;
	/** HOST/PROJECT/REPOSITORY/IMAGE@sha256:... as Artifact Registry reports it. */
	uri: string;
	/** Every tag on that digest, as the repository lists them. */
	tags: string[];
};

/** One digest of one image in a repository, as ListDockerImages reports it. */
export type DockerImageEntry = RepositoryImage & {
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
const DEFAULT_API_DEADLINE_MS = 30_000;
// How far Google's clock may be behind ours when judging a creation time.
const CLOCK_SKEW_MS = 60_000;
/** ListDockerImages' maximum page size. */
const DOCKER_IMAGES_PAGE_SIZE = 1000;

/** gRPC status codes used here. */
export const GrpcCode = {
	CANCELLED: 1,
	UNKNOWN: 2,
	INVALID_ARGUMENT: 3,
	DEADLINE_EXCEEDED: 4,
	NOT_FOUND: 5,
	ALREADY_EXISTS: 6,
	PERMISSION_DENIED: 7,
	RESOURCE_EXHAUSTED: 8,
	FAILED_PRECONDITION: 9,
	ABORTED: 10,
	UNIMPLEMENTED: 12,
	INTERNAL: 13,
	UNAVAILABLE: 14,
	UNAUTHENTICATED: 16,
} as const;

const codeNames = new Map<number, string>(Object.entries(GrpcCode).map(([name, code]) => [code, name]));

export const repositoryParent = (project: string, location: string): string => `projects/${project}/locations/${location}`;

export const repositoryName = (project: string, location: string, id: string): string => `${repositoryParent(project, location)}/repositories/${id}`;

const repositoryNamePattern = /^projects\/([^/]+)\/locations\/([^/]+)\/repositories\/([^/]+)$/;

export function parseRepositoryName(name: string): {project: string; location: string; id: string} | undefined {
	const match = repositoryNamePattern.exec(name);
	if (!match) return undefined;
	return {project: match[1]!, location: match[2]!, id: match[3]!};
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
// What a new repository gets

/** A cleanup policy preset: nothing, keep the N most recent versions, or delete untagged versions after D days. */
export type CleanupPreset = {kind: 'none'} | {kind: 'keep'; count: number} | {kind: 'delete-untagged'; days: number};

export type RepositorySettings = {
	description?: string;
	/** Added to managed-by=imagespec-gar, which is always set. */
	labels?: Record<string, string>;
	immutableTags?: boolean;
	cleanup?: CleanupPreset;
};

export const CLEANUP_SYNTAX = 'none, keep:N (keep the N most recent versions) or delete-untagged:Dd (delete untagged versions older than D days)';

/** `none` | `keep:N` | `delete-untagged:Dd` → the preset, or a reason it is not one. */
export function parseCleanupPreset(text: string): CleanupPreset | string {
	const value = text.trim().toLowerCase();
	if (value === 'none' || value === '') return {kind: 'none'};
	const keep = /^keep:(\d+)$/.exec(value);
	if (keep) {
		const count = Number(keep[1]);
		return count >= 1 && count <= 10_000 ? {kind: 'keep', count} : 'keep:N needs N between 1 and 10000';
	}
	const untagged = /^delete-untagged:(\d+)d?$/.exec(value);
	if (untagged) {
		const days = Number(untagged[1]);
		return days >= 1 && days <= 3650 ? {kind: 'delete-untagged', days} : 'delete-untagged:Dd needs D between 1 and 3650 days';
	}
	return `use ${CLEANUP_SYNTAX}`;
}

export const formatCleanupPreset = (preset: CleanupPreset): string =>
	preset.kind === 'none' ? 'none' : preset.kind === 'keep' ? `keep:${preset.count}` : `delete-untagged:${preset.days}d`;

export function describeCleanup(preset: CleanupPreset): string {
	switch (preset.kind) {
		case 'none': {
			return 'none (every version is kept)';
		}
		case 'keep': {
			return `keep the ${preset.count} most recent versions of each image, delete older ones`;
		}
		case 'delete-untagged': {
			return `delete untagged versions older than ${preset.days} day${preset.days === 1 ? '' : 's'}`;
		}
	}
}

const DAY_SECONDS = 86_400;

/**
 * The repository's cleanupPolicies map. A keep policy only exempts versions from delete policies,
 * so "keep the N most recent" is a delete-everything policy plus a keep-N exemption.
 */
export function cleanupPolicies(preset: CleanupPreset): Record<string, object> {
	switch (preset.kind) {
		case 'none': {
			return {};
		}
		case 'keep': {
			return {
				'imagespec-gar-delete-old': {id: 'imagespec-gar-delete-old', action: 'DELETE', condition: {tagState: 'ANY'}},
				'imagespec-gar-keep-recent': {id: 'imagespec-gar-keep-recent', action: 'KEEP', mostRecentVersions: {keepCount: preset.count}},
			};
		}
		case 'delete-untagged': {
			return {
				'imagespec-gar-delete-untagged': {
					id: 'imagespec-gar-delete-untagged',
					action: 'DELETE',
					condition: {tagState: 'UNTAGGED', olderThan: {seconds: preset.days * DAY_SECONDS}},
				},
			};
		}
	}
}

/** The preset a repository's cleanupPolicies are (as cleanupPolicies() writes them), or undefined when they are someone else's. */
function cleanupPresetOf(policies: Record<string, CleanupPolicyMessage>): CleanupPreset | undefined {
	const ids = Object.keys(policies).sort().join(',');
	if (ids === '') return {kind: 'none'};
	const count = toNumber(policies['imagespec-gar-keep-recent']?.mostRecentVersions?.keepCount);
	if (ids === 'imagespec-gar-delete-old,imagespec-gar-keep-recent' && count) return {kind: 'keep', count};
	const seconds = toNumber(policies['imagespec-gar-delete-untagged']?.condition?.olderThan?.seconds);
	if (ids === 'imagespec-gar-delete-untagged' && seconds) return {kind: 'delete-untagged', days: Math.round(seconds / DAY_SECONDS)};
	return undefined;
}

const labelKeyPattern = /^[a-z][a-z0-9_-]{0,62}$/;
const labelValuePattern = /^[a-z0-9_-]{0,63}$/;

/** `k=v` pairs → labels, or the reason one is invalid (Google's label rules). managed-by is ours. */
export function parseLabels(pairs: readonly string[]): Record<string, string> | string {
	const labels: Record<string, string> = {};
	for (const pair of pairs) {
		const index = pair.indexOf('=');
		if (index <= 0) return `${JSON.stringify(pair)}: use key=value`;
		const key = pair.slice(0, index).trim();
		const value = pair.slice(index + 1).trim();
		if (!labelKeyPattern.test(key)) return `${JSON.stringify(key)}: label keys are 1-63 lowercase letters, digits, _ or -, starting with a letter`;
		if (!labelValuePattern.test(value)) return `${JSON.stringify(value)}: label values are at most 63 lowercase letters, digits, _ or -`;
		if (key in MANAGED_BY_LABELS) return `${key} is always ${MANAGED_BY_LABELS[key]}: imagespec-gar sets it`;
		labels[key] = value;
	}
	if (Object.keys(labels).length + Object.keys(MANAGED_BY_LABELS).length > 64) return 'a repository has at most 64 labels';
	return labels;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** What gax puts on a failed call (GoogleError), read defensively. */
type ApiError = {
	code?: unknown;
	details?: unknown;
	message?: unknown;
	reason?: unknown;
	errorInfoMetadata?: unknown;
};

const apiCode = (error: unknown): number | undefined => {
	const code = (error as ApiError | undefined)?.code;
	return typeof code === 'number' ? code : undefined;
};

const apiDetails = (error: unknown): string => {
	const {details, message} = (error ?? {}) as ApiError;
	if (typeof details === 'string' && details !== '') return details;
	if (typeof message === 'string') return message;
	return String(error);
};

const apiReason = (error: unknown): string | undefined => {
	const reason = (error as ApiError | undefined)?.reason;
	return typeof reason === 'string' ? reason : undefined;
};

const apiMetadata = (error: unknown): Record<string, string> => {
	const metadata = (error as ApiError | undefined)?.errorInfoMetadata;
	return metadata && typeof metadata === 'object' ? (metadata as Record<string, string>) : {};
};

const ADC_FIX = 'gcloud auth application-default login';
export const enableApiCommand = (project: string): string => `gcloud services enable artifactregistry.googleapis.com --project ${project}`;
const NO_ADC_PATTERN = /Could not load the default credentials/i;
// Token refresh failures reach gRPC through the auth plugin and arrive as UNAVAILABLE.
const EXPIRED_LOGIN_PATTERN = /invalid_grant|invalid_rapt|reauth related error|Getting metadata from plugin failed/i;

const ROLES = {
	admin: 'Artifact Registry Administrator (roles/artifactregistry.admin)',
	repoAdmin: 'Artifact Registry Repository Administrator (roles/artifactregistry.repoAdmin)',
	writer: 'Artifact Registry Writer (roles/artifactregistry.writer)',
	reader: 'Artifact Registry Reader (roles/artifactregistry.reader)',
} as const;

/** The smallest predefined role that holds `permission`, for the fix line. */
export function roleForPermission(permission: string): string | undefined {
	if (/^artifactregistry\.repositories\.(create|update|delete|setIamPolicy|getIamPolicy)$/.test(permission)) return ROLES.admin;
	if (/^artifactregistry\.repositories\.deleteArtifacts$|^artifactregistry\.(tags|versions|packages)\.delete$/.test(permission)) {
		return ROLES.repoAdmin;
	}
	if (/^artifactregistry\.repositories\.uploadArtifacts$|^artifactregistry\.tags\.(create|update)$/.test(permission)) return ROLES.writer;
	if (/^artifactregistry\.repositories\.downloadArtifacts$|^artifactregistry\.[a-zA-Z]+\.(get|list)$/.test(permission)) return ROLES.reader;
	return undefined;
}

const permissionInText = /[Pp]ermission\s+['"]?([a-z]+(?:\.[a-zA-Z]+)+)['"]?\s+denied/;

const projectFromConsumer = (consumer: string | undefined): string | undefined => consumer?.replace(/^projects\//, '') || undefined;

/**
 * Turns an Artifact Registry API failure into something the user can act on.
 * `action` completes "Could not …", e.g. 'create repository acme'.
 */
export function toStepError(error: unknown, action: string, project?: string): StepError {
	if (error instanceof StepError) return error;
	if (error instanceof ApiDeadlineError) {
		return new StepError(`Artifact Registry did not answer within ${error.seconds} s while trying to ${action}.`, {
			fix: 'Check your network connection, proxy (HTTPS_PROXY) or VPN, then rerun; on a slow link allow more time with IMAGESPEC_GAR_API_TIMEOUT=<seconds>.',
			reason: 'API_TIMEOUT',
			cause: error,
		});
	}

	const code = apiCode(error);
	const reason = apiReason(error);
	const metadata = apiMetadata(error);
	const details = apiDetails(error);
	const where = project ?? projectFromConsumer(metadata.consumer);
	const inProject = where ? ` in project ${where}` : '';
	const cause = error;

	if (reason === 'SERVICE_DISABLED') {
		const fix = [
			where ? enableApiCommand(where) : 'gcloud services enable artifactregistry.googleapis.com',
			metadata.activationUrl ? `or enable it at ${metadata.activationUrl}` : undefined,
		]
			.filter(Boolean)
			.join('\n');
		return new StepError(`Artifact Registry API is disabled${inProject}.`, {fix, reason, cause});
	}

	const permission = metadata.permission ?? permissionInText.exec(details)?.[1];
	// Google answers a read of something missing and of something hidden alike: name both fixes.
	const hidden = code === GrpcCode.NOT_FOUND || (code === GrpcCode.PERMISSION_DENIED && (/^get\b/i.test(action) || /\.get$/.test(permission ?? '')));
	if (hidden && /^get repository\b/i.test(action)) {
		const check = where ? `check that project ${where} is the one you mean (gcloud config get project)` : 'check the project';
		return new StepError(`Cannot ${action}: it does not exist or you cannot see it${inProject}.`, {
			fix: [
				`If it exists: ask for ${ROLES.reader} on it, and ${check}.`,
				`If it does not: choose another repository, or create it (needs ${ROLES.admin}).`,
			].join('\n'),
			reason: 'NOT_FOUND',
			cause,
		});
	}

	if (reason === 'IAM_PERMISSION_DENIED' || (code === GrpcCode.PERMISSION_DENIED && permissionInText.test(details) && !/may not exist/.test(details))) {
		const role = permission ? roleForPermission(permission) : undefined;
		const message = permission
			? `You do not have permission ${permission}${inProject}, which is needed to ${action}.`
			: `Permission denied${inProject}: cannot ${action}. ${details}`;
		const grant = role ? `Ask a project owner to grant you ${role}${where ? ` on project ${where}` : ''}` : 'Ask a project owner for access';
		const fix = permission === 'artifactregistry.repositories.create' ? `${grant}, or pick an existing repository.` : `${grant}.`;
		return new StepError(message, {fix, reason: 'IAM_PERMISSION_DENIED', cause});
	}

	if (code === GrpcCode.NOT_FOUND || (code === GrpcCode.PERMISSION_DENIED && (/^get\b/i.test(action) || /may not exist/i.test(details)))) {
		return new StepError(`Cannot ${action}: it does not exist or you cannot see it${inProject}.`, {
			fix: where ? `Check the name and that project ${where} is the one you mean (gcloud config get project).` : 'Check the name and project.',
			reason: 'NOT_FOUND',
			cause,
		});
	}

	if (NO_ADC_PATTERN.test(details)) {
		return new StepError('No Google Cloud Application Default Credentials were found.', {fix: ADC_FIX, reason: 'NO_ADC', cause});
	}

	if (code === GrpcCode.UNAUTHENTICATED || EXPIRED_LOGIN_PATTERN.test(details)) {
		return new StepError(`Google Cloud did not accept your credentials, so the wizard could not ${action}: ${details}`, {
			fix: ADC_FIX,
			reason: 'UNAUTHENTICATED',
			cause,
		});
	}

	if (code === GrpcCode.UNAVAILABLE || code === GrpcCode.DEADLINE_EXCEEDED) {
		return new StepError(`Could not reach Artifact Registry to ${action} (${codeNames.get(code)}): ${details}`, {
			fix: 'Check your network connection, proxy (HTTPS_PROXY) or VPN, then try again.',
			reason: codeNames.get(code),
			cause,
		});
	}

	if (code === GrpcCode.PERMISSION_DENIED) {
		return new StepError(`Permission denied${inProject}: cannot ${action}. ${details}`, {
			fix: 'Check the active account (gcloud auth list) and your roles in the project.',
			reason: 'PERMISSION_DENIED',
			cause,
		});
	}

	if (code === GrpcCode.RESOURCE_EXHAUSTED) {
		return new StepError(`Artifact Registry quota exceeded while trying to ${action}: ${details}`, {
			fix: 'Wait a minute and try again.',
			reason: 'RESOURCE_EXHAUSTED',
			cause,
		});
	}

	// INTERNAL, UNKNOWN and the like are Google's side: a rerun often goes through.
	const fix =
		code === GrpcCode.INTERNAL || code === GrpcCode.UNKNOWN
			? "An error on Google's side: wait a minute and rerun; if it persists, check https://status.cloud.google.com."
			: code === GrpcCode.ABORTED
				? 'A concurrent change got in the way: rerun.'
				: 'Rerun; if it happens again, check the account (gcloud auth list) and the project, and report this message.';
	return new StepError(`Could not ${action}: ${details}`, {fix, reason: reason ?? (code === undefined ? undefined : codeNames.get(code)), cause});
}

const isTransient = (error: unknown): boolean => {
	const code = apiCode(error);
	return (code === GrpcCode.UNAVAILABLE || code === GrpcCode.DEADLINE_EXCEEDED) && !EXPIRED_LOGIN_PATTERN.test(apiDetails(error));
};

/** Turns the Artifact Registry API on in `project` with gcloud (the person's own login). */
export async function enableArtifactRegistryApi(ctx: ServiceContext, project: string): Promise<void> {
	const result = await runTool(ctx, executable(ctx.platform, 'gcloud'), ['services', 'enable', 'artifactregistry.googleapis.com', '--project', project], {
		timeout: 180_000,
	});
	if (result.exitCode !== 0) {
		const said = result.stderr.trim().split('\n').slice(-3).join(' ') || `exit ${result.exitCode}`;
		throw new StepError(`Could not enable the Artifact Registry API in project ${project}: ${said}`, {
			fix: `Enabling an API needs Service Usage Admin (roles/serviceusage.serviceUsageAdmin) or Owner on the project; ask for it, or ask an owner to run: ${enableApiCommand(project)}`,
			reason: 'SERVICE_DISABLED',
		});
	}
}

// ---------------------------------------------------------------------------------------------
// Cancellation and retries

const throwIfAborted = (signal?: AbortSignal): void => {
	if (signal?.aborted) throw new CancelledError();
};

/** Rejects with CancelledError as soon as `signal` aborts; cancels the gax call when it can. */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
	if (!signal) return promise;
	const cancel = () => (promise as {cancel?: () => void}).cancel?.();
	if (signal.aborted) {
		cancel();
		promise.catch(() => {});
		return Promise.reject(new CancelledError());
	}
	return new Promise<T>((resolve, reject) => {
		const onAbort = () => {
			cancel();
			reject(new CancelledError());
		};
		signal.addEventListener('abort', onAbort, {once: true});
		promise.then(
			value => {
				signal.removeEventListener('abort', onAbort);
				resolve(value);
			},
			(error: unknown) => {
				signal.removeEventListener('abort', onAbort);
				reject(error);
			},
		);
	});
}

/** A call that got no answer within its deadline (not retried: the next try would wait as long). */
export class ApiDeadlineError extends Error {
	override readonly name = 'ApiDeadlineError';
	constructor(readonly seconds: number) {
		super(`no answer within ${seconds} s`);
	}
}

/** The deadline of one API call: IMAGESPEC_GAR_API_TIMEOUT (seconds), else 30 s. */
export const apiDeadlineMs = (env: NodeJS.ProcessEnv): number => {
	const seconds = Number(env.IMAGESPEC_GAR_API_TIMEOUT);
	return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_API_DEADLINE_MS;
};

/** abortable, and rejected with ApiDeadlineError when no answer comes within deadlineMs. */
function apiCall<T>(promise: Promise<T>, signal: AbortSignal | undefined, deadlineMs: number): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const deadline = new Promise<never>((_, reject) => {
		timer = setTimeout(() => {
			reject(new ApiDeadlineError(deadlineMs / 1000));
		}, deadlineMs);
	});
	promise.catch(() => undefined);
	// Keep gax's cancel (when the promise has one), so Ctrl-C cancels the call itself.
	const raced = Object.assign(Promise.race([promise, deadline]), {cancel: () => (promise as {cancel?: () => void}).cancel?.()});
	return abortable(raced, signal).finally(() => {
		clearTimeout(timer);
	});
}

/** Waits ms, or rejects with CancelledError as soon as signal aborts. */
export const sleep = async (ms: number, signal?: AbortSignal): Promise<void> => abortable(new Promise<void>(resolve => setTimeout(resolve, ms)), signal);

async function withRetry<T>(attempt: () => Promise<T>, delays: readonly number[], signal?: AbortSignal): Promise<T> {
	for (let retry = 0; ; retry++) {
		throwIfAborted(signal);
		try {
			return await attempt();
		} catch (error) {
			const delay = delays[retry];
			if (delay === undefined || !isTransient(error) || signal?.aborted) throw error;
			await sleep(delay, signal);
		}
	}
}

const combine = (...signals: Array<AbortSignal | undefined>): AbortSignal | undefined => {
	const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
	if (present.length <= 1) return present[0];
	return AbortSignal.any(present);
};

/** A CancelledError when the call was cancelled, else the StepError for it. */
const failure = (error: unknown, signal: AbortSignal | undefined, action: string, project?: string): Error =>
	signal?.aborted || isAbort(error) ? new CancelledError() : toStepError(error, action, project);

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
	registryUri?: string | null;
	dockerConfig?: {immutableTags?: boolean | null} | null;
	cleanupPolicies?: Record<string, CleanupPolicyMessage> | null;
};

type CleanupPolicyMessage = {mostRecentVersions?: {keepCount?: unknown} | null; condition?: {olderThan?: {seconds?: unknown} | null} | null};

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

export function toRepository(message: RepositoryMessage): Repository {
	const name = message.name ?? '';
	const parts = parseRepositoryName(name);
	const format = typeof message.format === 'number' ? (formatNames[message.format] ?? String(message.format)) : String(message.format ?? 'FORMAT_UNSPECIFIED');
	const repository: Repository = {
		name,
		id: parts?.id ?? name.split('/').pop() ?? '',
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
	if (message.registryUri) repository.registryUri = message.registryUri;
	if (typeof message.dockerConfig?.immutableTags === 'boolean') repository.immutableTags = message.dockerConfig.immutableTags;
	const cleanup = cleanupPresetOf(message.cleanupPolicies ?? {});
	if (cleanup) repository.cleanup = cleanup;
	return repository;
}

type DockerImageMessage = {name?: string | null; uri?: string | null; tags?: string[] | null; imageSizeBytes?: unknown; uploadTime?: Timestamp | null};

/** `.../dockerImages/team%2Ftrainer@sha256:...` → the image, its digest and what the API says of it. */
export function toDockerImageEntry(message: DockerImageMessage): DockerImageEntry {
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
			fix: `Unset GOOGLE_APPLICATION_CREDENTIALS or point it at a key file, then run: ${ADC_FIX}`,
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
			fix: ADC_FIX,
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

	const getRepository = async (project: string, location: string, id: string, signal?: AbortSignal): Promise<Repository | undefined> => {
		const active = combine(ctx.signal, signal);
		try {
			const [message] = await withRetry(async () => call(client.getRepository({name: repositoryName(project, location, id)}), active), retryDelays, active);
			return toRepository(message as RepositoryMessage);
		} catch (error) {
			if (apiCode(error) === GrpcCode.NOT_FOUND && !active?.aborted) return undefined;
			throw failure(error, active, `get repository ${id} in ${location}`, project);
		}
	};

	return {
		async *listRepositoryPages(project, location, pageOptions = {}) {
			const active = combine(ctx.signal, pageOptions.signal);
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

		async createDockerRepository(project, location, id, createOptions = {}) {
			const active = combine(ctx.signal, createOptions.signal);
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
			const existing = await getRepository(project, location, id, createOptions.signal);
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

		async testIamPermissions(project, location, id, permissions, signal) {
			const active = combine(ctx.signal, signal);
			const resource = repositoryName(project, location, id);
			try {
				const [response] = await withRetry(async () => call(client.testIamPermissions({resource, permissions: [...permissions]}), active), retryDelays, active);
				return response.permissions ?? [];
			} catch (error) {
				throw failure(error, active, `check your permissions on repository ${id}`, project);
			}
		},

		async getIamPolicy(project, location, id, signal) {
			const active = combine(ctx.signal, signal);
			try {
				const [policy] = await withRetry(
					// Version 3 shows conditional bindings, which a write must then keep.
					async () => call(client.getIamPolicy({resource: repositoryName(project, location, id), options: {requestedPolicyVersion: 3}}), active),
					retryDelays,
					active,
				);
				return toPolicy(policy);
			} catch (error) {
				throw failure(error, active, `read the IAM policy of repository ${id}`, project);
			}
		},

		async setIamPolicy(project, location, id, policy, signal) {
			const active = combine(ctx.signal, signal);
			try {
				// Not retried here: after a lost answer only a fresh read tells whether it was applied.
				const [written] = await call(
					client.setIamPolicy({
						resource: repositoryName(project, location, id),
						policy: {version: policy.version, bindings: policy.bindings, etag: policy.etag},
					}),
					active,
				);
				return toPolicy(written);
			} catch (error) {
				throw failure(error, active, `change the IAM policy of repository ${id}`, project);
			}
		},

		async listLocations(project, signal) {
			const active = combine(ctx.signal, signal);
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
			const active = combine(ctx.signal, signal);
			const repository = repositoryName(where.project, where.location, where.repository);
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
			const active = combine(ctx.signal, listOptions.signal);
			const parent = repositoryName(where.project, where.location, where.repository);
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
