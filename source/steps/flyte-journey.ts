import path from 'node:path';
import type {StepOutcome} from '../flow/journey-steps.js';
import {plan} from '../flow/plan.js';
import type {RepositoryRef} from '../services/artifact-registry.js';
import type {RegistryHandle} from '../services/registry-handle.js';
import {usageLines} from '../services/usage.js';
import type {StepContext} from './context.js';
import {toSavedFlyteImage} from './flyte-setup.js';
import {authorFlyteImage, buildFlyteImage, chooseFlyteBuilder, setFlyteConfigRegistry, type AuthoredFlyte} from './flyte-image.js';
import {ALREADY_THERE} from './build.js';
import {checkPushPermission} from './repository.js';

/**
 * The image step when the project uses Flyte 2 (`--sdk flyte`, or detected): the flyte.Image
 * module and the URI flyte gives it. The setup before it (repository, IAM, docker auth) is the
 * same for every SDK.
 */
export async function flyteImageStep(c: StepContext, where: RepositoryRef): Promise<StepOutcome> {
	const authored = await authorFlyteImage(c, where);
	if (authored.unknown) c.report({type: 'note', level: 'warn', text: `${authored.unknown} The URI is not shown rather than guessed.`});
	const flyteConfig = authored.image.registry ? await setFlyteConfigRegistry(c, authored.image.registry) : undefined;
	const {uri, tag, specFile} = authored;
	const saved =
		uri && tag && specFile ? {...toSavedFlyteImage(authored.image, tag, uri, specFile), builder: c.flags.builder === 'union' ? 'union' : 'local'} : undefined;
	return {
		status: 'done',
		detail: authored.uri ?? `${authored.image.name} (URI unknown)`,
		found: {
			image: {name: authored.image.name, sdk: 'flyte', authored},
			next: authored.environment
				? {
						nextCommand: `flyte deploy ${path.relative(c.cwd, authored.moduleFile) || authored.moduleFile} ${authored.environment}`,
						usage: usageLines({sdk: 'flyte', moduleFile: authored.moduleFile, folder: c.folder, variable: authored.environment}),
					}
				: undefined,
		},
		result: {
			sdk: 'flyte',
			registry: authored.image.registry,
			image: authored.image.name,
			tag: authored.tag,
			imageUri: authored.uri,
			specFile: authored.specFile,
			...(flyteConfig ? {flyteConfig} : {}),
		},
		save: saved && (answers => ({...answers, images: {...answers.images, [authored.image.name]: saved}})),
	};
}

/** The build step for Flyte 2: flyte's own builder, then the proof that the repository lists the URI. */
export async function flyteBuildStep(
	c: StepContext,
	authored: AuthoredFlyte,
	where: RepositoryRef & {account?: string},
	registry: RegistryHandle,
): Promise<StepOutcome> {
	if (!c.flags.build) return {status: 'skipped', detail: '--no-build: not built'};
	if (c.flags.dryRun) {
		if (authored.uri)
			c.report(
				plan({
					kind: 'build-push',
					step: 'build',
					summary: `flyte build ${authored.uri} and push it`,
					content: `flyte build ${path.basename(authored.moduleFile)} ${authored.environment ?? ''}`,
					data: {imageUri: authored.uri},
				}),
			);
		return {status: 'skipped', detail: `--dry-run: ${authored.uri ?? authored.image.name} not built`};
	}

	// flyte's local builder pushes as this person; Union's remote builder as its own accounts.
	const builder = await chooseFlyteBuilder(c);
	if (authored.uri && builder === 'local') await checkPushPermission(c, await registry.open(), {...where, imageUri: authored.uri});
	const {project, location, repository} = where;
	const built = await buildFlyteImage(c, authored, {project, location, repository}, {builder, registry});
	return {
		status: built.skipped ? 'skipped' : 'done',
		detail: built.skipped ? (built.skipped === ALREADY_THERE ? `${authored.uri} is ${built.skipped}` : built.skipped) : `pushed ${built.digest ?? ''}`.trim(),
		result: {
			pushed: built.pushed,
			digest: built.digest,
			buildSkipped: built.skipped,
			logFile: built.logFile,
			inRepository: built.pushed || built.skipped === ALREADY_THERE ? true : undefined,
		},
	};
}
