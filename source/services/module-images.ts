/**
 * Every image the team's module declares, with the tag flytekit will give it: the one place
 * `status` and `build` read the module (module-reader.ts: the module run as `union register`
 * loads it, else its literal declarations).
 */
import type {ServiceContext} from './context.js';
import {StepError} from './errors.js';
import type {FlyteImage} from './flyte-image.js';
import {readModuleSpecs, type ModuleSpecs, type ReadSpec} from './module-reader.js';
import {readModuleFile} from './spec-module.js';

/**
 * variable, spec, tag and uri when known, else problem (why the tag cannot be told here). A Flyte 2
 * module's image also carries its flyte.Image and the TaskEnvironment `flyte build` builds it through.
 */
export type ModuleImage = Pick<ReadSpec, 'variable' | 'spec' | 'tag' | 'uri' | 'problem'> & {flyte?: {image: FlyteImage; environment?: string}};
/** via: how the module was read; 'flyte' is a Flyte 2 module read with the real flyte SDK. */
export type ModuleImages = {via: ModuleSpecs['via'] | 'flyte'; specs: ModuleImage[]};

export async function readModuleImages(ctx: ServiceContext, options: {moduleFile: string; folder: string}): Promise<ModuleImages> {
	// Said plainly before any Python runs: there is nothing to read.
	if ((await readModuleFile(options.moduleFile)) === undefined) {
		throw new StepError(`There is no ImageSpec module at ${options.moduleFile}.`, {
			fix: 'Run imagespec-gar to write one, or point at yours with --output FILE.',
			reason: 'MODULE_MISSING',
		});
	}
	return readModuleSpecs(ctx, options);
}
