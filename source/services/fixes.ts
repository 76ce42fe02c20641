// The fixes imagespec-gar hands a person, each written once: commands to run, roles to ask for,
// where to install a tool. Services and steps name them from here and add only what is theirs.
import type {RepositoryRef} from './artifact-registry.js';

export const GCLOUD_LOGIN = 'gcloud auth login';
export const ADC_LOGIN = 'gcloud auth application-default login';

const SDK_INSTALL_URL = 'https://cloud.google.com/sdk/docs/install';
export const INSTALL_GCLOUD = `Install the Google Cloud SDK: ${SDK_INSTALL_URL}`;
export const INSTALL_DOCKER = 'Install Docker: https://docs.docker.com/get-docker/';
export const INSTALL_CREDENTIAL_HELPER = `Put the SDK's bin folder (it holds docker-credential-gcloud) on PATH, or reinstall the SDK: ${SDK_INSTALL_URL}`;

/** How to start the engine; the caller adds what comes after (", then rerun."). */
export const START_DOCKER = 'Start Docker (open Docker Desktop, or `sudo systemctl start docker`)';

export const NETWORK_FIX = 'Check your network connection, proxy (HTTPS_PROXY) or VPN';

/** The Artifact Registry API, as Service Usage names it. */
export const ARTIFACT_REGISTRY_SERVICE = 'artifactregistry.googleapis.com';

/** Turns the Artifact Registry API on; without a project, in gcloud's current one. */
export const enableApiCommand = (project?: string): string => `gcloud services enable ${ARTIFACT_REGISTRY_SERVICE}${project ? ` --project ${project}` : ''}`;

/** Registers gcloud as docker's credential helper for `host`. */
export const configureDockerCommand = (host: string): string => `gcloud auth configure-docker ${host}`;

/** Predefined Artifact Registry roles, as a fix names them. */
export const ROLES = {
	admin: 'Artifact Registry Administrator (roles/artifactregistry.admin)',
	repoAdmin: 'Artifact Registry Repository Administrator (roles/artifactregistry.repoAdmin)',
	writer: 'Artifact Registry Writer (roles/artifactregistry.writer)',
	reader: 'Artifact Registry Reader (roles/artifactregistry.reader)',
} as const;

export const WRITER_ROLE = 'roles/artifactregistry.writer';

/** The command an admin runs to grant `role` on the repository to `member` (user:…, serviceAccount:…). */
export const grantCommand = ({project, location, repository}: RepositoryRef, member: string, role: string): string =>
	`gcloud artifacts repositories add-iam-policy-binding ${repository} --project ${project} --location ${location} --member ${member} --role ${role}`;

/** What someone who may not push asks for: the Writer role, and the command that grants it. */
export const writerGrantFix = (ref: RepositoryRef, member: string): string =>
	`Ask an admin of the repository for ${ROLES.writer}:\n${grantCommand(ref, member, WRITER_ROLE)}`;
