// steps/: what each wizard step does (repository.ts creates the repository, imagespec.ts writes the module, build.ts
// builds and pushes…), and the other commands (doctor, export, status and build); each talks to services/.
import type {ArtifactRegistry, RepositoryRef} from '../services/artifact-registry.js';
import {StepError} from '../services/errors.js';
import {plan} from '../flow/plan.js';
import {listServiceAccounts} from '../services/gcloud.js';
import {grantCommand} from '../services/fixes.js';
import {READER_ROLE, grantOnRepository, serviceAccountMember, validateServiceAccount} from '../services/repository-iam.js';
import type {SavedDataPlane} from '../services/store.js';
import type {StepContext} from './context.js';
import {validateProjectId} from './project.js';

export type AccessOutcome = {
	/** done: the data plane can pull; otherwise the step is skipped, for `detail`'s reason. */
	done: boolean;
	status: 'same-project' | 'not-asked' | 'granted' | 'already' | 'dry-run' | 'declined' | 'needs-admin';
	detail: string;
	serviceAccount?: string;
	/** What an admin runs, when the wizard could not grant it. */
	fix?: string;
	/** The answer to remember (undefined: nothing new was learned). */
	saved?: SavedDataPlane;
};

const OTHER_ACCOUNT = '\u0000other';
const PLACEHOLDER = '<org>-flyteworker-<suffix>@<org>-gcp-dataplane.iam.gserviceaccount.com';

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
	const member = serviceAccountMember(serviceAccount);
	const ref: RepositoryRef = {project: where.project, location: where.location, repository: where.repository};
	const title = `IAM policy of repository ${where.repository}`;
	try {
		const outcome = await grantOnRepository(where.registry, ref, member, {
			dryRun: c.flags.dryRun,
			signal: c.ctx.signal,
			approve: c.ask.interactive
				? async change => {
						c.report({type: 'code', title: `Change to the ${title}`, code: change});
						return c.ask.confirm({flag: 'data-plane-sa', message: `Let ${serviceAccount} pull from ${where.repository}?`, default: true});
					}
				: undefined,
		});
		switch (outcome.status) {
			case 'already': {
				return {done: true, status: 'already', serviceAccount, saved, detail: `${serviceAccount} can already pull from ${where.repository}`};
			}

			case 'granted': {
				if (!c.ask.interactive) c.report({type: 'code', title: `Changed the ${title}`, code: outcome.change});
				return {done: true, status: 'granted', serviceAccount, saved, detail: `${serviceAccount} may now pull from ${where.repository} (${READER_ROLE})`};
			}

			case 'dry-run': {
				c.report(
					plan({
						kind: 'grant-access',
						step: 'access',
						summary: `let ${serviceAccount} pull from ${where.repository} (${READER_ROLE})`,
						content: outcome.change,
						command: grantCommand(ref, member, READER_ROLE),
						data: {...ref, member, role: READER_ROLE},
					}),
				);
				return {done: false, status: 'dry-run', serviceAccount, saved, detail: `--dry-run: ${serviceAccount} not granted`};
			}

			case 'declined': {
				return {done: false, status: 'declined', serviceAccount, saved, detail: `not granted: ${serviceAccount} cannot pull from ${where.repository} yet`};
			}
		}
	} catch (error) {
		if (!(error instanceof StepError) || error.reason !== 'NEEDS_ADMIN') throw error;
		// The image can still be built and pushed; only the cluster's pull waits for the admin.
		c.report({type: 'note', level: 'warn', text: error.message});
		c.report({type: 'code', title: 'Ask an admin to grant it', code: error.fix ?? ''});
		return {
			done: false,
			status: 'needs-admin',
			serviceAccount,
			saved,
			fix: error.fix,
			detail: `not granted: an admin must let ${serviceAccount} pull (command above)`,
		};
	}
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
		placeholder: PLACEHOLDER,
		validate: value => (value.includes('@') ? validateServiceAccount(value) : validateProjectId(value) && 'enter a service account email or a project id'),
	});
	if (answer.includes('@')) return {serviceAccount: answer, saved: {sameProject: false, serviceAccount: answer, project: projectOfServiceAccount(answer)}};
	if (answer === project) return sameProject;
	// Union names the data plane's worker accounts <org>-flyteworker-<suffix>: offer the ones there.
	const workers = await listServiceAccounts(c.ctx, answer, 'flyteworker');
	if (workers.length > 0) {
		const picked = await ask.select({
			flag: 'data-plane-sa',
			message: `Worker service account in ${answer}:`,
			choices: [...workers.map(email => ({label: email, value: email})), {label: 'Another account (type its email)', value: OTHER_ACCOUNT}],
			default: workers[0],
		});
		if (picked !== OTHER_ACCOUNT) return {serviceAccount: picked, saved: {sameProject: false, serviceAccount: picked, project: answer}};
	}

	const serviceAccount = await ask.text({
		flag: 'data-plane-sa',
		message: `Worker service account email in ${answer}:`,
		placeholder: PLACEHOLDER.replace('<org>-gcp-dataplane', answer),
		validate: validateServiceAccount,
	});
	return {serviceAccount, saved: {sameProject: false, serviceAccount, project: answer}};
}

/** `x@proj.iam.gserviceaccount.com` → proj */
const projectOfServiceAccount = (email: string): string | undefined => /@([^@]+)\.iam\.gserviceaccount\.com$/.exec(email)?.[1];
