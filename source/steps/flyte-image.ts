import {mkdir} from 'node:fs/promises';
import path from 'node:path';
import {splitList} from '../flags.js';
import {planFile} from '../flow/plan.js';
import type {RepositoryRef} from '../services/artifact-registry.js';
import type {RegistryHandle} from '../services/registry-handle.js';
import type {BuildEvent} from '../services/docker.js';
import {StepError} from '../services/errors.js';
import {buildWithFlyte, findFlyte, type FlyteBuilder} from '../services/flyte-build.js';
import {DEFAULT_FLYTE_PLATFORM, computeFlyteUri, type FlyteImage, type FlyteLayer} from '../services/flyte-image.js';
import {flyteDeclarationOf, planFlyteModuleUpdate, readFlyteDeclarations, PLATFORM_REASON, environmentVariable} from '../services/flyte-module.js';
import {readFlyteModule} from '../services/flyte-reader.js';
import {composeRegistry, packagesProblem} from '../services/imagespec.js';
import {splitRequirements} from '../services/pep508.js';
import {lineDiff} from '../services/diff.js';
import {buildLogPath} from '../services/log-folder.js';
import {writeModuleChecked} from '../services/module-write.js';
import {findPython, pythonSyntaxError} from '../services/python.js';
import {pinnedFlyteVersion} from '../services/sdk.js';
import {readModuleFile, writeFileAtomic} from '../services/spec-module.js';
import {findFlyteConfig, readFlyteImageConfig, setConfigRegistry} from '../services/flyte-config.js';
import {guardFile} from '../services/file-safety.js';
import type {BuildOutcome} from './build.js';
import {findInRepository, skipWhenThere} from './build.js';
import type {StepContext} from './context.js';
import {DEFAULT_PYTHON_VERSION, askImageName, localPythonVersion} from './imagespec.js';

import {DEFAULT_FLYTE_MODULE} from '../flow/answers.js';

export {DEFAULT_FLYTE_MODULE};

/** flyte's from_debian_base Pythons (flyte-sdk _image.py, _DEFAULT_IMAGE_PREFIXES). */
const FLYTE_PYTHON_VERSIONS = ['3.14', '3.13', '3.12', '3.11', '3.10'];

export type AuthoredFlyte = {
	image: FlyteImage;
	/** Undefined when it cannot be known (then `unknown` says why): never a guess. */
	uri?: string;
	tag?: string;
	unknown?: string;
	/** flyte's own image.uri, when flyte was importable and agreed. */
	sdkUri?: string;
	moduleFile: string;
	/** The module holding the declaration; undefined when it was not written (unmanaged or declined). */
	specFile?: string;
	variable: string;
	/** The TaskEnvironment `flyte build` builds (undefined: the module has none for this image). */
	environment?: string;
};

/** What the person gave as flags, as the layers the wizard writes (in flyte's usual order). */
const layersFromFlags = (c: StepContext): FlyteLayer[] => {
	const {flags} = c;
	const env = Object.fromEntries(
		flags.env.map(pair => {
			const at = pair.indexOf('=');
			if (at <= 0) throw new StepError(`--env ${JSON.stringify(pair)} is not KEY=VALUE.`, {fix: 'Give each variable as --env KEY=VALUE.', reason: 'BAD_ENV'});
			return [pair.slice(0, at), pair.slice(at + 1)];
		}),
	);
	const pip = {
		...(flags.pipIndex ? {indexUrl: flags.pipIndex} : {}),
		...(flags.pipExtraIndexUrl.length > 0 ? {extraIndexUrls: flags.pipExtraIndexUrl} : {}),
	};
	return [
		...(flags.aptPackages?.length ? [{kind: 'apt_packages' as const, packages: flags.aptPackages}] : []),
		...(flags.packages?.length ? [{kind: 'pip_packages' as const, packages: flags.packages, ...pip}] : []),
		...(flags.requirements ? [{kind: 'requirements' as const, file: flags.requirements, ...pip}] : []),
		...(Object.keys(env).length > 0 ? [{kind: 'env_vars' as const, env}] : []),
		...(flags.commands.length > 0 ? [{kind: 'commands' as const, commands: flags.commands}] : []),
	];
};

/** A declared image with only what the flags give changed: a layer of that kind replaced (or added), the rest as written. */
const revise = (declared: FlyteImage, c: StepContext): FlyteImage => {
	const given = layersFromFlags(c);
	const layers = [...declared.layers];
	for (const layer of given) {
		const at = layers.findIndex(existing => existing.kind === layer.kind);
		if (at === -1) layers.push(layer);
		else layers[at] = layer;
	}
	const {pythonVersion, baseImage, platform} = c.flags;
	let {base} = declared;
	if (baseImage) base = {kind: 'base', uri: baseImage};
	else if (pythonVersion && base.kind === 'debian') base = {...base, pythonVersion: pythonVersion.split('.').map(Number) as [number, number]};
	return {...declared, base, ...(platform ? {platform: splitList(platform)} : {}), layers};
};

