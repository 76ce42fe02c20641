// services/: plain Node (no React) that talks to gcloud, docker, Python and the Artifact Registry API and
// reads and writes the user's files; every failure is a typed error (errors.ts) with the fix to show.

// This file: an Artifact Registry API failure (a gax GoogleError) → a StepError saying what to do.
import {CancelledError, StepError, isAbort} from './errors.js';
import {ADC_LOGIN, NETWORK_FIX, ROLES, enableApiCommand} from './fixes.js';

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

/** What gax puts on a failed call (GoogleError), read defensively. */
type ApiError = {
	code?: unknown;
	details?: unknown;
	message?: unknown;
	reason?: unknown;
	errorInfoMetadata?: unknown;
};

export const apiCode = (error: unknown): number | undefined => {
	const code = (error as ApiError | undefined)?.code;
	return typeof code === 'number' ? code : undefined;
};

export const apiDetails = (error: unknown): string => {
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

const NO_ADC_PATTERN = /Could not load the default credentials/i;
// Token refresh failures reach gRPC through the auth plugin and arrive as UNAVAILABLE.
const EXPIRED_LOGIN_PATTERN = /invalid_grant|invalid_rapt|reauth related error|Getting metadata from plugin failed/i;

/** The smallest predefined role that holds `permission`, for the fix line. */
function roleForPermission(permission: string): string | undefined {
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
			fix: `${NETWORK_FIX}, then rerun; on a slow link allow more time with IMAGESPEC_GAR_API_TIMEOUT=<seconds>.`,
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
		const fix = [enableApiCommand(where), metadata.activationUrl ? `or enable it at ${metadata.activationUrl}` : undefined].filter(Boolean).join('\n');
		return new StepError(`Artifact Registry API is disabled${inProject}.`, {fix, reason, cause});
	}

	const permission = metadata.permission ?? permissionInText.exec(details)?.[1];
	const unseen = `Cannot ${action}: it does not exist or you cannot see it${inProject}.`;
	const thatProject = `that project ${where} is the one you mean (gcloud config get project)`;
	// Google answers a read of something missing and of something hidden alike: name both fixes.
	const hidden = code === GrpcCode.NOT_FOUND || (code === GrpcCode.PERMISSION_DENIED && (/^get\b/i.test(action) || /\.get$/.test(permission ?? '')));
	if (hidden && /^get repository\b/i.test(action)) {
		const check = where ? `check ${thatProject}` : 'check the project';
		return new StepError(unseen, {
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
		return new StepError(unseen, {
			fix: where ? `Check the name and ${thatProject}.` : 'Check the name and project.',
			reason: 'NOT_FOUND',
			cause,
		});
	}

	if (NO_ADC_PATTERN.test(details)) {
		return new StepError('No Google Cloud Application Default Credentials were found.', {fix: ADC_LOGIN, reason: 'NO_ADC', cause});
	}

	if (code === GrpcCode.UNAUTHENTICATED || EXPIRED_LOGIN_PATTERN.test(details)) {
		return new StepError(`Google Cloud did not accept your credentials, so the wizard could not ${action}: ${details}`, {
			fix: ADC_LOGIN,
			reason: 'UNAUTHENTICATED',
			cause,
		});
	}

	if (code === GrpcCode.UNAVAILABLE || code === GrpcCode.DEADLINE_EXCEEDED) {
		return new StepError(`Could not reach Artifact Registry to ${action} (${codeNames.get(code)}): ${details}`, {
			fix: `${NETWORK_FIX}, then try again.`,
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

/** A failure worth retrying: the network or the server, not an expired login. */
export const isTransient = (error: unknown): boolean => {
	const code = apiCode(error);
	return (code === GrpcCode.UNAVAILABLE || code === GrpcCode.DEADLINE_EXCEEDED) && !EXPIRED_LOGIN_PATTERN.test(apiDetails(error));
};

/** A call that got no answer within its deadline (not retried: the next try would wait as long). */
export class ApiDeadlineError extends Error {
	override readonly name = 'ApiDeadlineError';
	constructor(readonly seconds: number) {
		super(`no answer within ${seconds} s`);
	}
}

/** A CancelledError when the call was cancelled, else the StepError for it. */
export const failure = (error: unknown, signal: AbortSignal | undefined, action: string, project?: string): Error =>
	signal?.aborted || isAbort(error) ? new CancelledError() : toStepError(error, action, project);
