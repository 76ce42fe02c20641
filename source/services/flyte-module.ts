import {DEFAULT_FLYTE_PLATFORM, type FlyteBase, type FlyteImage, type FlyteLayer, type PipOptions} from './flyte-image.js';
import {PyLiteral, pyStr} from './imagespec.js';
import {MODULE_MARKER, isManagedModule, parseLiteral, skip, topLevelNames, uniqueVariable, variableName, type ModulePlan} from './spec-module.js';

/*
 * The Flyte 2 module: one `flyte.Image` declaration per image, each followed by the
 * `flyte.TaskEnvironment` that `flyte build FILE ENV` builds. The managed-module rules are the
 * ImageSpec module's (spec-module.ts): only a file with the marker is written, and only the
 * declarations (from `VAR = (` to the closing `)` line) are the tool's; every other byte is kept.
 */

const INDENT = '    ';
// black's default line length.
const LINE_LENGTH = 88;

/** Why the wizard writes one platform (flyte's own default is amd64 and arm64). */
export const PLATFORM_REASON = "amd64 only: the nodes are amd64; flyte's default adds an emulated arm64 build";

const literal = (value: string): string => pyStr(value, {preferDouble: true});
const tuple = (items: string[]): string => `(${items.join(', ')}${items.length === 1 ? ',' : ''})`;

/** A flyte environment name: snake_case (flyte refuses anything but snake- or kebab-case). */
export const environmentName = (imageName: string): string =>
	imageName
		.toLowerCase()
		.replace(/[^a-z\d]+/g, '_')
		.replace(/^_+|_+$/g, '') || 'custom';

/** `trainer_image` -> `trainer_env`. */
export const environmentVariable = (imageVariable: string): string => `${imageVariable.replace(/_image$/, '')}_env`;

/** `name(args)` on one line when it fits at `indent`, else one argument per line. */
const call = (name: string, args: string[], indent: string): string => {
	const inline = `${indent}${name}(${args.join(', ')})`;
	if (inline.length <= LINE_LENGTH && !args.some(arg => arg.includes('\n'))) return inline;
	return `${indent}${name}(\n${args.map(arg => `${indent}${INDENT}${arg},\n`).join('')}${indent})`;
};

/** A dict literal, inline when short, else one entry per line (inside a call's argument line). */
const dict = (entries: Record<string, string>, indent: string): string => {
	const items = Object.entries(entries).map(([key, value]) => `${literal(key)}: ${literal(value)}`);
	const inline = `{${items.join(', ')}}`;
	if (items.length <= 1 || inline.length + indent.length + 20 <= LINE_LENGTH) return inline;
	return `{\n${items.map(item => `${indent}${INDENT}${INDENT}${item},\n`).join('')}${indent}${INDENT}}`;
};

const pipArgs = (options: PipOptions): string[] => [
	...(options.indexUrl === undefined ? [] : [`index_url=${literal(options.indexUrl)}`]),
	...(options.extraIndexUrls === undefined ? [] : [`extra_index_urls=[${options.extraIndexUrls.map(url => literal(url)).join(', ')}]`]),
	...(options.pre ? ['pre=True'] : []),
	...(options.extraArgs === undefined ? [] : [`extra_args=${literal(options.extraArgs)}`]),
];

const layerLine = (layer: FlyteLayer, indent: string): string => {
	switch (layer.kind) {
		case 'pip_packages': {
			return call('.with_pip_packages', [...layer.packages.map(item => literal(item)), ...pipArgs(layer)], indent);
		}
		case 'requirements': {
			return call('.with_requirements', [literal(layer.file), ...pipArgs(layer)], indent);
		}
		case 'apt_packages': {
			return call(
				'.with_apt_packages',
				layer.packages.map(item => literal(item)),
				indent,
			);
		}
		case 'env_vars': {
			return call('.with_env_vars', [dict(layer.env, indent)], indent);
		}
		case 'commands': {
			const items = layer.commands.map(item => literal(item));
			const inline = `[${items.join(', ')}]`;
			const list =
				indent.length + inline.length + 16 <= LINE_LENGTH
					? inline
					: `[\n${items.map(item => `${indent}${INDENT}${INDENT}${item},\n`).join('')}${indent}${INDENT}]`;
			return call('.with_commands', [list], indent);
		}
	}
};

