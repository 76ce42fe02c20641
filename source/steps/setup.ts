import {isRegularFile} from '../services/file-safety.js';
import path from 'node:path';
import {parseGarRegistry, type ImageSpec} from '../services/imagespec.js';
import {readModuleSpecs, readModuleSpecsAhead} from '../services/module-reader.js';
import type {Sdk} from '../services/sdk.js';
import type {ProjectAnswers, SavedImage} from '../services/store.js';
import type {Flags} from '../flags.js';
import {freezeAnswers, moduleFileOf, withFlags, type Answers} from '../flow/answers.js';
import type {StepContext} from './context.js';

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

export type RerunChoice =
	| {action: 'add'}
	| {action: 'rebuild'; image: string}
	| {action: 'build-missing'; images: string[]}
	| {action: 'change'}
	| {action: 'start-over'};

/** handOn: the module's read is left for the ImageSpec step (a run without questions: module-reader.ts's read ahead). */
export async function findKnownSetup(
	c: Pick<StepContext, 'cwd' | 'folder' | 'flags' | 'saved' | 'ctx'>,
	{handOn = false}: {handOn?: boolean} = {},
): Promise<KnownSetup | undefined> {
	const {saved, flags} = c;
	const moduleFile = moduleFileOf(c, c);
	if (saved.project && saved.location && saved.repository) {
		return {
			source: 'saved',
			project: saved.project,
			location: saved.location,
			repository: saved.repository,
			moduleFile,
			images: Object.values(saved.images ?? {}),
		};
	}

	// Read as `union register` loads it; a module that cannot be read is the imagespec step's to report.
	// Only a regular file: Python reading a FIFO at the module's path would block the start.
	// Where the images live needs no Python: when the module does not run here (a broken SDK, a
	// missing import), its literal registry still tells a newcomer's doctor and wizard the setup.
	const options = {moduleFile, folder: c.folder};
	const read = isRegularFile(moduleFile)
		? await (handOn ? readModuleSpecsAhead : readModuleSpecs)(c.ctx, options).catch(async () =>
				readModuleSpecs(c.ctx, {...options, python: false}).catch(() => undefined),
			)
		: undefined;
	const specs = read?.specs ?? [];
	const hostOverride = c.ctx.platform.env.IMAGESPEC_GAR_REGISTRY_HOST;
	for (const {spec} of specs) {
		const where = spec.registry ? parseRegistry(spec.registry, hostOverride) : undefined;
		const location = where?.location ?? flags.location ?? saved.location;
		if (!where || !location) continue;
		// Tags as flytekit computes them, so the summary names the exact images the team pushed.
		const images = specs
			.filter(other => other.spec.registry === spec.registry)
			.map((other): SavedImage => ({...toSavedImage(other.spec, other.tag ?? '', other.uri ?? '', moduleFile), builder: other.spec.builder, updatedAt: ''}));
		return {source: 'module', project: where.project, location, repository: where.repository, moduleFile, images};
	}

	// A Flyte 2 team's module (flyte_images.py) tells a newcomer the setup the same way.
	const {findFlyteSetup} = await import('./flyte-setup.js');
	return findFlyteSetup(c);
}

/** What the saved answers keep of an image once its tag is known (the next status compares against it). */
export const toSavedImage = (spec: ImageSpec, tag: string, uri: string, specFile: string): SavedImage => ({
	name: spec.name,
	tag,
	imageUri: uri,
	specFile,
	baseImage: typeof spec.base_image === 'string' ? spec.base_image : undefined,
	pythonVersion: spec.python_version,
	packages: spec.packages,
	requirements: spec.requirements,
	platform: spec.platform,
	builder: spec.builder === 'union' ? 'union' : 'local',
	updatedAt: new Date().toISOString(),
});

/** `<location>-docker.pkg.dev/P/R`, or `<override host>/P/R` (the location then comes from elsewhere). */
export const parseRegistry = (registry: string, hostOverride?: string): {project: string; location?: string; repository: string} | undefined => {
	if (hostOverride && registry.startsWith(`${hostOverride}/`)) {
		const [project, repository] = registry.slice(hostOverride.length + 1).split('/');
		return project && repository ? {project, repository} : undefined;
	}

	return parseGarRegistry(registry);
};

/**
 * The run's answers, resolved once: the flags; then the saved answers, or, for a folder that saved
 * no setup, the setup the team's module declares (its images behind any saved ones).
 */
export const resolveAnswers = (flags: Flags, saved: ProjectAnswers, known: KnownSetup | undefined, sdk: Sdk): Answers =>
	freezeAnswers(
		flags,
		known?.source === 'module'
			? {
					...saved,
					project: known.project,
					location: known.location,
					repository: known.repository,
					images: {...Object.fromEntries(known.images.map(image => [image.name, image])), ...saved.images},
				}
			: saved,
		sdk,
	);

/**
 * What the rest of the run does after the rerun menu: its answers, whether a person is still
 * asked, and the images `imagespec-gar build` takes over (the wizard then stops after this step).
 */
export type RerunPlan = {answers: Answers; asked: boolean; buildImages?: string[]};

export const planRerun = (answers: Answers, known: KnownSetup, choice: RerunChoice): RerunPlan => {
	const setup = {project: known.project, location: known.location, repository: known.repository};
	switch (choice.action) {
		case 'add': {
			return {answers: withFlags(answers, setup), asked: true};
		}

		case 'rebuild': {
			// Every image answer from its declaration or saved answers: asked of no one.
			return {answers: withFlags(answers, {...setup, image: choice.image, force: true}), asked: false};
		}

		case 'build-missing': {
			return {answers: withFlags(answers, setup), asked: false, buildImages: choice.images};
		}

		case 'change': {
			return {answers, asked: true};
		}

		case 'start-over': {
			return {answers: freezeAnswers(answers.flags, {}, answers.sdk), asked: true};
		}
	}
};

/** Interactive reruns open on the saved setup and a choice; adding an image is one Enter away. */
/** missing: declared images the repository lacks (missing or stale), offered to build all at once. */
export async function chooseRerunAction(c: StepContext, known: KnownSetup, missing: readonly string[] = []): Promise<RerunChoice> {
	const {report, ask} = c;
	const lines = [
		`project     ${known.project}`,
		`location    ${known.location}`,
		`repository  ${known.repository}`,
		...(known.images.length > 0 ? ['images', ...known.images.map(image => `  ${image.name}${image.tag ? `  :${image.tag}` : ''}`)] : ['images      none yet']),
	];
	report({
		type: 'code',
		title:
			known.source === 'saved'
				? 'Saved setup for this folder'
				: `Setup found in ${path.relative(c.cwd, known.moduleFile) || known.moduleFile} (your team's module)`,
		code: lines.join('\n'),
	});
	const choice = await ask.select({
		flag: 'image',
		message: 'What next?',
		choices: [
			{label: 'Add another image', value: 'add'},
			...(missing.length > 0
				? [
						{
							label: `Build every missing image (${missing.length})`,
							value: 'build-missing',
							hint: `${missing.join(', ')}: not in the repository at their current tags`,
						},
					]
				: []),
			...known.images.map(image => ({label: `Rebuild ${image.name}`, value: `rebuild:${image.name}`})),
			{label: 'Change settings (project, location, repository)', value: 'change'},
			{label: 'Start over', value: 'start-over'},
		],
		default: 'add',
	});
	if (choice.startsWith('rebuild:')) return {action: 'rebuild', image: choice.slice('rebuild:'.length)};
	if (choice === 'build-missing') return {action: 'build-missing', images: [...missing]};
	return {action: choice as 'add' | 'change' | 'start-over'};
}
