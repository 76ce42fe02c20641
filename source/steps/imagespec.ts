import {existsSync} from 'node:fs';
import path from 'node:path';
import {splitList, type Flags} from '../flags.js';
import type {RepositoryRef} from '../services/artifact-registry.js';
import {editDeclaration, type FieldEdits} from '../services/declaration-edit.js';
import {StepError, UsageError} from '../services/errors.js';
import {guardFile, readRegularText} from '../services/file-safety.js';
import {writeModuleChecked} from '../services/module-write.js';
import {SECRET_FIX, findSecrets, maskUrlCredentials, redactor, secretWarning} from '../services/secrets.js';
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
import {splitRequirements} from '../services/pep508.js';
import {imageSpecSdk, type Sdk} from '../services/sdk.js';
import {isManagedModule, otherDeclarationLine, planModuleUpdate, readDeclarations, readModuleFile, writeFileAtomic} from '../services/spec-module.js';
import {detectPython, pythonSyntaxError} from '../services/python.js';
import {readModuleSpecs} from '../services/module-reader.js';
import {validateImageName} from '../services/imagespec.js';
import {planFile} from '../flow/plan.js';
import {lastImage, moduleFileOf} from '../flow/answers.js';
import type {StepContext} from './context.js';

export const DEFAULT_PYTHON_VERSION = '3.12';

/**
 * The local interpreter's X.Y when the SDK supports it: flytekit's default for an ImageSpec without
 * python_version and flyte's for from_debian_base, the Python that registers. Says where it came from.
 */
export const localPythonVersion = async (
	c: StepContext,
	supported: readonly string[] = SUPPORTED_PYTHON_VERSIONS,
	sdk = 'flytekit',
): Promise<{version: string; from: string} | undefined> => {
	const python = await detectPython(c.ctx);
	const version = python.version?.split('.').slice(0, 2).join('.');
	if (!version || !supported.includes(version)) return undefined;
	return {version, from: `the local Python (${python.executable} is ${python.version}), as ${sdk} defaults to it`};
};

/** The image's name: --image, else asked; a script falls back to the last saved image. */
export const askImageName = async (c: Pick<StepContext, 'ask' | 'flags' | 'saved'>): Promise<string> =>
	c.ask.text(
		{
			flag: 'image',
			message: 'Image name (e.g. trainer, team/trainer):',
			default: c.ask.interactive ? undefined : lastImage(c)?.name,
			validate: validateImageName,
		},
		c.flags.image,
	);

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
 * The image answers, validated as flytekit would; the module previewed and written atomically;
 * the tag computed exactly as flytekit computes it. An image the module already declares is
 * read as written: only what the person gives now (a flag, an answer) changes, every other field
 * keeps its text, and no default is added to it.
 */
