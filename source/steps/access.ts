// steps/: what each wizard step does (repository.ts creates the repository, imagespec.ts writes the module, build.ts
// builds and pushes…), and the other commands (doctor, export, status and build); each talks to services/.
import type {ArtifactRegistry, RepositoryRef} from '../services/artifact-registry.js';
import {StepError} from '../services/errors.js';
import type {StepId} from '../flow/events.js';
import {plan} from '../flow/plan.js';
import {listServiceAccounts} from '../services/gcloud.js';
import {grantCommand} from '../services/fixes.js';
import {grantOnRepository, mayWhat, serviceAccountMember, validateServiceAccount} from '../services/repository-iam.js';
import {UNION_ACCOUNTS, projectOfServiceAccount, type UnionAccount} from '../services/union-accounts.js';
import type {SavedDataPlane} from '../services/store.js';
import type {StepContext} from './context.js';
import {validateProjectId} from './project.js';

export type AccessOutcome = {
	/** done: the data plane can pull; otherwise the step is skipped, for `detail`'s reason. */
	done: boolean;
	status: 'same-project' | 'not-asked' | GrantStatus;
	detail: string;
	serviceAccount?: string;
	/** What an admin runs, when the wizard could not grant it. */
	fix?: string;
	/** The answer to remember (undefined: nothing new was learned). */
	saved?: SavedDataPlane;
};

export type GrantStatus = 'granted' | 'already' | 'dry-run' | 'declined' | 'needs-admin';

/** One account's role on the repository, as offered: what happened, and what an admin runs when the wizard could not. */
export type Grant = {account: UnionAccount; serviceAccount: string; role: string; status: GrantStatus; detail: string; fix?: string};

const OTHER_ACCOUNT = '\u0000other';

/**
 * The access step: when the Union data plane runs in another project, its worker service account gets
 * Artifact Registry Reader on the repository (read-modify-write of the repository's IAM policy).
 * A missing permission to change the policy does not stop the run: the command an admin can run
 * is shown instead.
 */
export async function grantDataPlaneAccess(c: StepContext, where: RepositoryRef & {registry: ArtifactRegistry}): Promise<AccessOutcome> {
	const target = await whoPulls(c, where);
	if ('status' in target) return target;
	const {serviceAccount, saved} = target;
	const grant = await offerGrant(c, where, {account: 'worker', serviceAccount, step: 'access'});
	return {done: grant.status === 'granted' || grant.status === 'already', status: grant.status, serviceAccount, saved, detail: grant.detail, fix: grant.fix};
}

/**
 * Gives one of the data plane's accounts its role on the repository (UNION_ACCOUNTS): shows the
 * change and asks first when a person is there; a flag or a saved answer is the consent of a
 * script. Without the right to change the policy, the run goes on with the command an admin runs.
 */
export async function offerGrant(
	c: StepContext,
	where: RepositoryRef & {registry: ArtifactRegistry},
	{account, serviceAccount, step}: {account: UnionAccount; serviceAccount: string; step: StepId},
): Promise<Grant> {
	const {role, flag} = UNION_ACCOUNTS[account];
	const member = serviceAccountMember(serviceAccount);
	const ref: RepositoryRef = {project: where.project, location: where.location, repository: where.repository};
	const title = `IAM policy of repository ${where.repository}`;
	const may = mayWhat(role);
	const verb = may.split(' ')[0];
	const result = (status: GrantStatus, detail: string, fix?: string): Grant => ({account, serviceAccount, role, status, detail, ...(fix ? {fix} : {})});
	try {
		const outcome = await grantOnRepository(where.registry, ref, member, {
			role,
			dryRun: c.flags.dryRun,
			signal: c.ctx.signal,
			approve: c.ask.interactive
				? async change => {
						c.report({type: 'code', title: `Change to the ${title}`, code: change});
						return c.ask.confirm({flag, message: `Let ${serviceAccount} ${may} ${where.repository}?`, default: true});
					}
				: undefined,
		});
		switch (outcome.status) {
			case 'already': {
				return result('already', `${serviceAccount} can already ${may} ${where.repository}`);
			}

			case 'granted': {
				if (!c.ask.interactive) c.report({type: 'code', title: `Changed the ${title}`, code: outcome.change});
				return result('granted', `${serviceAccount} may now ${may} ${where.repository} (${role})`);
			}

			case 'dry-run': {
				c.report(
					plan({
						kind: 'grant-access',
						step,
						summary: `let ${serviceAccount} ${may} ${where.repository} (${role})`,
						content: outcome.change,
						command: grantCommand(ref, member, role),
						data: {...ref, member, role},
					}),
				);
				return result('dry-run', `--dry-run: ${serviceAccount} not granted`);
			}

			case 'declined': {
				return result('declined', `not granted: ${serviceAccount} cannot ${may} ${where.repository} yet`, grantCommand(ref, member, role));
			}
		}
	} catch (error) {
		if (!(error instanceof StepError) || error.reason !== 'NEEDS_ADMIN') throw error;
		// The image can still be built and pushed; only the cluster's pull (or Union's push) waits for the admin.
		c.report({type: 'note', level: 'warn', text: error.message});
		c.report({type: 'code', title: 'Ask an admin to grant it', code: error.fix ?? ''});
		return result('needs-admin', `not granted: an admin must let ${serviceAccount} ${verb} (command above)`, error.fix);
	}
}

