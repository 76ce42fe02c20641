import {GrpcCode} from './api-errors.js';
import type {ArtifactRegistry, IamBinding, IamPolicy, RepositoryRef} from './artifact-registry.js';
import {sleep} from './cancellation.js';
import {CancelledError, StepError} from './errors.js';
import {ROLES, WRITER_ROLE, grantCommand} from './fixes.js';

/** What the Union data plane needs to pull images from the repository. */
export const READER_ROLE = 'roles/artifactregistry.reader';

/** Roles granted on a repository that include downloadArtifacts (a pull). */
const ROLES_THAT_READ = new Set([
	READER_ROLE,
	WRITER_ROLE,
	'roles/artifactregistry.repoAdmin',
	'roles/artifactregistry.admin',
	'roles/artifactregistry.createOnPushWriter',
	'roles/artifactregistry.createOnPushRepoAdmin',
]);

const serviceAccountPattern = /^[a-z0-9][a-z0-9._-]*@[a-z0-9][a-z0-9.:-]*\.iam\.gserviceaccount\.com$/;

/** Why `email` is not a service account email, or undefined. */
export function validateServiceAccount(email: string): string | undefined {
	if (email === '') return 'a service account email is required';
	if (email !== email.toLowerCase()) return 'service account emails are lowercase';
	if (!serviceAccountPattern.test(email)) {
		return 'a service account email ends with .iam.gserviceaccount.com, e.g. acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com';
	}
	return undefined;
}

/** What a docker push needs on the repository (Artifact Registry Writer has it). */
export const PUSH_PERMISSION = 'artifactregistry.repositories.uploadArtifacts';

/** An IAM member for a gcloud account: service accounts and people are named differently. */
export const iamMember = (account: string | undefined): string =>
	account ? (account.endsWith('.gserviceaccount.com') ? serviceAccountMember(account) : `user:${account}`) : 'user:YOUR_EMAIL';

export const serviceAccountMember = (email: string): string => `serviceAccount:${email}`;

/**
 * `policy` with `member` in the unconditional binding of `role` (created when there is none).
 * Every other binding and member is kept exactly, in order; conditional bindings are not touched.
 */
export function withMember(policy: IamPolicy, role: string, member: string): {policy: IamPolicy; changed: boolean} {
	const index = policy.bindings.findIndex(binding => binding.role === role && !binding.condition);
	if (index !== -1 && policy.bindings[index]!.members.includes(member)) return {policy, changed: false};
	const bindings: IamBinding[] =
		index === -1
			? [...policy.bindings, {role, members: [member]}]
			: policy.bindings.map((binding, at) => (at === index ? {...binding, members: [...binding.members, member]} : binding));
	return {policy: {...policy, bindings}, changed: true};
}

/** The change, as a person reads it: the bindings of `role` before and after. */
function describeChange(before: IamPolicy, after: IamPolicy, role: string): string {
	const members = (policy: IamPolicy) => policy.bindings.filter(binding => binding.role === role && !binding.condition).flatMap(binding => binding.members);
	const old = new Set(members(before));
	const lines = members(after).map(member => `${old.has(member) ? '  ' : '+ '}${member}`);
	const others = before.bindings.length - before.bindings.filter(binding => binding.role === role && !binding.condition).length;
	return [`${role}:`, ...lines, `(${others} other binding${others === 1 ? '' : 's'} unchanged)`].join('\n');
}

export type GrantOutcome =
	| {status: 'granted'; change: string; attempts: number}
	| {status: 'already'}
	| {status: 'dry-run'; change: string}
	| {status: 'declined'; change: string};

const CONFLICT_RETRY_DELAYS_MS: readonly number[] = [100, 300, 1000, 2000];

const isConflict = (error: unknown) => error instanceof StepError && (error.reason === 'ABORTED' || error.reason === 'FAILED_PRECONDITION');

/**
 * Grants `role` on the repository to `member` by read-modify-write of its IAM policy: read (with
 * its etag), add the member, write back with the etag. A concurrent change (ABORTED or
 * FAILED_PRECONDITION) is read again and retried. Already there: nothing is sent.
 */
export async function grantOnRepository(
	registry: ArtifactRegistry,
	where: RepositoryRef,
	member: string,
	options: {
		role?: string;
		dryRun?: boolean;
		/** Asked once, with the change, before the first write. */
		approve?: (change: string) => Promise<boolean>;
		signal?: AbortSignal;
		conflictRetryDelaysMs?: readonly number[];
	} = {},
): Promise<GrantOutcome> {
	const role = options.role ?? READER_ROLE;
	const delays = options.conflictRetryDelaysMs ?? CONFLICT_RETRY_DELAYS_MS;
	const {project, location, repository} = where;
	for (let attempt = 0; ; attempt++) {
		let phase: 'read' | 'write' = 'read';
		try {
			const before = await registry.getIamPolicy({project, location, repository}, options.signal);
			const {policy, changed} = withMember(before, role, member);
			if (!changed) return {status: 'already'};
			const change = describeChange(before, policy, role);
			if (options.dryRun) return {status: 'dry-run', change};
			if (attempt === 0 && options.approve && !(await options.approve(change))) return {status: 'declined', change};
			phase = 'write';
			await registry.setIamPolicy({project, location, repository}, policy, options.signal);
			return {status: 'granted', change, attempts: attempt + 1};
		} catch (error) {
			const delay = delays[attempt];
			if (!isConflict(error) || delay === undefined) throw asGrantError(error, where, member, role, {phase, attempts: attempt + 1});
			await sleep(delay, options.signal);
		}
	}
}

