import type {ArtifactRegistry, IamBinding, RepositoryRef} from '../services/artifact-registry.js';
import {WRITER_ROLE} from '../services/fixes.js';
import {findFlyte} from '../services/flyte-build.js';
import {readFlyteImageConfig} from '../services/flyte-config.js';
import {readProjectIamBindings} from '../services/gcloud.js';
import type {Flags} from '../flags.js';
import type {Platform} from '../services/platform.js';
import {accountAccess, mayWhat} from '../services/repository-iam.js';
import {detectSdk} from '../services/sdk.js';
import type {SavedDataPlane, SavedImage} from '../services/store.js';
import {UNION_ACCOUNTS, projectOfServiceAccount} from '../services/union-accounts.js';
import {offerGrant, pickAccount, type Grant} from './access.js';
import type {StepContext} from './context.js';
import {chooseFlyteBuilder} from './flyte-image.js';

export type BuilderAccessOutcome = {
	/** same-project: nothing to grant; not-asked: no account known (the flags to pass are in detail); checked: see grants. */
	status: 'same-project' | 'not-asked' | 'checked';
	detail: string;
	grants: Grant[];
	/** The accounts to remember (undefined: nothing new was learned). */
	saved?: SavedDataPlane;
};

/** The accounts the remote builder needs besides the worker's Reader (the access step grants that one). */
const BUILDER_ACCOUNTS = [
	['builder', 'builderSa', 'builderServiceAccount'],
	['operator-proxy', 'operatorProxySa', 'operatorProxyServiceAccount'],
] as const;

/** A grant in a few words, for the step's line (the change itself was shown): "Writer granted". */
const grantWord = ({role, status}: Grant): string => {
	const name = role === WRITER_ROLE ? 'Writer' : 'Reader';
	return {
		granted: `${name} granted`,
		already: `has ${name}`,
		'dry-run': `${name} planned`,
		declined: `${name} declined`,
		'needs-admin': `${name} needs an admin`,
	}[status];
};

/**
 * Whether Union's remote builder builds into this folder's repository (doctor, export): --builder
 * union, a saved or declared builder="union", or a Flyte 2 project whose flyte config says
 * `image.builder: remote`.
 */
export async function remoteBuilderConfigured(
	flags: Pick<Flags, 'builder' | 'sdk'>,
	images: ReadonlyArray<Pick<SavedImage, 'builder'>>,
	{folder, platform}: {folder: string; platform: Platform},
): Promise<boolean> {
	if (flags.builder !== undefined) return flags.builder === 'union';
	if (images.some(image => image.builder === 'union')) return true;
	if ((flags.sdk ?? (await detectSdk(folder))) !== 'flyte') return false;
	const config = await readFlyteImageConfig(folder, platform.env, platform.home).catch(() => undefined);
	return config?.builder === 'remote';
}

/**
 * Whether Union's remote image builder builds this Flyte 2 image: `--builder union`, flyte's
 * `image.builder: remote`, or no flyte CLI here to build it locally.
 */
export async function flyteBuildsRemotely(c: StepContext): Promise<boolean> {
	// A config flyte cannot read is the build's to report.
	if ((await chooseFlyteBuilder(c).catch(() => 'local')) === 'remote') return true;
	return c.flags.builder === undefined && (await findFlyte(c.ctx)) === undefined;
}

/**
 * When Union's remote image builder builds the image into a repository in another project than
 * the data plane, its account needs Writer and the operator proxy's Reader on the repository
 * (UNION_ACCOUNTS). Each is read from the repository's IAM policy and offered as the data plane's
 * grant is; in the data plane's own project nothing is needed.
 */
export async function grantBuilderAccess(
	c: StepContext,
	where: RepositoryRef & {registry: ArtifactRegistry},
	known: SavedDataPlane | undefined,
): Promise<BuilderAccessOutcome> {
	const {flags, ask} = c;
	const given = flags.builderSa ?? flags.operatorProxySa;
	if (known?.sameProject && given === undefined) {
		return {status: 'same-project', grants: [], detail: `Union's builder runs in ${where.project} with the data plane: nothing to grant`};
	}

	const dataPlane: SavedDataPlane = known?.sameProject === false ? known : {sameProject: false, project: given && projectOfServiceAccount(given)};
	if (!known && given === undefined) {
		return {
			status: 'not-asked',
			grants: [],
			detail: `when the Union data plane runs in another project, pass --${UNION_ACCOUNTS.builder.flag} and --${UNION_ACCOUNTS['operator-proxy'].flag}`,
		};
	}

	const unknown = BUILDER_ACCOUNTS.filter(([, flag, field]) => !flags[flag] && !dataPlane[field]);
	if (ask.interactive && unknown.length > 0) {
		c.report({
			type: 'note',
			level: 'info',
			text:
				`Union's remote builder pushes this image as the data plane's user role account, and the operator proxy reads it: ` +
				`with the data plane in ${dataPlane.project ?? 'another project'}, they need Artifact Registry Writer and Reader ` +
				`on ${where.repository} (Union's docs: Image Builder, "GCP cross project access").`,
		});
	}

	// The repository alone: the client may send it to another thread, where a client object cannot go.
	const ref: RepositoryRef = {project: where.project, location: where.location, repository: where.repository};
	// The project's own policy, read once and only when the repository's lacks a grant.
	let projectRead: Promise<IamBinding[] | undefined> | undefined;
	const projectBindings = () => {
		projectRead ??= readProjectIamBindings(c.ctx, where.project).then(bindings => {
			if (!bindings) {
				c.report({
					type: 'note',
					level: 'warn',
					text:
						`The IAM policy of project ${where.project} could not be read (that needs resourcemanager.projects.getIamPolicy): ` +
						`a role granted on the whole project would not show, so only repository ${where.repository}'s policy was checked.`,
				});
			}
			return bindings;
		});
		return projectRead;
	};
	const grants: Grant[] = [];
	const missing: string[] = [];
	let saved = dataPlane;
	for (const [account, flag, field] of BUILDER_ACCOUNTS) {
		const serviceAccount =
			flags[flag] ??
			dataPlane[field] ??
			(ask.interactive ? await pickAccount(c, account, dataPlane.project, {optional: account === 'operator-proxy'}) : undefined);
		if (!serviceAccount) {
			missing.push(`--${UNION_ACCOUNTS[account].flag}`);
			continue;
		}
		if (dataPlane[field] !== serviceAccount) saved = {...saved, [field]: serviceAccount};
		const {role} = UNION_ACCOUNTS[account];
		// A role on the whole project covers the repository: nothing is offered then.
		const access = await accountAccess(where.registry, ref, serviceAccount, role, c.ctx.signal, projectBindings);
		if (access.status === 'ok') grants.push({account, serviceAccount, role, status: 'already', detail: access.detail});
		else {
			const grant = await offerGrant(c, where, {account, serviceAccount, step: 'build'});
			// Declined: Union's build would fail later, far from here; the command stays on screen.
			if (grant.status === 'declined' && grant.fix) {
				c.report({
					type: 'code',
					title: `Not granted: until this runs, the ${UNION_ACCOUNTS[account].short} cannot ${mayWhat(role)} ${where.repository}`,
					code: grant.fix,
				});
			}
			grants.push(grant);
		}
	}

	const said = grants.map(grant => `${UNION_ACCOUNTS[grant.account].short}: ${grantWord(grant)}`);
	if (missing.length > 0) said.push(`not checked: pass ${missing.join(' and ')}`);
	return {status: grants.length > 0 ? 'checked' : 'not-asked', grants, detail: said.join('; '), saved: saved === known ? undefined : saved};
}