export async function authorImageSpec(c: StepContext, where: RepositoryRef & {builder: 'local' | 'union'; builderChosen?: boolean}): Promise<AuthoredSpec> {
	const {ask, report, folder} = c;
	const env = c.ctx.platform.env;
	const name = await askImageName(c);
	const moduleFile = moduleFileOf(c, c);
	const existing = await readModuleFile(moduleFile);
	const registry = composeRegistry({
		location: where.location,
		project: where.project,
		repository: where.repository,
		hostOverride: env.IMAGESPEC_GAR_REGISTRY_HOST,
	});
	const relative = path.relative(c.cwd, moduleFile) || moduleFile;
	// The module as `union register` loads it (Python, with flytekit when it imports): its values and tags are the truth.
	const read = existing === undefined ? undefined : await readModuleSpecs(c.ctx, {moduleFile, folder});
	const named = read?.specs.filter(found => found.spec.name.toLowerCase() === name.toLowerCase()) ?? [];
	if (named.length > 1) {
		throw new StepError(`${relative} declares ${name} ${named.length} times (${named.map(found => found.variable).join(', ')}), each with its own tag.`, {
			fix: `Give each ImageSpec its own name in ${relative}, so imagespec-gar (and the people reading the module) can tell which image is meant.`,
			reason: 'DECLARED_TWICE',
		});
	}

	const [found] = named;
	const declarations = existing === undefined ? [] : readDeclarations(existing);
	if (found) {
		if (found.problem) throw found.problem;
		const {spec, edits} = await reviseDeclared(c, found.spec, {
			registry,
			builder: where.builder,
			builderChosen: where.builderChosen ?? c.flags.builder !== undefined,
		});
		rejectProblems(spec, Object.keys(edits));
		await confirmSecrets(c, spec, found.spec, relative);
		// Every secret in the spec (the team's too) stays off the screen.
		const redact = redactor(findSecrets(spec));
		const changed = Object.keys(edits).length > 0;
		const tag = changed ? await computeTag(spec, {baseDir: folder, arch: c.ctx.platform.arch}) : found.tag!;
		const uri = imageUri(spec, tag);
		if (!ask.interactive && found.tag !== tag) refuseUnaskedTagChange(c, found.spec, spec, {name, relative, before: found.tag, tag});
		const authored: AuthoredSpec = {spec, tag, uri, moduleFile, specFile: moduleFile, variable: found.variable, sdk: imageSpecSdk(c.sdk)};
		if (!changed) {
			report({type: 'note', level: 'info', text: `${relative} already declares ${name} this way`});
			return authored;
		}

		// Only the tool's own layout is edited in place; anything else is the person's to change.
		const declaration = declarations.find(candidate => candidate.variable === found.variable);
		const updated = declaration ? editDeclaration(existing!, declaration, edits) : undefined;
		if (!updated || !isManagedModule(existing!)) {
			const change = updated
				? lineDiff(existing!, updated)
				: Object.entries(edits)
						.map(([key, value]) => `${key}: ${value === undefined ? '(remove)' : JSON.stringify(value)}`)
						.join('\n');
			return leaveUnmanaged(
				c,
				authored,
				{title: `${relative} is not managed by imagespec-gar: change ${found.variable} yourself`, code: redact(change)},
				'Apply the change above',
			);
		}

		// Another run may change the module while the preview is up: the same edit, on its new text.
		const replan = (current: string) => {
			const now = readDeclarations(current).find(candidate => candidate.variable === found.variable);
			return now ? editDeclaration(current, now, edits) : undefined;
		};
		return writeModule(c, {
			file: moduleFile,
			relative,
			verb: 'Update',
			preview: redact(lineDiff(existing!, updated)),
			shown: existing,
			content: updated,
			replan,
			authored,
		});
	}

	// Without Python the literal reader may miss a declaration: never add a second one beside it.
	const elsewhere = existing === undefined || read?.via !== 'literal' ? undefined : otherDeclarationLine(existing, name, declarations);
	if (elsewhere !== undefined) {
		throw new StepError(`${relative} already declares ${name} (line ${elsewhere}) in a form imagespec-gar does not edit.`, {
			fix:
				`Change that declaration in ${relative} yourself, or choose another image name: ` +
				`a second declaration of ${name} would not be the image union register builds.`,
			reason: 'DECLARED_ELSEWHERE',
		});
	}

	const spec = await answerNewSpec(c, name, {registry, builder: where.builder});
	rejectProblems(spec);
	await confirmSecrets(c, spec, undefined, relative);
	const redact = redactor(findSecrets(spec));
	const tag = await computeTag(spec, {baseDir: folder, arch: c.ctx.platform.arch});
	const uri = imageUri(spec, tag);
	const sdk = imageSpecSdk(c.sdk);
	const plan = planModuleUpdate(existing, spec, {sdk});
	const authored: AuthoredSpec = {spec, tag, uri, moduleFile, specFile: moduleFile, variable: plan.variable, sdk};
	if (plan.kind === 'unmanaged') {
		return leaveUnmanaged(
			c,
			authored,
			{title: `${relative} is not managed by imagespec-gar: add this yourself`, code: redact(plan.snippet)},
			'Paste the declaration above into it',
		);
	}

	if (plan.kind === 'unchanged') {
		report({type: 'note', level: 'info', text: `${relative} already declares ${name} this way`});
		return authored;
	}

	// On add the preview is what changes (a diff), not the whole module.
	const preview = plan.kind === 'create' ? plan.content : lineDiff(plan.previous ?? '', plan.content);
	const replan = (current: string) => {
		const again = planModuleUpdate(current, spec, {sdk});
		return again.kind === 'unmanaged' ? undefined : again.content;
	};
	return writeModule(c, {
		file: moduleFile,
		relative,
		verb: plan.kind === 'create' ? 'Create' : 'Add to',
		preview: redact(preview),
		shown: existing,
		content: plan.content,
		replan,
		authored,
	});
}

