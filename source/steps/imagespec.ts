import {existsSync} from 'node:fs';
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {splitList, type Flags} from '../flags.js';
import {UsageError} from '../services/errors.js';
import {
	composeRegistry,
	computeTag,
	defaultBaseImage,
	imageUri,
	validateSpec,
	DEFAULT_PLATFORM,
	SUPPORTED_PYTHON_VERSIONS,
	type ImageSpec,
} from '../services/imagespec.js';
import {lineDiff} from '../services/diff.js';
import {planRequirementsFile} from '../services/requirements.js';
import {detectPython} from '../services/python.js';
import {splitRequirements} from '../services/pep508.js';
import {detectSdk, type Sdk} from '../services/sdk.js';
import {planModuleUpdate, writeFileAtomic} from '../services/spec-module.js';
import {validateImageName} from '../services/imagespec.js';
import type {StepContext} from './context.js';

export const DEFAULT_PYTHON_VERSION = '3.12';
export const DEFAULT_MODULE = 'image_specs.py';

/**
 * The local interpreter's X.Y when flytekit supports it: flytekit's own default for an ImageSpec
 * without python_version, and the Python `union register` runs with. Says where it came from.
 */
const localPythonVersion = async (c: StepContext): Promise<{version: string; from: string} | undefined> => {
	const python = await detectPython(c.ctx);
	const version = python.version?.split('.').slice(0, 2).join('.');
	if (!version || !(SUPPORTED_PYTHON_VERSIONS as readonly string[]).includes(version)) return undefined;
	return {version, from: `the local Python (${python.executable} is ${python.version}), as flytekit defaults to it`};
};

export type AuthoredSpec = {
	spec: ImageSpec;
	tag: string;
	uri: string;
	/** The module holding the declaration; undefined when it was not written (unmanaged or declined). */
	specFile?: string;
	moduleFile: string;
	/** The declaration's variable in the module and the SDK the module imports: how a task uses the image. */
	variable: string;
	sdk: Sdk;
};

/**
 * Step 5: the image answers, validated as flytekit would; the module previewed and written
 * atomically; the tag computed exactly as flytekit computes it.
 */