/**
 * One of the data plane's accounts: picked from `project`'s accounts (those whose names match
 * Union's documented pattern, UNION_ACCOUNTS' `contains`; all of them when Union names none), else typed.
 * `optional`: an empty answer skips it ('').
 */
export async function pickAccount(c: StepContext, account: UnionAccount, project: string | undefined, {optional = false} = {}): Promise<string> {
	const {flag, label, contains, placeholder} = UNION_ACCOUNTS[account];
	const listed = project ? await listServiceAccounts(c.ctx, project, contains) : [];
	if (listed.length > 0) {
		const picked = await c.ask.select({
			flag,
			message: `The ${label} service account in ${project}:`,
			choices: [...listed.map(email => ({label: email, value: email})), {label: 'Another account (type its email)', value: OTHER_ACCOUNT}],
			default: listed[0],
		});
		if (picked !== OTHER_ACCOUNT) return picked;
	}

	return c.ask.text({
		flag,
		message: `The ${label} service account email${project ? ` in ${project}` : ''}${optional ? ' (empty: skip)' : ''}:`,
		placeholder: project ? placeholder.replace('<org>-gcp-dataplane', project) : placeholder,
		validate: value => (optional && value === '' ? undefined : validateServiceAccount(value)),
	});
}

type Target = {serviceAccount: string; saved: SavedDataPlane};

/**
 * The worker service account to grant, from the flag, the person, or the saved answer. A rerun
 * of a known setup asks nothing: adding an image asks only about the image.
 */
async function whoPulls(c: StepContext, {project, repository}: RepositoryRef): Promise<Target | AccessOutcome> {
	const {ask, flags, saved} = c;
	const knownSetup = saved.project === project && saved.repository === repository;
	const previous = saved.dataPlane;
	const sameProject: AccessOutcome = {
		done: false,
		status: 'same-project',
		saved: {sameProject: true},
		detail: `the data plane runs in ${project}: nothing to grant`,
	};
	if (flags.dataPlaneSa !== undefined) {
		const serviceAccount = await ask.text(
			{flag: 'data-plane-sa', message: 'Data plane worker service account:', validate: validateServiceAccount},
			flags.dataPlaneSa,
		);
		return {serviceAccount, saved: {sameProject: false, serviceAccount, project: projectOfServiceAccount(serviceAccount)}};
	}

	if (!ask.interactive || knownSetup) {
		if (previous?.serviceAccount && !previous.sameProject) return {serviceAccount: previous.serviceAccount, saved: previous};
		if (previous?.sameProject) return sameProject;
		return {done: false, status: 'not-asked', detail: 'when the Union data plane runs in another project, pass --data-plane-sa EMAIL'};
	}

	const same = await ask.confirm({
		flag: 'data-plane-sa',
		message: `Does your Union data plane run in project ${project} too?`,
		default: previous?.sameProject ?? true,
	});
	if (same) return sameProject;

	const answer = await ask.text({
		flag: 'data-plane-sa',
		message: 'The data plane worker service account (or the data plane project id):',
		default: previous?.serviceAccount,
		placeholder: UNION_ACCOUNTS.worker.placeholder,
		validate: value => (value.includes('@') ? validateServiceAccount(value) : validateProjectId(value) && 'enter a service account email or a project id'),
	});
	if (answer.includes('@')) return {serviceAccount: answer, saved: {sameProject: false, serviceAccount: answer, project: projectOfServiceAccount(answer)}};
	if (answer === project) return sameProject;
	const serviceAccount = await pickAccount(c, 'worker', answer);
	return {serviceAccount, saved: {sameProject: false, serviceAccount, project: answer}};
}