/** A module imagespec-gar did not write is never written: the person gets what to change in it. */
const leaveUnmanaged = (c: StepContext, authored: AuthoredSpec, shown: {title: string; code: string}, todo: string): AuthoredSpec => {
	const relative = path.relative(c.cwd, authored.moduleFile) || authored.moduleFile;
	c.report({type: 'code', ...shown});
	c.report({
		type: 'note',
		level: 'warn',
		text: `${relative} was left untouched (imagespec-gar did not write it). ${todo}, or use --output to write another file.`,
	});
	return {...authored, specFile: undefined};
};

/** Shows the change, asks, writes atomically. A declined write keeps the file and says so. */
async function writeModule(
	c: StepContext,
	change: {
		file: string;
		relative: string;
		verb: string;
		preview: string;
		shown: string | undefined;
		content: string;
		replan: (current: string) => string | undefined;
		authored: AuthoredSpec;
	},
): Promise<AuthoredSpec> {
	const {relative} = change;
	// What is written must still import for `union register` (Python judges, when it is here).
	const broken = await pythonSyntaxError(c.ctx, change.content, change.file);
	if (broken !== undefined) {
		const before = (await readModuleFile(change.file)) ?? '';
		const theirs = before === '' ? undefined : await pythonSyntaxError(c.ctx, before, change.file);
		throw new StepError(
			theirs ? `${relative} does not compile: ${theirs}. Nothing was written.` : `The change to ${relative} would not compile: ${broken}. Nothing was written.`,
			{
				fix: theirs
					? `Fix ${relative} (python3 -m py_compile ${relative}), then rerun.`
					: 'Please report this to imagespec-gar with the module; the declaration above can be added by hand.',
				reason: 'MODULE_SYNTAX',
			},
		);
	}

	if (c.flags.dryRun) {
		c.report(planFile(change.file, relative, change.verb === 'Create' ? 'create' : 'update', change.preview, 'imagespec'));
		return change.authored;
	}

	c.report({type: 'code', title: `${change.verb} ${relative}`, code: change.preview});
	if (!(await c.ask.confirm({flag: 'output', message: `Write ${relative}?`, default: true}))) {
		c.report({type: 'note', level: 'warn', text: `${relative} was not written; the declaration is shown above.`});
		return {...change.authored, specFile: undefined};
	}

	const written = await writeModuleChecked(change.file, {shown: change.shown, content: change.content, name: change.authored.spec.name, replan: change.replan});
	if (written.kind !== 'written') {
		const how =
			written.kind === 'merged'
				? 'your declaration was added to its new content, and everything else in it was kept'
				: 'it already declares this image this way';
		c.report({type: 'note', level: 'warn', text: `${relative} changed while you were deciding (another run or an editor): ${how}.`});
	}

	return change.authored;
}