/** A denied read or write of the policy says which role would do, and what an admin runs. */
function asGrantError(error: unknown, where: RepositoryRef, member: string, role: string, at: {phase: 'read' | 'write'; attempts: number}): unknown {
	if (error instanceof CancelledError || !(error instanceof StepError)) return error;
	if (isConflict(error)) {
		return new StepError(`The IAM policy of repository ${where.repository} kept changing while it was being written (${at.attempts} tries).`, {
			fix: [
				`Something else is changing it right now (another run, Terraform): wait a minute and rerun, or an admin runs:`,
				grantCommand(where, member, role),
			].join('\n'),
			reason: 'POLICY_CONFLICT',
			cause: error,
		});
	}

	const denied =
		error.reason === 'IAM_PERMISSION_DENIED' ||
		error.reason === 'PERMISSION_DENIED' ||
		(error.cause as {code?: unknown} | undefined)?.code === GrpcCode.PERMISSION_DENIED;
	if (!denied) return error;
	const permission = at.phase === 'read' ? 'getIamPolicy' : 'setIamPolicy';
	const doing = at.phase === 'read' ? 'read who can read' : 'change who can read';
	return new StepError(`You may not ${doing} repository ${where.repository}: that needs artifactregistry.repositories.${permission} on it.`, {
		fix: [
			`A role with that permission, e.g. ${ROLES.admin} on the repository or project, ` +
				'or Project IAM Admin (roles/resourcemanager.projectIamAdmin); or an admin runs:',
			grantCommand(where, member, role),
		].join('\n'),
		reason: 'NEEDS_ADMIN',
		cause: error,
	});
}

export type AccountAccess = {
	/** ok: a role that covers `role` holds the account; missing: none does on the repository; unknown: the policy could not be read. */
	status: 'ok' | 'missing' | 'unknown';
	detail: string;
	fix?: string;
	/** The role that grants it, when ok. */
	role?: string;
};

/** Roles granted on a repository that include uploadArtifacts (a push). */
const ROLES_THAT_WRITE = new Set([
	WRITER_ROLE,
	'roles/artifactregistry.repoAdmin',
	'roles/artifactregistry.admin',
	'roles/artifactregistry.createOnPushWriter',
	'roles/artifactregistry.createOnPushRepoAdmin',
]);

/** How a person reads a role's grant: what the account may do with the repository. */
export const mayWhat = (role: string): string => (role === WRITER_ROLE ? 'push to' : 'pull from');

/** The unconditional binding's role that gives `serviceAccount` what `role` gives (itself or a larger one), if any. */
export const coveringRole = (bindings: readonly IamBinding[], serviceAccount: string, role: string): string | undefined => {
	const member = serviceAccountMember(serviceAccount);
	const covering = role === WRITER_ROLE ? ROLES_THAT_WRITE : ROLES_THAT_READ;
	return bindings.find(binding => covering.has(binding.role) && !binding.condition && binding.members.includes(member))?.role;
};

/**
 * Does the account hold `role` (Reader or Writer, or a role that includes it) on the repository,
 * by the repository's IAM policy, then the project's (`projectBindings`, read only when the
 * repository's has none; undefined: it could not be read)? testIamPermissions answers only for
 * the caller, so another principal's access is read from the policies. Without `projectBindings`,
 * 'missing' says a grant on the whole project would not show.
 */
export async function accountAccess(
	registry: ArtifactRegistry,
	where: RepositoryRef,
	serviceAccount: string,
	role: string,
	signal?: AbortSignal,
	projectBindings?: () => Promise<IamBinding[] | undefined>,
): Promise<AccountAccess> {
	let policy: IamPolicy;
	try {
		policy = await registry.getIamPolicy(where, signal);
	} catch (error) {
		if (error instanceof CancelledError) throw error;
		return {
			status: 'unknown',
			detail: `Could not read the IAM policy of ${where.repository}: ${error instanceof Error ? error.message : String(error)}`,
			fix: error instanceof StepError ? error.fix : undefined,
		};
	}

	const may = mayWhat(role);
	const onRepository = coveringRole(policy.bindings, serviceAccount, role);
	if (onRepository) return {status: 'ok', role: onRepository, detail: `${serviceAccount} may ${may} ${where.repository} (${onRepository})`};
	const project = projectBindings ? await projectBindings() : undefined;
	const onProject = project && coveringRole(project, serviceAccount, role);
	if (onProject) {
		return {status: 'ok', role: onProject, detail: `${serviceAccount} may ${may} ${where.repository} (${onProject} on project ${where.project})`};
	}
	const kind = role === WRITER_ROLE ? 'writing' : 'reading';
	const projectSaid = !projectBindings
		? 'a grant on the whole project would not show here'
		: project
			? `nor on project ${where.project}`
			: `project ${where.project}'s own grants could not be read`;
	return {
		status: 'missing',
		detail: `${serviceAccount} has no ${kind} role on repository ${where.repository} (${projectSaid}).`,
		fix: grantCommand(where, serviceAccountMember(serviceAccount), role),
	};
}
