import path from 'node:path';
import type {ServiceContext} from './context.js';
import {type BuildEvent, buildOutputHandler, mapDockerFailure} from './docker.js';
import {StepError, isAbort} from './errors.js';
import {findExecutable, streamTool} from './exec.js';
import {dockerAuthDone} from './docker-config.js';
import {openLogFile} from './log-folder.js';
import {registryHostOfImage} from './registry-manifest.js';

/** flyte's image builders (`image.builder` in its config, `--image-builder` on its CLI). */
export type FlyteBuilder = 'local' | 'remote';

export type FlyteBuildOptions = {
	/** The `flyte` executable (the SDK's CLI). */
	flyte: string;
	/** The module declaring the image, and the TaskEnvironment variable `flyte build` builds. */
	moduleFile: string;
	environment: string;
	builder: FlyteBuilder;
	/** The image the wizard computed, for messages. */
	imageUri: string;
	logFile: string;
	redact?: (line: string) => string;
};

/** The SDK's CLI on PATH (it comes with `pip install flyte`), or undefined. */
export const findFlyte = async (ctx: ServiceContext): Promise<string | undefined> => findExecutable(ctx.platform, 'flyte');

/** `flyte --image-builder B build FILE ENV`, as run in the module's folder. */
export const flyteBuildArgs = (options: Pick<FlyteBuildOptions, 'builder' | 'moduleFile' | 'environment'>): string[] => [
	'--image-builder',
	options.builder,
	'build',
	path.basename(options.moduleFile),
	options.environment,
];

/**
 * Builds (and pushes) the environment's image with flyte's own builder: what `flyte deploy`
 * would build. The local builder's docker output streams as a build does (steps, layers, log).
 */
export const buildWithFlyte = async (ctx: ServiceContext, options: FlyteBuildOptions, onEvent: (event: BuildEvent) => void): Promise<void> => {
	// Its builder pulls and pushes with docker's credentials: a configure-docker still running comes first.
	await dockerAuthDone(ctx, registryHostOfImage(options.imageUri));
	const log = await openLogFile(options.logFile, options.redact);
	const lines = buildOutputHandler(onEvent);
	const args = flyteBuildArgs(options);
	try {
		log.write(`$ ${options.flyte} ${args.join(' ')}`);
		onEvent({type: 'phase', phase: 'build'});
		const result = await streamTool(
			ctx,
			options.flyte,
			args,
			line => {
				log.write(line);
				lines.onLine(line);
			},
			{cwd: path.dirname(options.moduleFile), env: {PYTHONUNBUFFERED: '1'}, killGroup: true},
		);
		if (result.exitCode !== 0) {
			const output = result.tail.join('\n');
			const mapped = mapDockerFailure(/push/i.test(result.tail.slice(-5).join('\n')) ? 'push' : 'build', output, options.imageUri, {
				failingStep: lines.failingStep(),
			});
			throw new StepError(`flyte build failed: ${mapped.message}`, {fix: mapped.fix, reason: mapped.reason ?? 'FLYTE_BUILD_FAILED'});
		}
	} catch (error) {
		if (!isAbort(error)) log.write(`! ${(error as Error).message}`);
		throw error;
	} finally {
		await log.close();
	}
};
