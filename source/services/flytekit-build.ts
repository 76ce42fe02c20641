import path from 'node:path';
import type {ServiceContext} from './context.js';
import {type BuildEvent, buildOutputHandler, mapDockerFailure} from './docker.js';
import {StepError, isAbort} from './errors.js';
import {streamTool} from './exec.js';
import {dockerAuthDone} from './docker-config.js';
import {openLogFile} from './log-folder.js';
import {registryHostOfImage} from './registry-manifest.js';

export type FlytekitBuildOptions = {
	/** The Python that imports flytekit (PythonInfo.executable). */
	python: string;
	/** The module declaring the spec: built exactly as `union register` would load it. */
	moduleFile: string;
	/** The ImageSpec's name, to find its declaration in the module. */
	name: string;
	/** The image the wizard computed; flytekit's must be the same, or the tags diverged. */
	imageUri: string;
	force: boolean;
	logFile: string;
	/** Masks secrets in what the log records. */
	redact?: (line: string) => string;
};

const MARKER = 'IMAGESPEC_GAR_IMAGE ';

// Loads the module the way `union register` does (its folder on sys.path), then hands the
// declared spec to flytekit's own engine.
const DRIVER = `
import importlib.util, os, sys
module_file, name, force = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
sys.path.insert(0, os.path.dirname(module_file))
loaded = importlib.util.spec_from_file_location("imagespec_gar_specs", module_file)
module = importlib.util.module_from_spec(loaded)
loaded.loader.exec_module(module)
specs = [value for value in vars(module).values() if type(value).__name__ == "ImageSpec" and getattr(value, "name", None) == name]
if not specs:
    sys.exit("imagespec-gar: no ImageSpec named %r in %s" % (name, module_file))
spec = specs[0]
print("${MARKER}" + spec.image_name(), flush=True)
if force and hasattr(spec, "force_push"):
    spec = spec.force_push() or spec
from flytekit.image_spec.image_spec import ImageBuildEngine
ImageBuildEngine.build(spec)
`;

/**
 * Builds (and pushes) the declared spec with flytekit's ImageBuildEngine: the image is what
 * `union register` would build. Streams docker's steps and layers like buildAndPush.
 */
export const buildWithFlytekit = async (ctx: ServiceContext, options: FlytekitBuildOptions, onEvent: (event: BuildEvent) => void): Promise<void> => {
	// Its builder pulls and pushes with docker's credentials: a configure-docker still running comes first.
	await dockerAuthDone(ctx, registryHostOfImage(options.imageUri));
	const log = await openLogFile(options.logFile, options.redact);
	let announced: string | undefined;
	const lines = buildOutputHandler(onEvent);
	try {
		log.write(`$ ${options.python} -c <flytekit ImageBuildEngine driver> ${options.moduleFile} ${options.name}`);
		onEvent({type: 'phase', phase: 'build'});
		const result = await streamTool(
			ctx,
			options.python,
			['-c', DRIVER, options.moduleFile, options.name, options.force ? '1' : '0'],
			line => {
				log.write(line);
				if (line.startsWith(MARKER)) {
					announced = line.slice(MARKER.length).trim();
					return;
				}

				lines.onLine(line);
			},
			{cwd: path.dirname(options.moduleFile), env: {PYTHONUNBUFFERED: '1'}, killGroup: true},
		);
		if (announced !== undefined && announced !== options.imageUri) {
			throw new StepError(`flytekit names the image ${announced}, but imagespec-gar computed ${options.imageUri}.`, {
				fix: 'The tags diverged (a flytekit version with another hash?): build with docker instead, and report this to imagespec-gar.',
				reason: 'TAG_MISMATCH',
			});
		}

		if (result.exitCode !== 0) {
			const output = result.tail.join('\n');
			if (/No module named '?flytekit/.test(output)) {
				throw new StepError(`${options.python} cannot import flytekit.`, {
					fix: 'pip install flytekit (or union), or build with docker.',
					reason: 'NO_FLYTEKIT',
				});
			}

			const mapped = mapDockerFailure(/push/i.test(result.tail.slice(-5).join('\n')) ? 'push' : 'build', output, options.imageUri, {
				failingStep: lines.failingStep(),
			});
			throw new StepError(`flytekit's ImageBuildEngine failed: ${mapped.message}`, {fix: mapped.fix, reason: mapped.reason ?? 'FLYTEKIT_BUILD_FAILED'});
		}
	} catch (error) {
		if (!isAbort(error)) log.write(`! ${(error as Error).message}`);
		throw error;
	} finally {
		await log.close();
	}
};