/** A new image: the repository's registry, flyte's Debian base (or --base-image), amd64 only. */
async function answerNew(c: StepContext, name: string, registry: string): Promise<FlyteImage> {
	const {ask, flags} = c;
	const local = flags.pythonVersion === undefined && !flags.baseImage ? await localPythonVersion(c, FLYTE_PYTHON_VERSIONS, 'flyte') : undefined;
	if (local && !ask.interactive) c.report({type: 'note', level: 'info', text: `Python ${local.version}: ${local.from}`});
	const python = await ask.select(
		{
			flag: 'python-version',
			message: "Python version (flyte's Debian base image for it):",
			choices: FLYTE_PYTHON_VERSIONS.map(value => ({label: value, value, hint: value === local?.version ? local.from : undefined})),
			default: flags.pythonVersion ?? local?.version ?? DEFAULT_PYTHON_VERSION,
		},
		flags.pythonVersion,
	);
	if (!FLYTE_PYTHON_VERSIONS.includes(python)) {
		throw new StepError(`--python-version ${python} has no flyte Debian base image.`, {
			fix: `Use one of ${FLYTE_PYTHON_VERSIONS.join(', ')}.`,
			reason: 'BAD_PYTHON_VERSION',
		});
	}
	const packages =
		flags.packages ??
		(ask.interactive
			? splitRequirements(
					await ask.text({
						flag: 'packages',
						message: 'pip packages (comma-separated; empty for none):',
						default: '',
						placeholder: 'pandas>=2,<3, pyarrow',
						validate: packagesProblem,
					}),
				)
			: undefined);
	const layers = layersFromFlags({...c, flags: {...flags, packages}});
	const platform = flags.platform ? splitList(flags.platform)! : DEFAULT_FLYTE_PLATFORM;
	if (!flags.platform) c.report({type: 'note', level: 'info', text: `platform=("linux/amd64",): ${PLATFORM_REASON}.`});
	return {
		name,
		registry,
		platform,
		base: flags.baseImage ? {kind: 'base', uri: flags.baseImage} : {kind: 'debian', pythonVersion: python.split('.').map(Number) as [number, number]},
		layers,
	};
}

/** The URI of `image` as flyte names it: flyte itself when importable (and the tool must agree), else the tool's computation. */
async function nameImage(c: StepContext, authored: AuthoredFlyte): Promise<AuthoredFlyte> {
	const pinnedFlyte = await pinnedFlyteVersion(c.folder);
	const python = authored.specFile ? await findPython(c.ctx) : undefined;
	if (python) {
		// The module as `flyte build` loads it is the truth: read it back with Python.
		const read = await readFlyteModule(c.ctx, {moduleFile: authored.moduleFile, folder: c.folder, python, pinnedFlyte});
		const found = read.images.find(entry => entry.image?.name === authored.image.name || entry.variables.includes(authored.variable));
		const environment = read.environments.find(env => env.image === found?.variable)?.variable ?? authored.environment;
		if (found?.uri)
			return {...authored, uri: found.uri, tag: found.uri.slice(found.uri.lastIndexOf(':') + 1), ...(found.sdkUri ? {sdkUri: found.sdkUri} : {}), environment};
		if (found?.problem) return {...authored, unknown: found.problem.message, environment};
	}
	const uri = await computeFlyteUri(authored.image, {folder: c.folder, installedFlyte: pinnedFlyte});
	return uri.known ? {...authored, uri: uri.uri, tag: uri.tag} : {...authored, unknown: `Cannot name ${authored.image.name}: ${uri.reason}.`};
}

/**
 * The imagespec step for Flyte 2: the flyte.Image declaration in the managed module (the same rules as the
 * ImageSpec module: only a marked file is written, only the tool's declarations change), and the
 * URI flyte will give it.
 */