/** A new declaration: flags, then saved answers, then the wizard's defaults (python_version always). */
async function answerNewSpec(c: StepContext, name: string, fixed: {registry: string; builder: 'local' | 'union'}): Promise<ImageSpec> {
	const {ask, flags, saved} = c;
	const previous = saved.images?.[name];
	const known = flags.pythonVersion ?? previous?.pythonVersion;
	const local = known === undefined ? await localPythonVersion(c) : undefined;
	if (local && !ask.interactive) c.report({type: 'note', level: 'info', text: `Python ${local.version}: ${local.from}`});
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
			default: previous?.baseImage ?? defaultBaseImage(pythonVersion),
			validate: value => (value ? undefined : 'a base image is required'),
		},
		flags.baseImage,
	);
	const {packages, requirements} = await choosePackages(c, previous?.requirements, previous?.packages);
	const more = await moreOptions(c, {platform: previous?.platform ?? DEFAULT_PLATFORM});
	return {
		name,
		python_version: pythonVersion,
		// Chosen before this step (Union is offered first where a local build is slow or impossible).
		builder: fixed.builder === 'union' ? 'union' : undefined,
		env: more.env,
		registry: fixed.registry,
		packages: packages?.length ? packages : undefined,
		requirements,
		apt_packages: more.apt_packages,
		base_image: baseImage,
		platform: more.platform,
		pip_index: more.pip_index,
		pip_extra_index_url: more.pip_extra_index_url,
		commands: more.commands,
		tag_format: more.tag_format,
	};
}

type MoreOptions = Pick<ImageSpec, 'env' | 'apt_packages' | 'platform' | 'pip_index' | 'pip_extra_index_url' | 'commands' | 'tag_format'>;

/**
 * apt packages, env, commands, pip indexes, platform and tag format: from their flags, else
 * `basis`; a person who asks for more options is asked each, with `basis` as the default.
 */
async function moreOptions(c: StepContext, basis: MoreOptions): Promise<MoreOptions> {
	const {ask, flags} = c;
	const more =
		ask.interactive &&
		(await ask.confirm({flag: 'apt-packages', message: 'Set more options (apt packages, env, commands, pip index, platform, tag format)?', default: false}));
	const text = async (flag: string, message: string, given: string | undefined, fallback: string | undefined) =>
		more ? (await ask.text({flag, message, default: fallback ?? ''})) || undefined : (given ?? fallback);
	const list = async (flag: string, message: string, given: string[] | undefined, fallback: string[] | undefined) =>
		nonEmpty(more ? splitList(await ask.text({flag, message, default: (given ?? fallback ?? []).join(', ')})) : (given ?? fallback));
	const envText = Object.entries(basis.env ?? {})
		.map(([key, value]) => `${key}=${value}`)
		.join(', ');
	const env = more
		? parseEnv(splitList(await ask.text({flag: 'env', message: 'Environment (KEY=VALUE, comma-separated):', default: envText})) ?? [])
		: flags.env.length > 0
			? parseEnv(flags.env)
			: basis.env;
	const apt = await list('apt-packages', 'Debian (apt) packages, comma-separated:', flags.aptPackages, basis.apt_packages);
	const platform = await text('platform', 'Platform (linux/amd64 is what Union nodes run):', flags.platform, basis.platform);
	const pipIndex = await text('pip-index', 'pip index URL (empty for PyPI):', flags.pipIndex, basis.pip_index);
	const extraIndex = await list('pip-extra-index-url', 'Extra pip index URLs, comma-separated:', nonEmpty(flags.pipExtraIndexUrl), basis.pip_extra_index_url);
	const command = more
		? await ask.text({flag: 'commands', message: 'A command to run in the image (empty for none):', default: (basis.commands ?? []).join(' && ')})
		: undefined;
	const commands = more ? nonEmpty(command ? [command] : []) : (nonEmpty(flags.commands) ?? basis.commands);
	const tagFormat = await text('tag-format', 'Tag format ({spec_hash} is the hash; empty for the plain hash):', flags.tagFormat, basis.tag_format);
	return {env, apt_packages: apt, platform, pip_index: pipIndex, pip_extra_index_url: extraIndex, commands, tag_format: tagFormat};
}

/**
 * An image the module declares: every answer defaults to the declaration as written; what the
 * person gives that differs from it is an edit. Saved answers and the wizard's defaults never
 * reach a declaration (the module is the team's truth).
 */
