/**
 * Every image a Flyte 2 module declares, as `status` reads it: the same rows as an ImageSpec
 * module's (module-images.ts), each flyte.Image seen through the fields the status compares.
 */
import type {ServiceContext} from './context.js';
import {readFlyteImageConfig} from './flyte-config.js';
import {StepError} from './errors.js';
import {computeFlyteUri, type FlyteImage} from './flyte-image.js';
import {environmentOf, readFlyteDeclarations} from './flyte-module.js';
import {readFlyteModule} from './flyte-reader.js';
import type {ImageSpec} from './imagespec.js';
import type {ModuleImages} from './module-images.js';
import {findPython} from './python.js';
import {readModuleFile} from './spec-module.js';

/** A flyte.Image as the fields status and the saved answers share (name, registry, Python, base, platform, pip packages). */
export const flyteSpecView = (image: FlyteImage): ImageSpec => {
	const packages = image.layers.flatMap(layer => (layer.kind === 'pip_packages' ? layer.packages : []));
	return {
		name: image.name,
		...(image.registry ? {registry: image.registry} : {}),
		...(image.base.kind === 'debian' ? {python_version: image.base.pythonVersion.join('.')} : {base_image: image.base.uri}),
		...(image.platform ? {platform: image.platform.join(',')} : {}),
		...(packages.length > 0 ? {packages} : {}),
	};
};

export async function readFlyteModuleImages(ctx: ServiceContext, options: {moduleFile: string; folder: string; pinnedFlyte?: string}): Promise<ModuleImages> {
	const content = await readModuleFile(options.moduleFile);
	if (content === undefined) {
		throw new StepError(`There is no flyte.Image module at ${options.moduleFile}.`, {
			fix: 'Run imagespec-gar --sdk flyte to write one, or point at yours with --output FILE.',
			reason: 'MODULE_MISSING',
		});
	}
	// A declaration without registry= pushes to flyte's image.registry (FLYTE_IMAGE_REGISTRY, else the config flyte reads here).
	const {env, home} = ctx.platform;
	const configRegistry = (await readFlyteImageConfig(options.folder, env, home)).registry;
	const withRegistry = (image: FlyteImage): FlyteImage => (image.registry || !configRegistry ? image : {...image, registry: configRegistry});
	const python = await findPython(ctx);
	if (python) {
		const read = await readFlyteModule(ctx, {...options, python, configRegistry});
		return {
			via: read.via,
			specs: read.images.map(entry => ({
				variable: entry.variable,
				spec: entry.image ? flyteSpecView(withRegistry(entry.image)) : {name: entry.variable},
				...(entry.image
					? {flyte: {image: withRegistry(entry.image), environment: read.environments.find(env => env.image && entry.variables.includes(env.image))?.variable}}
					: {}),
				...(entry.uri ? {uri: entry.uri, tag: entry.uri.slice(entry.uri.lastIndexOf(':') + 1)} : {}),
				...(entry.problem ? {problem: entry.problem} : {}),
			})),
		};
	}
	// Without Python: the tool's own declarations, read as written.
	const specs = [];
	for (const declaration of readFlyteDeclarations(content)) {
		if (!declaration.image) {
			specs.push({
				variable: declaration.variable,
				spec: {name: declaration.name ?? declaration.variable},
				problem: new StepError(`Cannot read ${declaration.variable} without Python: it uses calls imagespec-gar does not write.`, {
					fix: 'Install a Python 3 (python3 on PATH) so the tool runs the module as flyte build does.',
					reason: 'FIELD_UNREADABLE',
				}),
			});
			continue;
		}
		// One after the other: a handful of declarations, each a few small reads.
		const image = withRegistry(declaration.image);
		const uri = await computeFlyteUri(image, {folder: options.folder, installedFlyte: options.pinnedFlyte});
		specs.push({
			variable: declaration.variable,
			spec: flyteSpecView(image),
			flyte: {image, environment: environmentOf(content, declaration.variable)},
			...(uri.known
				? {uri: uri.uri, tag: uri.tag}
				: {
						problem: new StepError(`Cannot name ${declaration.variable}: ${uri.reason}.`, {
							fix: 'Pin flyte exactly (flyte==X.Y.Z), or install it.',
							reason: 'FLYTE_VERSION_UNKNOWN',
						}),
					}),
		});
	}
	return {via: 'literal', specs};
}