export async function authorImageSpec(
	c: StepContext,
	where: {project: string; location: string; repository: string; builder: 'local' | 'union'},
): Promise<AuthoredSpec> {
	const {ask, flags, saved, report, folder} = c;
	const env = c.ctx.platform.env;
	const name = await ask.text(
		{
			flag: 'image',
			message: 'Image name (e.g. trainer, team/trainer):',
			default: ask.interactive ? undefined : Object.values(saved.images ?? {}).at(-1)?.name,
			validate: validateImageName,
		},
		flags.image,
	);
	// Answers not given now come from the image's declaration (the team's truth), else saved answers.
	const declared = c.declared.get(name);
	const previous = saved.images?.[name];
	const known = flags.pythonVersion ?? declared?.python_version ?? previous?.pythonVersion;
	const local = known === undefined ? await localPythonVersion(c) : undefined;
	if (local && !ask.interactive) report({type: 'note', level: 'info', text: `Python ${local.version}: ${local.from}`});
	const pythonVersion = await ask.select(
		{
			flag: 'python-version',
			message: 'Python version (always written into the spec, so the tag pins it):',
			choices: [...SUPPORTED_PYTHON_VERSIONS].reverse().map(value => ({label: value, value, hint: value === local?.version ? local.from : undefined})),
			default: known ?? local?.version ?? DEFAULT_PYTHON_VERSION,
		},
		flags.pythonVersion,
	);
	const baseImage = await ask.text(
		{
			flag: 'base-image',
			message: 'Base image:',
			default: (typeof declared?.base_image === 'string' ? declared.base_image : undefined) ?? previous?.baseImage ?? defaultBaseImage(pythonVersion),
			validate: value => (value ? undefined : 'a base image is required'),
		},
		flags.baseImage,
	);
	const moduleFile = path.resolve(c.cwd, flags.output ?? saved.output ?? path.join(folder, DEFAULT_MODULE));

	const {packages, requirements} = await choosePackages(c, declared?.requirements ?? previous?.requirements, declared?.packages ?? previous?.packages);
	const more = ask.interactive && (await ask.confirm({flag: 'apt-packages', message: 'Set more options (apt packages, env, commands, pip index, platform, tag format)?', default: false}));
	const option = async (flag: string, message: string, given: string | undefined, fallback: string | undefined) =>
		more ? (await ask.text({flag, message, default: fallback ?? ''})) || undefined : (given ?? fallback);
	const list = async (flag: string, message: string, given: string[] | undefined, fallback: string[] | undefined) =>
		more ? splitList(await ask.text({flag, message, default: (given ?? fallback ?? []).join(', ')})) : (given ?? fallback);

	const spec: ImageSpec = {
		name,
		python_version: pythonVersion,
		// Chosen before this step (Union is offered first where a local build is slow or impossible).
		builder: where.builder === 'union' ? 'union' : undefined,
		env: more ? parseEnv(splitList(await ask.text({flag: 'env', message: 'Environment (KEY=VALUE, comma-separated):', default: Object.entries(declared?.env ?? {}).map(([key, value]) => `${key}=${value}`).join(', ')})) ?? []) : flags.env.length > 0 ? parseEnv(flags.env) : declared?.env,
		registry: composeRegistry({location: where.location, project: where.project, repository: where.repository, hostOverride: env.IMAGESPEC_GAR_REGISTRY_HOST}),
		packages: packages?.length ? packages : undefined,
		requirements,
		apt_packages: nonEmpty(await list('apt-packages', 'Debian (apt) packages, comma-separated:', flags.aptPackages, declared?.apt_packages)),
		base_image: baseImage,
		platform: await option('platform', 'Platform (linux/amd64 is what Union nodes run):', flags.platform, declared?.platform ?? previous?.platform ?? DEFAULT_PLATFORM),
		pip_index: await option('pip-index', 'pip index URL (empty for PyPI):', flags.pipIndex, declared?.pip_index),
		pip_extra_index_url: nonEmpty(await list('pip-extra-index-url', 'Extra pip index URLs, comma-separated:', nonEmpty(flags.pipExtraIndexUrl), declared?.pip_extra_index_url)),
		commands: nonEmpty(more ? await ask.text({flag: 'commands', message: 'A command to run in the image (empty for none):', default: (declared?.commands ?? []).join(' && ')}).then(command => (command ? [command] : [])) : (nonEmpty(flags.commands) ?? declared?.commands)),
		tag_format: await option('tag-format', 'Tag format ({spec_hash} is the hash; empty for the plain hash):', flags.tagFormat, declared?.tag_format),
	};
	rejectProblems(spec);

	const tag = await computeTag(spec, {baseDir: folder});
	const uri = imageUri(spec, tag);
	const existing = await readFile(moduleFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
		if (error.code === 'ENOENT') return undefined;
		throw error;
	});
	const sdk = flags.sdk ?? (await detectSdk(folder));
	const plan = planModuleUpdate(existing, spec, {sdk});
	const relative = path.relative(c.cwd, moduleFile) || moduleFile;
	const authored: AuthoredSpec = {spec, tag, uri, moduleFile, specFile: moduleFile, variable: plan.variable, sdk};
	switch (plan.kind) {
		case 'unmanaged': {
			report({type: 'code', title: `${relative} is not managed by imagespec-gar: add this yourself`, code: plan.snippet});
			report({type: 'note', level: 'warn', text: `${relative} was left untouched (imagespec-gar did not write it). Paste the declaration above into it, or use --output to write another file.`});
			return {...authored, specFile: undefined};
		}

		case 'unchanged': {
			report({type: 'note', level: 'info', text: `${relative} already declares ${name} this way`});
			return authored;
		}

		default: {
			const verb = {create: 'Create', add: 'Add to', update: 'Update'}[plan.kind];
			// On add/update the preview is what changes (a diff), not the whole module.
			report({type: 'code', title: `${verb} ${relative}`, code: plan.kind === 'create' ? plan.content : lineDiff(plan.previous ?? '', plan.content)});
			if (!(await ask.confirm({flag: 'output', message: `Write ${relative}?`, default: true}))) {
				report({type: 'note', level: 'warn', text: `${relative} was not written; the declaration is shown above.`});
				return {...authored, specFile: undefined};
			}

			await writeFileAtomic(moduleFile, plan.content);
			return authored;
		}
	}
}

