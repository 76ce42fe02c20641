import {existsSync} from 'node:fs';
import path from 'node:path';
import {parseGarRegistry} from '../services/imagespec.js';
import {readModuleSpecs} from '../services/module-reader.js';
import type {ProjectAnswers, SavedImage} from '../services/store.js';
import type {StepContext} from './context.js';
import {DEFAULT_MODULE} from './imagespec.js';

/**
 * The setup a rerun or a new team member starts from: this folder's saved answers, else the
 * registry declared in the team's module (so a newcomer answers no setup question).
 */
export type KnownSetup = {
	source: 'saved' | 'module';
	project: string;
	location: string;
	repository: string;
	moduleFile: string;
	images: SavedImage[];
};

export type RerunChoice = {action: 'add'} | {action: 'rebuild'; image: string} | {action: 'change'} | {action: 'start-over'};

export async function findKnownSetup(c: Pick<StepContext, 'cwd' | 'folder' | 'flags' | 'saved' | 'ctx'>): Promise<KnownSetup | undefined> {
	const {saved, flags} = c;
	const moduleFile = path.resolve(c.cwd, flags.output ?? saved.output ?? path.join(c.folder, DEFAULT_MODULE));
	if (saved.project && saved.location && saved.repository) {
		return {source: 'saved', project: saved.project, location: saved.location, repository: saved.repository, moduleFile, images: Object.values(saved.images ?? {})};
	}

	// Read as `union register` loads it; a module that cannot be read is the imagespec step's to report.
	const read = existsSync(moduleFile) ? await readModuleSpecs(c.ctx, {moduleFile, folder: c.folder}).catch(() => undefined) : undefined;
	const specs = read?.specs ?? [];
	const hostOverride = c.ctx.platform.env.IMAGESPEC_GAR_REGISTRY_HOST;
	for (const {spec} of specs) {
		const where = spec.registry ? parseRegistry(spec.registry, hostOverride) : undefined;
		const location = where?.location ?? flags.location ?? saved.location;
		if (!where || !location) continue;
		// Tags as flytekit computes them, so the summary names the exact images the team pushed.
		const images = specs
			.filter(other => other.spec.registry === spec.registry)
			.map(
				(other): SavedImage => ({
					name: other.spec.name,
					tag: other.tag ?? '',
					imageUri: other.uri ?? '',
					specFile: moduleFile,
					baseImage: typeof other.spec.base_image === 'string' ? other.spec.base_image : undefined,
					pythonVersion: other.spec.python_version,
					packages: other.spec.packages,
					requirements: other.spec.requirements,
					platform: other.spec.platform,
					builder: other.spec.builder,
					updatedAt: '',
				}),
			);
		return {source: 'module', project: where.project, location, repository: where.repository, moduleFile, images};
	}

	return undefined;
}

/** `<location>-docker.pkg.dev/P/R`, or `<override host>/P/R` (the location then comes from elsewhere). */
const parseRegistry = (registry: string, hostOverride?: string): {project: string; location?: string; repository: string} | undefined => {
	if (hostOverride && registry.startsWith(`${hostOverride}/`)) {
		const [project, repository] = registry.slice(hostOverride.length + 1).split('/');
		return project && repository ? {project, repository} : undefined;
	}

	return parseGarRegistry(registry);
};

/** The answers a known setup supplies, as if they were saved (flags still win). */
export const asSavedAnswers = (known: KnownSetup, saved: ProjectAnswers): ProjectAnswers => ({
	...saved,
	project: known.project,
	location: known.location,
	repository: known.repository,
	images: {...Object.fromEntries(known.images.map(image => [image.name, image])), ...saved.images},
});

/** Interactive reruns open on the saved setup and a choice; adding an image is one Enter away. */
export async function chooseRerunAction(c: StepContext, known: KnownSetup): Promise<RerunChoice> {
	const {report, ask} = c;
	const lines = [
		`project     ${known.project}`,
		`location    ${known.location}`,
		`repository  ${known.repository}`,
		...(known.images.length > 0
			? ['images', ...known.images.map(image => `  ${image.name}${image.tag ? `  :${image.tag}` : ''}`)]
			: ['images      none yet']),
	];
	report({
		type: 'code',
		title: known.source === 'saved' ? 'Saved setup for this folder' : `Setup found in ${path.relative(c.cwd, known.moduleFile) || known.moduleFile} (your team's module)`,
		code: lines.join('\n'),
	});
	const choice = await ask.select({
		flag: 'image',
		message: 'What next?',
		choices: [
			{label: 'Add another image', value: 'add'},
			...known.images.map(image => ({label: `Rebuild ${image.name}`, value: `rebuild:${image.name}`})),
			{label: 'Change settings (project, location, repository)', value: 'change'},
			{label: 'Start over', value: 'start-over'},
		],
		default: 'add',
	});
	if (choice.startsWith('rebuild:')) return {action: 'rebuild', image: choice.slice('rebuild:'.length)};
	return {action: choice as 'add' | 'change' | 'start-over'};
}