async function reviseDeclared(
	c: StepContext,
	declared: ImageSpec,
	fixed: {registry: string; builder: 'local' | 'union'; builderChosen: boolean},
): Promise<{spec: ImageSpec; edits: FieldEdits}> {
	const {ask, flags} = c;
	const answers: FieldEdits = {};
	// Asked of a person with the declaration as the default; a script changes only what it flags.
	if (flags.pythonVersion !== undefined || ask.interactive) {
		const notSet = declared.python_version === undefined ? [{label: "not set, as declared (the builder's Python)", value: ''}] : [];
		const version = await ask.select(
			{
				flag: 'python-version',
				message: 'Python version:',
				choices: [...notSet, ...[...SUPPORTED_PYTHON_VERSIONS].reverse().map(value => ({label: value, value}))],
				default: declared.python_version ?? '',
			},
			flags.pythonVersion,
		);
		answers.python_version = version || undefined;
	}

	// A nested ImageSpec base is not a question: it changes only in the module.
	if (typeof declared.base_image !== 'object' && (flags.baseImage !== undefined || ask.interactive)) {
		const declaredBase = declared.base_image;
		const base = await ask.text(
			{flag: 'base-image', message: declaredBase ? 'Base image:' : "Base image (empty: flytekit's default):", default: declaredBase ?? ''},
			flags.baseImage,
		);
		answers.base_image = base || undefined;
	}

	Object.assign(answers, await choosePackages(c, declared.requirements, declared.packages));
	Object.assign(answers, await moreOptions(c, declared));
	// The registry follows the repository chosen in this run; the builder, a choice made in it.
	answers.registry = fixed.registry;
	if (fixed.builderChosen) answers.builder = fixed.builder === 'union' ? 'union' : declared.builder === 'union' ? undefined : declared.builder;

	const edits: FieldEdits = {};
	for (const [key, value] of Object.entries(answers) as Array<[keyof ImageSpec, unknown]>) {
		if (!sameValue(value, declared[key])) Object.assign(edits, {[key]: value});
	}

	const spec = {...declared, ...edits} as ImageSpec;
	for (const [key, value] of Object.entries(edits)) if (value === undefined) delete spec[key as keyof ImageSpec];
	return {spec, edits};
}

const sameValue = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Without a person to show the diff to, a change of an existing image's tag must have been asked
 * for by a flag; anything else (saved answers pointing at another repository, say) is refused.
 */
const refuseUnaskedTagChange = (c: StepContext, declared: ImageSpec, spec: ImageSpec, info: {name: string; relative: string; before?: string; tag: string}) => {
	const flagged = new Set(givenFields(c.flags));
	const unasked = (Object.keys({...declared, ...spec}) as Array<keyof ImageSpec>).filter(key => !sameValue(declared[key], spec[key]) && !flagged.has(key));
	if (unasked.length === 0) return;
	const [first] = unasked;
	const flag = first === 'registry' ? 'repository' : flagFor(first!);
	const values = (of: ImageSpec) => unasked.map(key => `${key}=${JSON.stringify(of[key] ?? null)}`).join(', ');
	throw new UsageError(
		`${info.relative} declares ${info.name} with ${values(declared)}; this run would change that (${values(spec)}) ` +
			`and so its tag (${info.before ?? '?'} → ${info.tag}). Pass --${flag} to ask for that change, or run without --yes to review it.`,
		flag,
	);
};

/** The spec fields this run's flags set. */
const givenFields = (flags: Flags): Array<keyof ImageSpec> => {
	const given: Array<[keyof ImageSpec, unknown]> = [
		['python_version', flags.pythonVersion],
		['base_image', flags.baseImage],
		['packages', flags.packages],
		['requirements', flags.requirements],
		['apt_packages', flags.aptPackages],
		['env', flags.env.length > 0 ? flags.env : undefined],
		['commands', flags.commands.length > 0 ? flags.commands : undefined],
		['pip_index', flags.pipIndex],
		['pip_extra_index_url', flags.pipExtraIndexUrl.length > 0 ? flags.pipExtraIndexUrl : undefined],
		['platform', flags.platform],
		['tag_format', flags.tagFormat],
		['builder', flags.builder],
		['registry', flags.project ?? flags.location ?? flags.repository],
	];
	return given.filter(([, value]) => value !== undefined).map(([key]) => key);
};

