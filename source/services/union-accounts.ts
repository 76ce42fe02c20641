import {WRITER_ROLE} from './fixes.js';
import {READER_ROLE} from './repository-iam.js';

/**
 * The Union data plane's Google service accounts that need a role on a repository in another
 * project, as Union's documentation names them (checked 2026-12):
 *
 * - worker: the node pool's account, Reader. unionai/unionai-docs@84e21b59
 *   content/deployment/byoc/enabling-gcp-resources/enabling-google-artifact-registry.md names it
 *   `<OrgName>-flyteworker-<Suffix>@<OrgName>-gcp-dataplane.iam.gserviceaccount.com`.
 * - builder: Union's remote image builder runs as a task "in the target run's project and domain"
 *   and pushes as the user "role" service account: Writer (content/deployment/selfmanaged/
 *   configuration/image-builder.md, "GCP cross project access"). On GCP that account is the one
 *   bound to every pod running Flyte code, named `<OrgName>-userflyterol-<Suffix>@...`
 *   (content/deployment/byoc/enabling-gcp-resources/_index.md, "<UserFlyteGSA>").
 * - operator-proxy: reads image metadata to see whether an image exists: Reader (the same
 *   image-builder.md: "the GCP worker node and union-operator-proxy service accounts"). Union's
 *   docs give no name pattern for it: unionai/helm-charts@1c67e128 charts/dataplane/values.gcp.yaml
 *   annotates every backend service (operator, proxy, ...) with one installation-specific account
 *   (`global.BACKEND_IAM_ROLE_ARN`). The person types it, or picks it from the project's accounts.
 *
 * In the data plane's own project nothing is granted: "Access to registries that do not exist in
 * the same GCP project as the data plane requires additional GCP permissions" (image-builder.md),
 * and "Access to GAR in the same project is enabled by default" (enabling-google-artifact-registry.md).
 */
export const UNION_ACCOUNTS = {
	worker: {
		label: 'data plane worker',
		short: 'data plane worker',
		role: READER_ROLE,
		flag: 'data-plane-sa',
		/** What `gcloud iam service-accounts list` is filtered by; undefined: no documented name. */
		contains: 'flyteworker',
		placeholder: '<org>-flyteworker-<suffix>@<org>-gcp-dataplane.iam.gserviceaccount.com',
	},
	builder: {
		label: "remote image builder (the data plane's user role)",
		short: "Union's builder",
		role: WRITER_ROLE,
		flag: 'builder-sa',
		contains: 'userflyterol',
		placeholder: '<org>-userflyterol-<suffix>@<org>-gcp-dataplane.iam.gserviceaccount.com',
	},
	'operator-proxy': {
		label: 'operator proxy',
		short: 'operator proxy',
		role: READER_ROLE,
		flag: 'operator-proxy-sa',
		contains: undefined,
		placeholder: 'the data plane backend account of union-operator-proxy (name not documented by Union)',
	},
} as const satisfies Record<string, {label: string; short: string; role: string; flag: string; contains: string | undefined; placeholder: string}>;

export type UnionAccount = keyof typeof UNION_ACCOUNTS;

/** `x@proj.iam.gserviceaccount.com` → proj */
export const projectOfServiceAccount = (email: string): string | undefined => /@([^@]+)\.iam\.gserviceaccount\.com$/.exec(email)?.[1];