export async function authorFlyteImage(c: StepContext, where: {project: string; location: string; repository: string}): Promise<AuthoredFlyte> {
	const {ask, flags, report, folder} = c;
	const name = await askImageName(c);
	const moduleFile = path.resolve(c.cwd, flags.output ?? path.join(folder, DEFAULT_FLYTE_MODULE));
	const relative = path.relative(c.cwd, moduleFile) || moduleFile;
	const existing = await readModuleFile(moduleFile);
	const registry = composeRegistry({...where, hostOverride: c.ctx.platform.env.IMAGESPEC_GAR_REGISTRY_HOST});
	const declared =
		existing === undefined ? undefined : readFlyteDeclarations(existing).find(declaration => declaration.name?.toLowerCase() === name.toLowerCase());
	if (declared && !declared.image) {
		throw new StepError(`${relative} declares ${name} (variable ${declared.variable}) with calls imagespec-gar does not write.`, {
			fix: `Change that declaration in ${relative} yourself, or choose another image name.`,
			reason: 'DECLARED_ELSEWHERE',
		});
	}
	const image = declared?.image ? revise(declared.image, c) : await answerNew(c, name, registry);
	const plan = planFlyteModuleUpdate(existing, image);
	const base: AuthoredFlyte = {
		image,
		moduleFile,
		specFile: moduleFile,
		variable: plan.variable,
		...('environment' in plan && plan.environment ? {environment: plan.environment} : {}),
	};
	if (plan.kind === 'unmanaged' || plan.kind === 'edited') {
		report({
			type: 'code',
			title:
				plan.kind === 'edited'
					? `${relative} line ${plan.line}: change ${name} to this yourself`
					: `${relative} is not managed by imagespec-gar: add this yourself`,
			code: plan.snippet,
		});
		report({
			type: 'note',
			level: 'warn',
			text: `${relative} was left untouched (${plan.kind === 'edited' ? `its declaration of ${name} was edited by hand` : 'imagespec-gar did not write it'}).`,
		});
		const left = {...base, specFile: undefined, environment: plan.kind === 'unmanaged' ? plan.environment : environmentVariable(plan.variable)};
		return nameImage(c, left);
	}
	if (plan.kind === 'unchanged') {
		report({type: 'note', level: 'info', text: `${relative} already declares ${name} this way`});
		return nameImage(c, {...base, environment: base.environment ?? environmentVariable(plan.variable)});
	}
	const preview = plan.kind === 'create' ? plan.content : lineDiff(plan.previous ?? '', plan.content);
	const broken = await pythonSyntaxError(c.ctx, plan.content, moduleFile);
	if (broken !== undefined) throw new StepError(`The change to ${relative} would not compile: ${broken}. Nothing was written.`, {reason: 'MODULE_SYNTAX'});
	if (flags.dryRun) {
		report(planFile(moduleFile, relative, plan.kind === 'create' ? 'create' : 'update', preview, 'imagespec'));
		const uri = await computeFlyteUri(image, {folder, installedFlyte: await pinnedFlyteVersion(folder)});
		return uri.known ? {...base, uri: uri.uri, tag: uri.tag} : {...base, unknown: uri.reason};
	}
	report({type: 'code', title: `${plan.kind === 'create' ? 'Create' : plan.kind === 'add' ? 'Add to' : 'Update'} ${relative}`, code: preview});
	if (!(await ask.confirm({flag: 'output', message: `Write ${relative}?`, default: true}))) {
		report({type: 'note', level: 'warn', text: `${relative} was not written; the declaration is shown above.`});
		return nameImage(c, {...base, specFile: undefined});
	}
	const written = await writeModuleChecked(moduleFile, {
		shown: existing,
		content: plan.content,
		name: image.name,
		replan: current => {
			const again = planFlyteModuleUpdate(current, image);
			return 'content' in again ? again.content : undefined;
		},
		declarationOf: flyteDeclarationOf,
		label: 'flyte.Image module',
	});
	if (written.kind === 'merged')
		report({
			type: 'note',
			level: 'warn',
			text: `${relative} changed while you were deciding: your declaration was added to its new content, and everything else in it was kept.`,
		});
	return nameImage(c, base);
}

/**
 * Which of flyte's builders builds: --builder (union: Union's remote image builder), else the
 * image.builder of the flyte config flyte reads here (as `flyte build` would), else local.
 */
export async function chooseFlyteBuilder(c: Pick<StepContext, 'flags' | 'folder' | 'ctx'>): Promise<FlyteBuilder> {
	if (c.flags.builder) return c.flags.builder === 'union' ? 'remote' : 'local';
	const {env, home} = c.ctx.platform;
	return (await readFlyteImageConfig(c.folder, env, home)).builder === 'remote' ? 'remote' : 'local';
}

/**
 * The build step for Flyte 2: skip when the URI is already in the repository (unless --force); else
 * flyte's own builder (`flyte build` with `builder`: chooseFlyteBuilder) when the flyte CLI is
 * here, then the proof that the repository lists the tag. Without flyte, Union's remote builder
 * builds the image when the environment is deployed.
 */
