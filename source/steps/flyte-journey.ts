import path from 'node:path';
import type {JourneyResult, StepId} from '../flow/events.js';
import {plan} from '../flow/plan.js';
import type {ArtifactRegistry, RepositoryRef} from '../services/artifact-registry.js';
import {usageLines} from '../services/usage.js';
import type {StepContext} from './context.js';
import type {AnswerStore} from '../services/store.js';
import {toSavedFlyteImage} from './flyte-setup.js';
import {authorFlyteImage, buildFlyteImage, setFlyteConfigRegistry} from './flyte-image.js';
import {checkPushPermission} from './repository.js';

/** The journey's step runner and reporters, lent to the Flyte 2 steps. */
export type JourneySteps = {
	step: <T>(id: StepId, work: () => Promise<T>) => Promise<T>;
	finished: (id: StepId, status: 'done' | 'skipped', detail: string) => void;
	openRegistry: () => Promise<ArtifactRegistry>;
	/** Saves answers for the next run (a no-op under --dry-run). */
	save: AnswerStore['save'];
};

/**
 * Steps 5 and 6 when the project uses Flyte 2 (`--sdk flyte`, or detected): the flyte.Image
 * module, the URI flyte gives it, flyte's own build and the proof. The setup before them
 * (repository, IAM, docker auth) is the same for both SDKs.
 */
export async function runFlyteSteps(
	c: StepContext,
	where: RepositoryRef & {account?: string},
	result: JourneyResult,
	steps: JourneySteps,
): Promise<JourneyResult> {
	const {step, finished, openRegistry, save} = steps;
	const authored = await step('imagespec', async () => authorFlyteImage(c, where));
	Object.assign(result, {
		sdk: 'flyte',
		registry: authored.image.registry,
		image: authored.image.name,
		tag: authored.tag,
		imageUri: authored.uri,
		specFile: authored.specFile,
	});
	if (authored.uri && authored.tag && authored.specFile) {
		const saved = {
			...toSavedFlyteImage(authored.image, authored.tag, authored.uri, authored.specFile),
			builder: c.flags.builder === 'union' ? 'union' : 'local',
		};
		save(answers => ({...answers, images: {...answers.images, [authored.image.name]: saved}}));
	}
	if (authored.unknown) c.report({type: 'note', level: 'warn', text: `${authored.unknown} The URI is not shown rather than guessed.`});
	if (authored.image.registry) {
		const config = await step('imagespec', async () => setFlyteConfigRegistry(c, authored.image.registry!));
		if (config) result.flyteConfig = config;
	}
	finished('imagespec', 'done', authored.uri ?? `${authored.image.name} (URI unknown)`);

	if (!c.flags.build) {
		finished('build', 'skipped', '--no-build: not built');
	} else if (c.flags.dryRun) {
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
		finished('build', 'skipped', `--dry-run: ${authored.uri ?? authored.image.name} not built`);
	} else {
		const built = await step('build', async () => {
			// flyte's local builder pushes as this person; Union's remote builder as its own accounts.
			if (authored.uri && c.flags.builder !== 'union') await checkPushPermission(c, await openRegistry(), {...where, imageUri: authored.uri});
			return buildFlyteImage(c, authored, where, openRegistry);
		});
		Object.assign(result, {
			pushed: built.pushed,
			digest: built.digest,
			buildSkipped: built.skipped,
			logFile: built.logFile,
			inRepository: built.pushed || built.skipped === 'already in the repository' ? true : undefined,
		});
		if (built.skipped) finished('build', 'skipped', built.skipped === 'already in the repository' ? `${authored.uri} is ${built.skipped}` : built.skipped);
		else finished('build', 'done', `pushed ${built.digest ?? ''}`.trim());
	}

	result.ok = true;
	if (c.flags.dryRun) result.dryRun = true;
	if (authored.environment) {
		result.nextCommand = `flyte deploy ${path.relative(c.cwd, authored.moduleFile) || authored.moduleFile} ${authored.environment}`;
		result.usage = usageLines({sdk: 'flyte', moduleFile: authored.moduleFile, folder: c.folder, variable: authored.environment});
	}
	return result;
}
