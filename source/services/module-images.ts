/**
 * Every image the team's module declares, with the tag flytekit will give it: the one place
 * `status` and `build` read the module. Today the tool's literal reader (spec-module.ts) and
 * computeTag; the module reader (readModuleSpecs, which runs the module as `union register`
 * does) replaces the body of readModuleImages when it lands, with the same result shape.
 */
import type {ServiceContext} from './context.js';
import {StepError} from './errors.js';
import {UNHASHED_FIELDS, computeTag, imageUri, type ImageSpec} from './imagespec.js';
import {readDeclarations, readModuleFile} from './spec-module.js';

export type ModuleImage = {
	/** The module's name for it, e.g. trainer_image. */
	variable: string;
	spec: ImageSpec;
	tag?: string;
	/** registry/name:tag, what the cluster pulls. */
	uri?: string;
	/** Why the tag cannot be known here (a field only `union register` or Python can evaluate...). */
	problem?: StepError;
};

export type ModuleImages = {via: 'flytekit' | 'stand-in' | 'literal'; specs: ModuleImage[]};

// Fields whose part of the tag is a digest of files `union register` ships.
const REGISTER_FIELDS = new Set(['source_root', 'copy']);

export async function readModuleImages(_ctx: ServiceContext, options: {moduleFile: string; folder: string}): Promise<ModuleImages> {
	const content = await readModuleFile(options.moduleFile);
	if (content === undefined) {
		throw new StepError(`There is no ImageSpec module at ${options.moduleFile}.`, {
			fix: 'Run imagespec-gar to write one, or point at yours with --output FILE.',
			reason: 'MODULE_MISSING',
		});
	}

	const specs: ModuleImage[] = [];
	for (const declaration of readDeclarations(content)) {
		const {variable, spec} = declaration;
		// A hashed field the literal reader could not read: its tag is unknown here.
		const unread = declaration.rawFields.map(field => field.key).filter(key => !UNHASHED_FIELDS.has(key));
		if (unread.length > 0) {
			const register = unread.filter(key => REGISTER_FIELDS.has(key));
			specs.push({
				variable,
				spec,
				problem:
					register.length > 0
						? new StepError(`the tag depends on the files \`union register\` ships (${register.join(', ')})`, {
								fix: 'Its image is built at registration: union register builds and pushes it.',
								reason: 'TAG_DEPENDS_ON_REGISTER',
							})
						: new StepError(`${unread.join(', ')} ${unread.length > 1 ? 'are not literals' : 'is not a literal'} the tool can read`, {
								fix: 'Write the value out in the declaration, or check it with union register.',
								reason: 'FIELD_UNREADABLE',
							}),
			});
			continue;
		}

		try {
			const tag = await computeTag(spec, {baseDir: options.folder});
			specs.push({variable, spec, tag, uri: imageUri(spec, tag)});
		} catch (error) {
			if (!(error instanceof StepError)) throw error;
			specs.push({variable, spec, problem: error});
		}
	}

	return {via: 'literal', specs};
}