export async function buildFlyteImage(
	c: StepContext,
	authored: AuthoredFlyte,
	where: RepositoryRef,
	options: {builder: FlyteBuilder; registry?: RegistryHandle},
): Promise<BuildOutcome> {
	const {registry, builder} = options;
	const {ctx, report} = c;
	const progress = (detail: string) => report({type: 'step', step: 'build', status: 'running', detail});
	if (!authored.uri || !authored.tag) return {pushed: false, skipped: `not built: ${authored.unknown ?? 'its URI is unknown'}`};
	const target = {spec: {name: authored.image.name, registry: authored.image.registry}, tag: authored.tag, uri: authored.uri};
	const tagged = `${authored.image.name}:${authored.tag}`;
	const there = await skipWhenThere(c, target, where, registry);
	if (there) return there;
	const flyte = await findFlyte(ctx);
	if (!flyte || !authored.specFile || !authored.environment) {
		const why = !flyte
			? 'the flyte CLI is not installed here'
			: !authored.specFile
				? 'the module was not written'
				: `no TaskEnvironment uses ${authored.variable}`;
		report({
			type: 'note',
			level: 'info',
			text:
				`Not built here (${why}): with image.builder: remote in flyte's config, Union's image builder builds ${authored.uri} ` +
				'when the environment is deployed (its service accounts need Artifact Registry Writer on the repository).',
		});
		return {pushed: false, skipped: `left to Union's remote builder (${why})`};
	}
	const logFile = buildLogPath(ctx.platform, authored.image.name, authored.tag);
	report({type: 'note', level: 'info', text: `Full build log: ${logFile}`});
	const onEvent = (event: BuildEvent) => {
		if (event.type === 'log') report({type: 'log', line: event.line});
		else if (event.type === 'step') report({type: 'build-step', text: event.text});
		else if (event.type === 'layer') report({type: 'layer', id: event.id, status: event.status, current: event.current, total: event.total});
		else progress(`flyte ${builder === 'remote' ? "(Union's remote builder) " : ''}is building ${tagged}`);
	};
	await buildWithFlyte(ctx, {flyte, moduleFile: authored.specFile, environment: authored.environment, builder, imageUri: authored.uri, logFile}, onEvent);
	progress(`checking that the repository lists ${tagged}`);
	const after = await findInRepository(c, target, where, registry);
	if (after.state !== 'present') {
		throw new StepError(`flyte build finished, but the repository does not list ${authored.uri}${after.detail ? ` (${after.detail})` : ''}.`, {
			fix:
				`Check that flyte pushed to ${authored.image.registry ?? "the registry in flyte's config"}: ` +
				`gcloud artifacts docker images list ${authored.image.registry ?? ''} --include-tags`,
			reason: 'NOT_LISTED',
		});
	}
	const listed = after.via === 'artifact-registry' ? `Artifact Registry lists ${tagged}` : `The registry has ${tagged}`;
	report({type: 'note', level: 'info', text: `${listed} → ${after.digest ?? 'digest unknown'}.`});
	return {pushed: true, digest: after.digest, logFile};
}

/**
 * `image.registry` in the project's flyte config (--flyte-config, or asked): the config flyte
 * reads in this folder when it is the project's own (not ~/.flyte), else a new
 * .flyte/config.yaml. Shown as a diff, written atomically, every other byte kept.
 */
export async function setFlyteConfigRegistry(c: StepContext, registry: string): Promise<string | undefined> {
	const {flags, ask, report, folder} = c;
	const {home, env} = c.ctx.platform;
	const found = findFlyteConfig(folder, {}, home);
	const file = found && !found.startsWith(path.join(home, '.')) ? found : path.join(folder, '.flyte', 'config.yaml');
	const relative = path.relative(c.cwd, file) || file;
	const wanted =
		flags.flyteConfig ??
		(ask.interactive ? await ask.confirm({flag: 'flyte-config', message: `Also set image.registry in ${relative}?`, default: false}) : false);
	if (!wanted) return undefined;
	const existing = await readModuleFile(file);
	const content = setConfigRegistry(existing, registry, relative);
	if (content === existing) {
		report({type: 'note', level: 'info', text: `${relative} already sets image.registry: ${registry}`});
		return file;
	}
	const preview = existing === undefined ? content : lineDiff(existing, content);
	if (flags.dryRun) {
		report(planFile(file, relative, existing === undefined ? 'create' : 'update', preview, 'imagespec'));
		return file;
	}
	report({type: 'code', title: `${existing === undefined ? 'Create' : 'Update'} ${relative}`, code: preview});
	await guardFile("write flyte's config", file, async () => {
		await mkdir(path.dirname(file), {recursive: true});
		await writeFileAtomic(file, content);
	});
	if (env.FLYTE_IMAGE_REGISTRY && env.FLYTE_IMAGE_REGISTRY !== registry) {
		report({type: 'note', level: 'warn', text: `FLYTE_IMAGE_REGISTRY=${env.FLYTE_IMAGE_REGISTRY} is set here and wins over ${relative}.`});
	}
	return file;
}