/**
 * Packages inline (`packages=[...]`) or a requirements file, reused when the project has one,
 * created from --packages when --requirements names a file that does not exist yet.
 */
async function choosePackages(c: StepContext, savedRequirements: string | undefined, savedPackages: string[] | undefined): Promise<{packages?: string[]; requirements?: string}> {
	const {flags, ask, folder} = c;
	// flytekit opens the file relative to where `union register` runs: the project folder.
	const fromFolder = (file: string) => path.relative(folder, path.resolve(c.cwd, file)).split(path.sep).join('/');
	if (flags.requirements !== undefined) {
		const file = path.resolve(c.cwd, flags.requirements);
		if (flags.packages !== undefined) {
			const plan = planRequirementsFile(await readFile(file, 'utf8').catch(() => undefined), flags.packages);
			if (plan.kind === 'keep') throw new UsageError(`--requirements ${JSON.stringify(flags.requirements)} already lists other packages (${plan.extra.join(', ') || 'other versions'}): leave out --packages to use it as it is`, 'requirements');
			if (plan.kind === 'create') {
				c.report({type: 'note', level: 'info', text: `Created ${flags.requirements} with ${flags.packages.join(', ')}`});
				await writeFileAtomic(file, plan.content);
			}
		}

		return {requirements: fromFolder(flags.requirements)};
	}

	if (flags.packages !== undefined) return {packages: flags.packages};
	if (savedRequirements !== undefined || savedPackages !== undefined || !ask.interactive) return {requirements: savedRequirements, packages: savedPackages};

	const existing = ['requirements.txt', 'requirements.in'].find(file => existsSync(path.join(folder, file)));
	if (existing) {
		const choice = await ask.select({
			flag: 'requirements',
			message: 'Python packages:',
			choices: [
				{label: `From ${existing} (the file is hashed into the tag)`, value: existing},
				{label: 'List packages instead', value: ''},
			],
			default: existing,
		});
		if (choice) return {requirements: fromFolder(path.join(folder, choice))};
	}

	const answer = await ask.text({flag: 'packages', message: 'Python packages (comma-separated; empty for none):', default: '', placeholder: 'pandas, union'});
	return {packages: splitRequirements(answer)};
}

const nonEmpty = <T>(items: T[] | undefined): T[] | undefined => (items && items.length > 0 ? items : undefined);

/**
 * The image flags judged before any work starts (nothing is saved or written on a bad value):
 * the spec they would make, with placeholders where no flag was given.
 */
export const validateImageFlags = (flags: Flags): void => {
	rejectProblems({
		name: flags.image ?? 'image',
		python_version: flags.pythonVersion ?? DEFAULT_PYTHON_VERSION,
		registry: 'us-docker.pkg.dev/project/repository',
		env: parseEnv(flags.env),
		packages: flags.packages,
		apt_packages: flags.aptPackages,
		base_image: flags.baseImage,
		platform: flags.platform,
		pip_index: flags.pipIndex,
		pip_extra_index_url: flags.pipExtraIndexUrl.length > 0 ? flags.pipExtraIndexUrl : undefined,
		commands: flags.commands.length > 0 ? flags.commands : undefined,
		tag_format: flags.tagFormat,
	});
};

const rejectProblems = (spec: ImageSpec) => {
	const problems = validateSpec(spec);
	const [first] = problems;
	if (first) throw new UsageError(problems.map(p => `--${flagFor(p.field)} ${JSON.stringify(p.value)}: ${p.rule}`).join('\n'), flagFor(first.field));
};

const parseEnv = (pairs: string[]): Record<string, string> | undefined => {
	if (pairs.length === 0) return undefined;
	const env: Record<string, string> = {};
	for (const pair of pairs) {
		const index = pair.indexOf('=');
		if (index <= 0) throw new UsageError(`--env ${JSON.stringify(pair)} is invalid: use KEY=VALUE`, 'env');
		env[pair.slice(0, index)] = pair.slice(index + 1);
	}

	return env;
};

/** The flag a user changes to fix a spec field. */
const flagFor = (field: string): string =>
	({name: 'image', python_version: 'python-version', base_image: 'base-image', apt_packages: 'apt-packages', pip_index: 'pip-index', pip_extra_index_url: 'pip-extra-index-url', tag_format: 'tag-format'})[field] ?? field;
