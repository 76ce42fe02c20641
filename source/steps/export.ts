import {chmod} from 'node:fs/promises';
import path from 'node:path';
import type {Flags} from '../flags.js';
import {rejectInvalidFlags} from '../flow/flag-rules.js';
import type {Repository, RepositoryRef} from '../services/artifact-registry.js';
import {parseCleanupPreset, parseLabels, type CleanupPreset} from '../services/repository-settings.js';
import {StepError, UsageError, isAbort} from '../services/errors.js';
import {exportGcloud, type ExportSetup} from '../services/export-gcloud.js';
import {exportTerraform} from '../services/export-terraform.js';
import {registryHostOfLocation} from '../services/imagespec.js';
import type {Platform} from '../services/platform.js';
import {writeFileAtomic} from '../services/spec-module.js';
import {openStore, projectFolder} from '../services/store.js';
import type {UnionAccount} from '../services/union-accounts.js';
import {DEFAULT_DESCRIPTION, validateRepositoryFlags} from './repository.js';
import {remoteBuilderConfigured} from './builder-access.js';
import {findKnownSetup} from './setup.js';

export const EXPORT_FORMATS = ['gcloud', 'terraform'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export type ExportOptions = {
	flags: Flags;
	cwd: string;
	platform: Platform;
	signal: AbortSignal;
	stdout: (text: string) => void;
	stderr: (text: string) => void;
};

/**
 * `imagespec-gar export --format gcloud|terraform`: this folder's setup (flags first, then the
 * saved answers, then the team's module), with the live repository's settings when it exists,
 * as a shell script or Terraform. Exit 0 written, 1 the repository cannot be used, 2 bad usage.
 */
export async function runExport(options: ExportOptions): Promise<number> {
	const {flags, stderr} = options;
	try {
		const format = exportFormat(flags.format);
		const setup = await resolveSetup(options);
		const text = format === 'gcloud' ? exportGcloud(setup) : exportTerraform(setup);
		if (flags.output === undefined) {
			options.stdout(text);
			return 0;
		}

		const file = path.resolve(options.cwd, flags.output);
		await writeFileAtomic(file, text);
		if (format === 'gcloud') await chmod(file, 0o755);
		stderr(`Wrote ${file}\n`);
		return 0;
	} catch (error) {
		if (error instanceof UsageError) {
			stderr(`Error: ${error.message}\nRun imagespec-gar --help for usage.\n`);
			return 2;
		}

		if (isAbort(error)) return 130;
		const fix = error instanceof StepError && error.fix ? `\nfix: ${error.fix}` : '';
		stderr(`Error: ${error instanceof Error ? error.message : String(error)}${fix}\n`);
		return 1;
	}
}

function exportFormat(value: string | undefined): ExportFormat {
	if (value === undefined) throw new UsageError('Missing --format: use --format gcloud or --format terraform', 'format');
	if (!(EXPORT_FORMATS as readonly string[]).includes(value))
		throw new UsageError(`--format ${JSON.stringify(value)} is invalid: use gcloud or terraform`, 'format');
	return value as ExportFormat;
}

async function resolveSetup({flags, cwd, platform, signal, stderr}: ExportOptions): Promise<ExportSetup> {
	rejectInvalidFlags(flags);
	validateRepositoryFlags(flags);
	const folder = projectFolder(cwd);
	const ctx = {platform, signal};
	const saved = (await openStore({folder, platform})).load();
	// --output names the export here, not the module: the module is found where the wizard put it.
	const known = await findKnownSetup({cwd, folder, flags: {...flags, output: undefined}, saved, ctx});
	const answer = (key: 'project' | 'location' | 'repository'): string => {
		const value = flags[key] ?? known?.[key];
		if (value === undefined) throw new UsageError(`Missing --${key}: nothing saved for this project folder either`, key);
		return value;
	};

	const [project, location, repository] = [answer('project'), answer('location'), answer('repository')];
	const live = await liveRepository(ctx, {project, location, repository}, stderr);
	if (live && live.format !== 'DOCKER') {
		throw new StepError(`Repository ${repository} in ${project} · ${location} holds ${live.format} packages, not Docker images.`, {reason: 'NOT_DOCKER'});
	}

	if (live && live.cleanup === undefined && flags.cleanup === undefined) {
		stderr(`warning: the cleanup policies of ${repository} are not imagespec-gar's presets: they are left out (--cleanup sets one)\n`);
	}

	const labels = flags.label.length > 0 ? (parseLabels(flags.label) as Record<string, string>) : withoutManagedBy(live?.labels);
	const dataPlane = saved.dataPlane?.sameProject === false ? saved.dataPlane : undefined;
	// The remote builder's grants only where Union's builder builds into this repository.
	const remote = await remoteBuilderConfigured(flags, [...Object.values(saved.images ?? {}), ...(known?.images ?? [])], {folder, platform});
	const accounts: Array<[UnionAccount, string | undefined]> = [
		['worker', flags.dataPlaneSa ?? dataPlane?.serviceAccount],
		['builder', remote ? (flags.builderSa ?? dataPlane?.builderServiceAccount) : undefined],
		['operator-proxy', remote ? (flags.operatorProxySa ?? dataPlane?.operatorProxyServiceAccount) : undefined],
	];
	return {
		project,
		location,
		repository,
		settings: {
			description: flags.description ?? live?.description ?? DEFAULT_DESCRIPTION,
			labels,
			immutableTags: flags.immutableTags ?? live?.immutableTags ?? false,
			cleanup: flags.cleanup === undefined ? (live?.cleanup ?? {kind: 'none'}) : (parseCleanupPreset(flags.cleanup) as CleanupPreset),
		},
		grants: accounts.flatMap(([account, serviceAccount]) => (serviceAccount ? [{account, serviceAccount}] : [])),
		registryHost: registryHostOfLocation(location, platform.env.IMAGESPEC_GAR_REGISTRY_HOST),
		exists: live === null ? undefined : live !== undefined,
	};
}

const withoutManagedBy = (labels: Record<string, string> | undefined): Record<string, string> =>
	Object.fromEntries(Object.entries(labels ?? {}).filter(([key]) => key !== 'managed-by'));

/** The repository as it is now; undefined when it does not exist, null when that cannot be told (said on stderr). */
async function liveRepository(
	ctx: {platform: Platform; signal: AbortSignal},
	{project, location, repository}: RepositoryRef,
	stderr: (text: string) => void,
): Promise<Repository | undefined | null> {
	const {openArtifactRegistry} = await import('../services/artifact-registry.js');
	let registry;
	try {
		registry = await openArtifactRegistry(ctx, {retryDelaysMs: []});
		return await registry.getRepository({project, location, repository}, ctx.signal);
	} catch (error) {
		if (isAbort(error) || ctx.signal.aborted) throw error;
		stderr(
			`warning: could not tell whether ${repository} exists (${error instanceof Error ? error.message : String(error)}): the export assumes it does not\n`,
		);
		return null;
	} finally {
		await registry?.close();
	}
}