/**
 * Packages inline (`packages=[...]`) or a requirements file, reused when the project has one,
 * created from --packages when --requirements names a file that does not exist yet.
 */
async function choosePackages(
	c: StepContext,
	savedRequirements: string | undefined,
	savedPackages: string[] | undefined,
): Promise<{packages?: string[]; requirements?: string}> {
	const {flags, ask, folder} = c;
	// flytekit opens the file relative to where `union register` runs: the project folder.
	const fromFolder = (file: string) => path.relative(folder, path.resolve(c.cwd, file)).split(path.sep).join('/');
	if (flags.requirements !== undefined) {
		const file = path.resolve(c.cwd, flags.requirements);
		if (flags.packages !== undefined) {
			const plan = planRequirementsFile(await readRegularText(file), flags.packages);
			if (plan.kind === 'keep')
				throw new UsageError(
					`--requirements ${JSON.stringify(flags.requirements)} already lists other packages ` +
						`(${plan.extra.join(', ') || 'other versions'}): leave out --packages to use it as it is`,
					'requirements',
				);
			if (plan.kind === 'create' && flags.dryRun) c.report(planFile(file, flags.requirements, 'create', plan.content, 'imagespec'));
			else if (plan.kind === 'create') {
				c.report({type: 'note', level: 'info', text: `Created ${flags.requirements} with ${flags.packages.join(', ')}`});
				await guardFile('write the requirements file', file, async () => writeFileAtomic(file, plan.content));
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

/**
 * Secret-looking values the person gives now (not those already in the team's declaration): said,
 * with the SDK's secret mechanisms as the fix; written only when they confirm or pass --allow-secrets.
 */
async function confirmSecrets(c: StepContext, spec: ImageSpec, declared: ImageSpec | undefined, moduleName: string): Promise<void> {
	const known = new Set(findSecrets(declared ?? {}).flatMap(secret => secret.values));
	const secrets = findSecrets(spec).filter(secret => secret.values.some(value => !known.has(value)));
	if (secrets.length === 0 || c.flags.allowSecrets) return;
	const warning = secretWarning(secrets, moduleName);
	if (!c.ask.interactive) throw new UsageError(`${warning} ${SECRET_FIX}`, 'allow-secrets');
	c.report({type: 'note', level: 'warn', text: `${warning} ${SECRET_FIX.replace(/ To write it anyway.*$/, '')}`});
	if (!(await c.ask.confirm({flag: 'allow-secrets', message: 'Write it into the module anyway?', default: false}))) {
		throw new StepError(`${moduleName} was not written: it would hold ${secrets.map(secret => secret.label).join(', ')} in plain text.`, {
			fix: SECRET_FIX,
			reason: 'SECRET_IN_SPEC',
		});
	}
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

/** `only`: judge just these fields (an existing declaration's other fields are the team's, as written). */
const rejectProblems = (spec: ImageSpec, only?: string[]) => {
	const problems = validateSpec(spec).filter(problem => only === undefined || only.includes(problem.field));
	const [first] = problems;
	if (first)
		throw new UsageError(maskUrlCredentials(problems.map(p => `--${flagFor(p.field)} ${JSON.stringify(p.value)}: ${p.rule}`).join('\n')), flagFor(first.field));
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
	({
		name: 'image',
		python_version: 'python-version',
		base_image: 'base-image',
		apt_packages: 'apt-packages',
		pip_index: 'pip-index',
		pip_extra_index_url: 'pip-extra-index-url',
		tag_format: 'tag-format',
	})[field] ?? field;