/** The keyword lines of the base call, one per line (black's magic trailing comma). */
const baseLines = (image: FlyteImage, indent: string): string => {
	const inner = `${indent}${INDENT}`;
	const platform = image.platform
		? [
				...(image.platform.join() === DEFAULT_FLYTE_PLATFORM.join() ? [`${inner}# ${PLATFORM_REASON}.`] : []),
				`${inner}platform=${tuple(image.platform.map(item => literal(item)))},`,
			]
		: [];
	const registry = image.registry === undefined ? [] : [`${inner}registry=${literal(image.registry)},`];
	if (image.base.kind === 'debian') {
		const lines = [
			`${inner}python_version=${tuple(image.base.pythonVersion.map(String))},`,
			...(image.base.flyteVersion === undefined ? [] : [`${inner}flyte_version=${literal(image.base.flyteVersion)},`]),
			...registry,
			`${inner}name=${literal(image.name)},`,
			...platform,
		];
		return `${indent}flyte.Image.from_debian_base(\n${lines.join('\n')}\n${indent})`;
	}
	// from_base images cannot take layers until a clone names them and makes them extendable.
	const clone = [...registry, `${inner}name=${literal(image.name)},`, `${inner}extendable=True,`, ...platform];
	return `${indent}flyte.Image.from_base(${literal(image.base.uri)})\n${indent}.clone(\n${clone.join('\n')}\n${indent})`;
};

/** One declaration: `trainer_image = (`, the base call, one `.with_*` line per layer, then `)`. */
export const renderFlyteDeclaration = (image: FlyteImage, variable: string): string =>
	`${variable} = (\n${baseLines(image, INDENT)}\n${image.layers.map(layer => `${layerLine(layer, INDENT)}\n`).join('')})\n`;

/** The environment `flyte build FILE ENV` and tasks use; written once, then the user's. */
export const renderFlyteEnvironment = (image: FlyteImage, variable: string, taken: Set<string> = new Set()): {text: string; variable: string} => {
	const env = uniqueVariable(environmentVariable(variable), taken);
	return {variable: env, text: `${env} = flyte.TaskEnvironment(name=${literal(environmentName(image.name))}, image=${variable})\n`};
};

const HEADER = `${[
	`# ${MODULE_MARKER}: flyte.Image declarations for Google Artifact Registry.`,
	'# To add or change an image, rerun `imagespec-gar --sdk flyte`. It rewrites only its own',
	'# declarations (from `name_image = (` to the closing `)` line)',
	'# and keeps every other line of this file as you wrote it.',
].join('\n')}\n`;

export const renderFlyteModule = (images: FlyteImage[]): string => {
	const taken = new Set<string>();
	const parts = images.map(image => {
		const variable = uniqueVariable(variableName(image.name), taken);
		taken.add(variable);
		const env = renderFlyteEnvironment(image, variable, taken);
		taken.add(env.variable);
		return `\n${renderFlyteDeclaration(image, variable)}${env.text}`;
	});
	return `${HEADER}import flyte\n${parts.join('')}`;
};

// ---------------------------------------------------------------------------------------------
// Reading the tool's declarations back (without Python: the layout the tool writes).

type Args = {positional: unknown[]; keywords: Map<string, unknown>; end: number};

/** `a, b, key=value)` from after the open paren; literals only. */
const parseArgs = (src: string, start: number): Args | undefined => {
	const positional: unknown[] = [];
	const keywords = new Map<string, unknown>();
	let i = skip(src, start);
	while (src[i] !== ')') {
		const key = /^([A-Za-z_]\w*)[ \t]*=(?!=)/.exec(src.slice(i));
		if (!key && keywords.size > 0) return undefined;
		const parsed = parseLiteral(src, key ? i + key[0].length : i);
		if (!parsed.ok) return undefined;
		if (key) keywords.set(key[1]!, parsed.value);
		else positional.push(parsed.value);
		i = skip(src, parsed.end);
		if (src[i] === ',') i = skip(src, i + 1);
		else if (src[i] !== ')') return undefined;
	}
	return {positional, keywords, end: i + 1};
};

/** A tuple's items (parseLiteral keeps tuples as their Python repr). */
const tupleItems = (value: unknown): unknown[] | undefined => {
	if (!(value instanceof PyLiteral) || !value.repr.startsWith('(')) return undefined;
	const parsed = parseLiteral(`[${value.repr.slice(1, -1)}]`, 0);
	return parsed.ok ? (parsed.value as unknown[]) : undefined;
};

const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every(item => typeof item === 'string');

/** Only the keywords in `allowed`; undefined when another is given. */
const only = (args: Args, allowed: string[]): boolean => [...args.keywords.keys()].every(key => allowed.includes(key));

const PIP_KEYWORDS = ['index_url', 'extra_index_urls', 'pre', 'extra_args'];

const pipOptions = (keywords: Map<string, unknown>): PipOptions | undefined => {
	const options: PipOptions = {};
	const index = keywords.get('index_url');
	if (index !== undefined && index !== null) {
		if (typeof index !== 'string') return undefined;
		options.indexUrl = index;
	}
	const extra = keywords.get('extra_index_urls');
	if (extra !== undefined && extra !== null) {
		// flyte's _ensure_tuple: a string is one URL.
		const urls = typeof extra === 'string' ? [extra] : (tupleItems(extra) ?? extra);
		if (!isStrings(urls)) return undefined;
		if (urls.length > 0) options.extraIndexUrls = urls;
	}
	const pre = keywords.get('pre');
	if (pre !== undefined && typeof pre !== 'boolean') return undefined;
	if (pre) options.pre = true;
	const extraArgs = keywords.get('extra_args');
	if (extraArgs !== undefined && extraArgs !== null) {
		if (typeof extraArgs !== 'string') return undefined;
		options.extraArgs = extraArgs;
	}
	return options;
};

const readLayer = (method: string, args: Args): FlyteLayer | undefined => {
	switch (method) {
		case 'with_pip_packages':
		case 'with_requirements': {
			if (!only(args, PIP_KEYWORDS)) return undefined;
			const options = pipOptions(args.keywords);
			if (!options || !isStrings(args.positional)) return undefined;
			if (method === 'with_pip_packages') return {kind: 'pip_packages', packages: args.positional, ...options};
			return args.positional.length === 1 ? {kind: 'requirements', file: args.positional[0]!, ...options} : undefined;
		}
		case 'with_apt_packages': {
			return args.keywords.size === 0 && isStrings(args.positional) ? {kind: 'apt_packages', packages: args.positional} : undefined;
		}
		case 'with_env_vars': {
			const [env] = args.positional;
			if (args.keywords.size > 0 || args.positional.length !== 1 || !(env instanceof Map)) return undefined;
			if (![...env.entries()].every(([key, value]) => typeof key === 'string' && typeof value === 'string')) return undefined;
			return {kind: 'env_vars', env: Object.fromEntries(env as Map<string, string>)};
		}
		case 'with_commands': {
			const [commands] = args.positional;
			const list = typeof commands === 'string' ? [commands] : (tupleItems(commands) ?? commands);
			return args.keywords.size === 0 && args.positional.length === 1 && isStrings(list) ? {kind: 'commands', commands: list} : undefined;
		}
		default: {
			return undefined;
		}
	}
};

/** registry=, name=, platform= as the base call or clone gives them. */
const naming = (keywords: Map<string, unknown>): (Pick<FlyteImage, 'registry' | 'platform'> & {name?: string}) | undefined => {
	const out: Pick<FlyteImage, 'registry' | 'platform'> & {name?: string} = {};
	for (const key of ['registry', 'name'] as const) {
		const value = keywords.get(key);
		if (value === undefined || value === null) continue;
		if (typeof value !== 'string') return undefined;
		out[key] = value;
	}
	const platform = keywords.get('platform');
	if (platform !== undefined && platform !== null) {
		const items = typeof platform === 'string' ? [platform] : tupleItems(platform);
		if (!isStrings(items)) return undefined;
		out.platform = items;
	}
	return out;
};

/** The image a declaration's expression builds, or undefined when it uses anything else. */
export const readFlyteExpression = (src: string): FlyteImage | undefined => {
	let i = skip(src, 0);
	const head = /^flyte\.Image\.(from_debian_base|from_base)\(/.exec(src.slice(i));
	if (!head) return undefined;
	const args = parseArgs(src, i + head[0].length);
	if (!args) return undefined;
	i = skip(src, args.end);
	let base: FlyteBase;
	let names: ReturnType<typeof naming>;
	if (head[1] === 'from_debian_base') {
		if (args.positional.length > 0 || !only(args, ['python_version', 'flyte_version', 'registry', 'name', 'platform'])) return undefined;
		const version = tupleItems(args.keywords.get('python_version'));
		if (version?.length !== 2 || !version.every(item => Number.isInteger(item))) return undefined;
		const flyteVersion = args.keywords.get('flyte_version');
		if (flyteVersion !== undefined && typeof flyteVersion !== 'string') return undefined;
		base = {kind: 'debian', pythonVersion: version as [number, number], ...(flyteVersion === undefined ? {} : {flyteVersion})};
		names = naming(args.keywords);
	} else {
		const [uri] = args.positional;
		if (args.positional.length !== 1 || args.keywords.size > 0 || typeof uri !== 'string') return undefined;
		base = {kind: 'base', uri};
		const clone = /^\.clone\(/.exec(src.slice(i));
		if (!clone) return undefined;
		const cloneArgs = parseArgs(src, i + clone[0].length);
		if (!cloneArgs || cloneArgs.positional.length > 0 || !only(cloneArgs, ['registry', 'name', 'platform', 'extendable'])) return undefined;
		if (cloneArgs.keywords.get('extendable') !== true) return undefined;
		names = naming(cloneArgs.keywords);
		i = skip(src, cloneArgs.end);
	}
	if (!names?.name) return undefined;
	const layers: FlyteLayer[] = [];
	while (i < src.length) {
		const method = /^\.(\w+)\(/.exec(src.slice(i));
		if (!method) return undefined;
		const layerArgs = parseArgs(src, i + method[0].length);
		const layer = layerArgs && readLayer(method[1]!, layerArgs);
		if (!layer || !layerArgs) return undefined;
		layers.push(layer);
		i = skip(src, layerArgs.end);
	}
	return {
		name: names.name,
		...(names.registry === undefined ? {} : {registry: names.registry}),
		...(names.platform === undefined ? {} : {platform: names.platform}),
		base,
		layers,
	};
};

export type FlyteDeclaration = {
	variable: string;
	/** Undefined when the declaration holds anything the tool does not write: then it is never rewritten. */
	image?: FlyteImage;
	/** `name=` as written, even when the rest cannot be read. */
	name?: string;
	/** Offsets: from the start of `VAR = (` to after the `)` line. */
	start: number;
	end: number;
	text: string;
};

const START_LINE = /^([A-Za-z_]\w*)[ \t]*=[ \t]*\([ \t]*\r?$/;

/**
 * The tool's declarations: a line at column 0 `VAR = (` whose next line calls
 * `flyte.Image.from_...`, then indented or blank lines, up to the first line that is exactly `)`.
 */
export const readFlyteDeclarations = (content: string): FlyteDeclaration[] => {
	const declarations: FlyteDeclaration[] = [];
	const lines = content.split('\n');
	let offset = 0;
	for (let index = 0; index < lines.length; index++) {
		const line = lines[index]!;
		const lineStart = offset;
		offset += line.length + 1;
		const start = START_LINE.exec(line);
		if (!start || !/^[ \t]+flyte\.Image\.from_/.test(lines[index + 1] ?? '')) continue;
		let end = index + 1;
		while (end < lines.length && lines[end]!.replace(/\r$/, '') !== ')' && (/^[ \t]/.test(lines[end]!) || lines[end]!.trim() === '')) end++;
		if (lines[end]?.replace(/\r$/, '') !== ')') continue;
		const blockEnd = lines.slice(0, end + 1).join('\n').length + (end + 1 < lines.length ? 1 : 0);
		const inner = lines.slice(index + 1, end).join('\n');
		const image = readFlyteExpression(inner);
		const name = image?.name ?? /\bname\s*=\s*["']([^"'\n]*)["']/.exec(inner)?.[1];
		declarations.push({
			variable: start[1]!,
			...(image ? {image} : {}),
			...(name === undefined ? {} : {name}),
			start: lineStart,
			end: blockEnd,
			text: content.slice(lineStart, blockEnd),
		});
		for (; index < end; index++) offset += lines[index + 1]!.length + 1;
	}
	return declarations;
};

/** A line `ENV = flyte.TaskEnvironment(..., image=VAR, ...)`, as the tool writes it under a declaration: group 1 is ENV. */
const environmentLine = (imageVariable: string, flags = ''): RegExp =>
	new RegExp(`^([A-Za-z_]\\w*)[ \\t]*=[ \\t]*flyte\\.TaskEnvironment\\([^\\n]*\\bimage=${imageVariable}\\b[^\\n]*\\n`, flags);

/** The TaskEnvironment the module binds to `imageVariable` on one line (read without Python), if any. */
export const environmentOf = (content: string, imageVariable: string): string | undefined => environmentLine(imageVariable, 'm').exec(content)?.[1];

/** The declaration text of the image named `name`, to tell whether someone changed it meanwhile. */
export const flyteDeclarationOf = (content: string | undefined, name: string): string | undefined =>
	content === undefined ? undefined : readFlyteDeclarations(content).find(declaration => declaration.name?.toLowerCase() === name.toLowerCase())?.text;

export type FlyteModulePlan =
	| (ModulePlan & {environment?: string})
	/** The tool's declaration for this image was edited by hand: it is not rewritten; the snippet is what it would write. */
	| {kind: 'edited'; snippet: string; variable: string; line: number};

/**
 * How to put `image` into the module, as planModuleUpdate does for ImageSpec. A declaration is
 * replaced only while it is exactly what the tool writes for what it reads from it (a hand-edited
 * one, with a comment or a call the tool does not write, is left alone and named).
 */
export const planFlyteModuleUpdate = (existing: string | undefined, image: FlyteImage): FlyteModulePlan => {
	if (existing === undefined) {
		const variable = variableName(image.name);
		return {kind: 'create', content: renderFlyteModule([image]), variable, environment: environmentVariable(variable)};
	}
	const taken = topLevelNames(existing);
	if (!isManagedModule(existing)) {
		const variable = uniqueVariable(variableName(image.name), taken);
		const env = renderFlyteEnvironment(image, variable, new Set([...taken, variable]));
		return {
			kind: 'unmanaged',
			snippet: renderFlyteDeclaration(image, variable) + env.text,
			importLine: 'import flyte',
			hasImport: /^import flyte\b/m.test(existing),
			variable,
			environment: env.variable,
		};
	}
	const eol = /\r\n/.test(existing) ? '\r\n' : '\n';
	const withEol = (text: string) => (eol === '\n' ? text : text.replaceAll('\n', eol));
	const declarations = readFlyteDeclarations(existing);
	const match = declarations.find(declaration => declaration.name?.toLowerCase() === image.name.toLowerCase());
	if (match) {
		const line = existing.slice(0, match.start).split('\n').length;
		if (!match.image || withEol(renderFlyteDeclaration(match.image, match.variable)) !== match.text) {
			return {kind: 'edited', snippet: renderFlyteDeclaration(image, match.variable), variable: match.variable, line};
		}
		const text = withEol(renderFlyteDeclaration(image, match.variable));
		if (text === match.text) return {kind: 'unchanged', content: existing, previous: existing, variable: match.variable};
		return {kind: 'update', content: existing.slice(0, match.start) + text + existing.slice(match.end), previous: existing, variable: match.variable};
	}
	const variable = uniqueVariable(variableName(image.name), taken);
	const env = renderFlyteEnvironment(image, variable, new Set([...taken, variable]));
	const addition = withEol(renderFlyteDeclaration(image, variable) + env.text);
	const last = declarations.at(-1);
	let at = existing.length;
	if (last) {
		// After the last declaration and the environment line the tool wrote under it.
		const next = environmentLine(last.variable).exec(existing.slice(last.end));
		at = last.end + (next?.[0].length ?? 0);
	}
	const before = existing.slice(0, at);
	const ending = before === '' || before.endsWith('\n') ? '' : eol;
	const content = `${before}${ending}${eol}${addition}${existing.slice(at)}`;
	return {kind: 'add', content, previous: existing, variable, environment: env.variable};
};
