import {createHash} from 'node:crypto';
import {opendir, readFile, stat} from 'node:fs/promises';
import {readRegularFile} from './file-safety.js';
import path from 'node:path';
import {StepError, UsageError} from './errors.js';
import {checkRequirement, splitRequirements} from './pep508.js';

/**
 * A value whose Python repr is known as text: what the Python reader saw for values JSON cannot
 * carry (an enum member, a tuple, a float). pyRepr renders it verbatim.
 */
export class PyLiteral {
	constructor(readonly repr: string) {}
}

/** flytekit's CopyFileDetection members (source_copy_mode). */
export type CopyMode = 'LOADED_MODULES' | 'ALL' | 'NO_COPY';

/**
 * Every field of flytekit's ImageSpec dataclass (v1.16), flytekit's names. The wizard authors a
 * subset (AUTHORED_FIELDS); the rest are read from a team's module and must survive untouched.
 */
export type ImageSpec = {
	name: string;
	python_version?: string;
	builder?: string;
	source_root?: string;
	env?: Record<string, string>;
	registry?: string;
	packages?: string[];
	conda_packages?: string[];
	conda_channels?: string[];
	/** A path relative to the folder `union`/`pyflyte` runs in (flytekit resolves it against the cwd). */
	requirements?: string;
	apt_packages?: string[];
	cuda?: string;
	cudnn?: string;
	/** A reference, or another ImageSpec (layered images): hashed as that spec's full image name. */
	base_image?: string | ImageSpec;
	platform?: string;
	pip_index?: string;
	pip_extra_index_url?: string[];
	pip_secret_mounts?: Array<[string, string]>;
	pip_extra_args?: string;
	registry_config?: string;
	entrypoint?: string[];
	commands?: string[];
	tag_format?: string;
	source_copy_mode?: CopyMode;
	copy?: string[];
	python_exec?: string;
	runtime_packages?: string[];
	/** Builder-specific values, any Python value (PyLiteral where JSON cannot say it). */
	builder_options?: Record<string, unknown>;
	builder_config?: Record<string, unknown>;
};

export type SpecField = keyof ImageSpec;

/** flytekit's declaration order: the hash input and the rendered module follow it. */
export const FLYTEKIT_FIELD_ORDER = [
	'name',
	'python_version',
	'builder',
	'source_root',
	'env',
	'registry',
	'packages',
	'conda_packages',
	'conda_channels',
	'requirements',
	'apt_packages',
	'cuda',
	'cudnn',
	'base_image',
	'platform',
	'pip_index',
	'pip_extra_index_url',
	'pip_secret_mounts',
	'pip_extra_args',
	'registry_config',
	'entrypoint',
	'commands',
	'tag_format',
	'source_copy_mode',
	'copy',
	'python_exec',
	'runtime_packages',
	'builder_options',
	'builder_config',
] as const;

/** The subset the wizard authors, in flytekit order. */
export const SPEC_FIELDS: readonly SpecField[] = FLYTEKIT_FIELD_ORDER.filter((field): field is SpecField =>
	(
		[
			'name',
			'python_version',
			'builder',
			'env',
			'registry',
			'packages',
			'requirements',
			'apt_packages',
			'base_image',
			'platform',
			'pip_index',
			'pip_extra_index_url',
			'commands',
			'tag_format',
		] as string[]
	).includes(field),
);

/** Fields flytekit leaves out of the tag. */
export const UNHASHED_FIELDS: ReadonlySet<string> = new Set<string>(['builder', 'pip_secret_mounts', 'runtime_packages']);

export const DEFAULT_PLATFORM = 'linux/amd64';
export const SUPPORTED_PYTHON_VERSIONS = ['3.9', '3.10', '3.11', '3.12', '3.13'] as const;

export const defaultBaseImage = (pythonVersion: string): string => `ghcr.io/flyteorg/flytekit:py${pythonVersion}-latest`;

/** The Artifact Registry Docker host of a location (`us-central1-docker.pkg.dev`), or the override when one is set. */
export const registryHostOfLocation = (location: string, hostOverride?: string): string =>
	hostOverride ? hostOverride.toLowerCase() : `${location.toLowerCase()}-docker.pkg.dev`;

/** Domain-scoped projects (`example.com:proj`) appear in image paths as `example.com/proj`. */
export const projectPath = (project: string): string => project.toLowerCase().replace(':', '/');

export const composeRegistry = (parts: {location: string; project: string; repository: string; hostOverride?: string}): string =>
	`${registryHostOfLocation(parts.location, parts.hostOverride)}/${projectPath(parts.project)}/${parts.repository.toLowerCase()}`;

/** The inverse of composeRegistry for `*-docker.pkg.dev` registries; extra path segments are kept in `rest`. */
export const parseGarRegistry = (registry: string): {location: string; project: string; repository: string; rest?: string} | undefined => {
	const match = /^([a-z0-9-]+)-docker\.pkg\.dev\/(?:([a-z0-9.-]+\.[a-z]{2,})\/)?([a-z0-9-]+)\/([a-z0-9-]+)(?:\/(.+))?$/.exec(registry.toLowerCase());
	if (!match) return undefined;
	const [, location = '', domain, project = '', repository = '', rest] = match;
	return {location, project: domain ? `${domain}:${project}` : project, repository, ...(rest ? {rest} : {})};
};

// Docker reference grammar (distribution/reference).
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const NAME_TOTAL_MAX = 255;
// flytekit's validate_container_registry_name (Python's \w is wider, but docker rejects those names anyway).
const FLYTEKIT_REGISTRY = /^(localhost:\d{1,5}|([a-z\d._-]+)(:\d{1,5})?)(\/[\w.-]+)*$/;

const validDomain = (domain: string): boolean => {
	const [host = '', port, ...more] = domain.split(':');
	if (more.length > 0 || (port !== undefined && !/^\d{1,5}$/.test(port))) return false;
	return host.split('.').every(part => DOMAIN_COMPONENT.test(part));
};

/** Why a registry string is unusable, or undefined when flytekit and docker accept it. */
export const validateRegistry = (registry: string): string | undefined => {
	if (registry.trim() === '') return 'must not be empty: host/project/repository, e.g. us-central1-docker.pkg.dev/my-project/my-repo';
	if (/^[a-z][a-z0-9+.-]*:\/\//i.test(registry)) return 'no scheme: drop the https:// (flytekit: "Invalid container registry name")';
	if (/\s/.test(registry)) return 'no spaces';
	if (registry.endsWith('/')) return 'no trailing slash';
	if (registry !== registry.toLowerCase()) return 'must be lowercase';
	if (registry.includes('@')) return 'no digest: the registry is host/project/repository only';
	const [domain = '', ...segments] = registry.split('/');
	if (segments.some(segment => segment.includes(':'))) return 'no tag: the tag is computed from the spec, the registry is host/project/repository only';
	if (segments.some(segment => segment === '')) return 'no empty path segment (//)';
	if (!FLYTEKIT_REGISTRY.test(registry))
		return 'host[:port]/path: only lowercase letters, digits, ".", "_" and "-" (flytekit: "Invalid container registry name")';
	if (!validDomain(domain)) return `"${domain}" is not a valid host: letters, digits and "-" between dots, optional :port`;
	const bad = segments.find(segment => !PATH_COMPONENT.test(segment));
	if (bad !== undefined) return `path segment "${bad}" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`;
	return undefined;
};

/** Why an image name is unusable: docker path components, nested a/b allowed. */
export const validateImageName = (name: string): string | undefined => {
	if (name.trim() === '') return 'must not be empty';
	if (/\s/.test(name)) return 'no spaces';
	if (name !== name.toLowerCase()) return 'must be lowercase';
	if (name.includes(':') || name.includes('@')) return 'no tag or digest: the tag is computed from the spec';
	if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return 'no leading, trailing or double "/"';
	if (name.length > NAME_TOTAL_MAX) return `at most ${NAME_TOTAL_MAX} characters`;
	const bad = name.split('/').find(component => !PATH_COMPONENT.test(component));
	if (bad !== undefined)
		return `"${bad}": lowercase letters and digits, separated by ".", "_", "__" or "-" (each "/" part starts and ends with a letter or digit)`;
	return undefined;
};

export const validatePythonVersion = (v: string): string | undefined => {
	if (!/^\d+\.\d+$/.test(v)) return 'major.minor, e.g. 3.11';
	if (!(SUPPORTED_PYTHON_VERSIONS as readonly string[]).includes(v)) return `one of ${SUPPORTED_PYTHON_VERSIONS.join(', ')}`;
	return undefined;
};

const PLATFORM = /^linux\/(?:amd64|arm64(?:\/v8)?|arm\/v[67]|386|ppc64le|s390x|riscv64)$/;

export const validatePlatform = (platform: string): string | undefined => {
	if (/\s/.test(platform)) return 'no spaces: a comma list like linux/amd64,linux/arm64';
	const items = platform.split(',');
	const bad = items.find(item => !PLATFORM.test(item));
	if (bad !== undefined) return `"${bad}" is not a build platform: use linux/amd64 (cluster nodes) or linux/arm64, comma-separated`;
	if (new Set(items).size !== items.length) return 'duplicate platform';
	return undefined;
};

/** Validates a docker reference such as a base image: [host[:port]/]path[:tag][@digest]. */
export const validateImageReference = (reference: string): string | undefined => {
	if (reference.trim() === '') return 'must not be empty';
	if (/^[a-z][a-z0-9+.-]*:\/\//i.test(reference)) return 'no scheme: drop the https://';
	if (/\s/.test(reference)) return 'no spaces';
	let rest = reference;
	const at = rest.indexOf('@');
	if (at !== -1) {
		if (!DIGEST.test(rest.slice(at + 1))) return 'digest must look like sha256:<64 hex>';
		rest = rest.slice(0, at);
	}
	const slash = rest.lastIndexOf('/');
	const colon = rest.lastIndexOf(':');
	if (colon > slash) {
		if (!TAG.test(rest.slice(colon + 1))) return 'tag: letters, digits, "_", "." and "-", at most 128, not starting with "." or "-"';
		rest = rest.slice(0, colon);
	}
	if (rest.length > NAME_TOTAL_MAX) return `name at most ${NAME_TOTAL_MAX} characters`;
	const parts = rest.split('/');
	const first = parts[0] ?? '';
	if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
		if (!validDomain(first)) return `"${first}" is not a valid host`;
		parts.shift();
	}
	const bad = parts.find(component => !PATH_COMPONENT.test(component));
	if (bad !== undefined) return `"${bad}": lowercase letters and digits, separated by ".", "_", "__" or "-"`;
	return undefined;
};

// PEP 508 name, then what may follow it: extras, version specifiers, a marker or a direct URL.
const PACKAGE_NAME = /^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])(?=$|[\s[(<>=!~;@])/;

export const normalizePackageName = (name: string): string => name.toLowerCase().replace(/[-_.]+/g, '-');

/** The PEP 503 normalized project name of a requirement, or undefined for a bare URL/path. */
export const packageName = (requirement: string): string | undefined => {
	const match = PACKAGE_NAME.exec(requirement.trim());
	return match?.[1] === undefined ? undefined : normalizePackageName(match[1]);
};

/** A `packages` entry: PEP 508 as packaging reads it, or a direct URL pip and uv install without a name. */
export const validatePackage = (requirement: string): string | undefined => {
	if (/^(?:git\+|hg\+|svn\+|bzr\+)?(?:https?|file|ssh):\/\/\S+$/.test(requirement.trim())) return undefined;
	return checkRequirement(requirement);
};

/** The first entry of a comma-separated package list that is not a package, with why; undefined when all are. */
export const packagesProblem = (value: string): string | undefined => {
	for (const item of splitRequirements(value)) {
		const why = validatePackage(item);
		if (why) return `"${item.trim()}": ${why}`;
	}
	return undefined;
};

const APT_PACKAGE = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?(?:=[A-Za-z0-9.+~:-]+)?$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type SpecProblem = {field: string; value: string; rule: string};

const duplicates = (values: string[], key: (value: string) => string = value => value): string[] => {
	const seen = new Set<string>();
	const repeated: string[] = [];
	for (const value of values) {
		const k = key(value);
		if (seen.has(k)) repeated.push(value);
		seen.add(k);
	}
	return repeated;
};

/** Parses a Python str.format template that may only use {spec_hash}; throws on anything else. */
const formatTag = (tagFormat: string, specHashValue: string): string =>
	tagFormat.replace(/\{\{|\}\}|\{([^{}]*)\}|[{}]/g, (token, field: string | undefined) => {
		if (token === '{{') return '{';
		if (token === '}}') return '}';
		if (field === 'spec_hash') return specHashValue;
		throw new UsageError(
			field === undefined
				? `tag_format "${tagFormat}" has an unmatched "${token}" (write {{ or }} for a literal brace)`
				: `tag_format "${tagFormat}" may only use {spec_hash}, not {${field}}`,
			'tag_format',
		);
	});

const validateTagFormat = (tagFormat: string): string | undefined => {
	if (!tagFormat.includes('{spec_hash}')) return 'must contain {spec_hash}: without it every change reuses one tag and flytekit skips the build';
	let tag: string;
	try {
		tag = formatTag(tagFormat, 'x'.repeat(22));
	} catch (error) {
		return (error as Error).message;
	}
	if (!TAG.test(tag)) return 'the tag it gives must be letters, digits, "_", "." and "-", at most 128 characters, not starting with "." or "-"';
	return undefined;
};

const validateUrl = (url: string): string | undefined =>
	/^https?:\/\/[^\s/]+(?:\/\S*)?$/.test(url) ? undefined : 'an http(s) URL, e.g. https://pypi.org/simple';

/** Every problem in a spec the wizard is about to write, one entry per offending value. */
export const validateSpec = (spec: ImageSpec): SpecProblem[] => {
	const problems: SpecProblem[] = [];
	const add = (field: string, value: string, rule: string | undefined) => {
		if (rule !== undefined) problems.push({field, value, rule});
	};

	add('name', spec.name, validateImageName(spec.name));
	if (spec.python_version === undefined) {
		add('python_version', '', "set it: without it the build uses the builder machine's Python, which the tag does not capture");
	} else {
		add('python_version', spec.python_version, validatePythonVersion(spec.python_version));
	}
	if (spec.builder !== undefined)
		add('builder', spec.builder, /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(spec.builder) ? undefined : 'a builder name such as default or union');
	for (const [key, value] of Object.entries(spec.env ?? {})) {
		add('env', key, ENV_KEY.test(key) ? undefined : 'environment variable names are letters, digits and "_", not starting with a digit');
		add('env', `${key}=${value}`, /[\r\n\0]/.test(value) ? 'no line breaks or NUL in environment values' : undefined);
	}
	if (spec.registry !== undefined) {
		add('registry', spec.registry, validateRegistry(spec.registry));
		const full = `${spec.registry}/${spec.name}`;
		add('name', full, full.length > NAME_TOTAL_MAX ? `registry/name at most ${NAME_TOTAL_MAX} characters` : undefined);
	}
	for (const requirement of spec.packages ?? []) add('packages', requirement, validatePackage(requirement));
	for (const repeated of duplicates(spec.packages ?? [], value => packageName(value) ?? value.trim())) {
		add('packages', repeated, 'listed twice');
	}
	if (spec.requirements !== undefined) {
		const file = spec.requirements;
		add(
			'requirements',
			file,
			file.trim() === ''
				? 'a path to requirements.txt, uv.lock or poetry.lock'
				: path.isAbsolute(file) || /^[A-Za-z]:[\\/]/.test(file)
					? 'a relative path, so the module works for everyone who clones the project'
					: file.includes('\\')
						? 'use "/" in the path'
						: undefined,
		);
	}
	for (const pkg of spec.apt_packages ?? [])
		add('apt_packages', pkg, APT_PACKAGE.test(pkg) ? undefined : 'a Debian package name like git or libgomp1 (optionally =version)');
	for (const repeated of duplicates(spec.apt_packages ?? [], value => value.split('=')[0] ?? value)) add('apt_packages', repeated, 'listed twice');
	if (typeof spec.base_image === 'string') add('base_image', spec.base_image, validateImageReference(spec.base_image));
	if (spec.platform !== undefined) add('platform', spec.platform, validatePlatform(spec.platform));
	if (spec.pip_index !== undefined) add('pip_index', spec.pip_index, validateUrl(spec.pip_index));
	for (const url of spec.pip_extra_index_url ?? []) add('pip_extra_index_url', url, validateUrl(url));
	for (const repeated of duplicates(spec.pip_extra_index_url ?? [])) add('pip_extra_index_url', repeated, 'listed twice');
	for (const command of spec.commands ?? []) {
		add(
			'commands',
			command,
			command.trim() === ''
				? 'must not be empty'
				: /[\r\n]/.test(command)
					? 'one command per entry, no line breaks (join with &&)'
					: /\\\s*$/.test(command)
						? 'must not end with a backslash (the Dockerfile would join the next command to it)'
						: undefined,
		);
	}
	if (spec.tag_format !== undefined) add('tag_format', spec.tag_format, validateTagFormat(spec.tag_format));
	return problems;
};

// Python's str.isprintable(): categories Cc Cf Cs Co Cn Zl Zp Zs are not printable, except ' '.
// Node's Unicode tables are newer than Python's, so characters assigned after Unicode 14 may differ.
const NOT_PRINTABLE = /^[\p{C}\p{Z}]$/u;

const hex = (code: number, width: number): string => code.toString(16).padStart(width, '0');

/** Python's repr() of a str. `preferDouble` switches to black's quote choice for source code. */
export const pyStr = (value: string, options: {preferDouble?: boolean} = {}): string => {
	let quote: string;
	if (options.preferDouble) {
		// black: double quotes unless that needs more escapes than single quotes.
		const doubles = value.split('"').length - 1;
		const singles = value.split("'").length - 1;
		quote = doubles > singles ? "'" : '"';
	} else {
		quote = value.includes("'") && !value.includes('"') ? '"' : "'";
	}
	let out = quote;
	for (const ch of value) {
		const code = ch.codePointAt(0) ?? 0;
		if (ch === quote || ch === '\\') out += `\\${ch}`;
		else if (ch === '\t') out += '\\t';
		else if (ch === '\n') out += '\\n';
		else if (ch === '\r') out += '\\r';
		else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
		else if (code < 0x7f || ch === ' ') out += ch;
		else if (!NOT_PRINTABLE.test(ch)) out += ch;
		else if (code <= 0xff) out += `\\x${hex(code, 2)}`;
		else if (code <= 0xffff) out += `\\u${hex(code, 4)}`;
		else out += `\\U${hex(code, 8)}`;
	}
	return out + quote;
};

/** Python's repr() of a float (1.0, 1e+20, 0.0001): what str(dict) prints for it. */
export const pyFloat = (n: number): string => {
	if (Number.isNaN(n)) return 'nan';
	if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
	// Both languages print the shortest round-trip digits; only the layout differs.
	const [mantissa = '', exponentText = '0'] = n.toExponential().split('e');
	const exponent = Number(exponentText);
	const negative = mantissa.startsWith('-');
	const digits = mantissa.replace('-', '').replace('.', '');
	const sign = negative ? '-' : '';
	if (exponent < -4 || exponent >= 16) {
		const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
		return `${sign}${m}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
	}
	if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
	const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
	const fraction = digits.slice(exponent + 1);
	return `${sign}${whole}.${fraction || '0'}`;
};

/**
 * Python repr / str(dict) rendering. Integral numbers render as ints; a Map keeps any key order
 * (plain objects put integer-like keys first, Python dicts do not).
 */
export const pyRepr = (value: unknown): string => {
	if (value === null || value === undefined) return 'None';
	if (value instanceof PyLiteral) return value.repr;
	if (value === true) return 'True';
	if (value === false) return 'False';
	if (typeof value === 'string') return pyStr(value);
	if (typeof value === 'bigint') return value.toString();
	if (typeof value === 'number') {
		if (Number.isInteger(value)) return Math.abs(value) < 1e21 ? String(value) : BigInt(value).toString();
		return pyFloat(value);
	}
	if (Array.isArray(value)) return `[${value.map(item => pyRepr(item)).join(', ')}]`;
	const entries = value instanceof Map ? [...value.entries()] : Object.entries(value as Record<string, unknown>);
	return `{${entries.map(([key, item]) => `${pyRepr(key)}: ${pyRepr(item)}`).join(', ')}}`;
};

/** flytekit's CopyFileDetection values, for the enum's repr in the hash input. */
const COPY_MODE_VALUES: Record<CopyMode, number> = {LOADED_MODULES: 1, ALL: 2, NO_COPY: 3};

/** Renders like flytekit's enum member in str(dict): `<CopyFileDetection.NO_COPY: 3>`. */
export const copyModeLiteral = (mode: CopyMode): PyLiteral => new PyLiteral(`<CopyFileDetection.${mode}: ${COPY_MODE_VALUES[mode]}>`);

/**
 * The platform flytekit's __post_init__ settles on: the spec's own, else linux/amd64, or linux/arm64
 * for a localhost: registry on an arm64 machine (`arch` is Node's process.arch naming).
 */
export const effectivePlatform = (spec: Pick<ImageSpec, 'platform' | 'registry'>, arch: string): string => {
	if (spec.platform !== undefined && spec.platform !== null) return spec.platform;
	const registry = spec.registry ? spec.registry.toLowerCase() : '';
	return registry.startsWith('localhost:') && arch === 'arm64' ? 'linux/arm64' : DEFAULT_PLATFORM;
};

/** flytekit's __post_init__: a source_root without a copy mode means LOADED_MODULES. */
export const effectiveCopyMode = (spec: Pick<ImageSpec, 'source_root' | 'source_copy_mode'>): CopyMode | undefined =>
	spec.source_copy_mode ?? (spec.source_root === undefined || spec.source_root === null ? undefined : 'LOADED_MODULES');

/** The fields as flytekit's __post_init__ leaves them: name and a truthy registry lowercased, platform and copy mode set. */
export const postInitValues = (spec: ImageSpec, arch: string = process.arch): Record<string, unknown> => {
	const mode = effectiveCopyMode(spec);
	return {
		...spec,
		name: spec.name.toLowerCase(),
		registry: spec.registry ? spec.registry.toLowerCase() : spec.registry,
		platform: effectivePlatform(spec, arch),
		source_copy_mode: mode === undefined ? undefined : copyModeLiteral(mode),
	};
};

/** asdict() without None and without the fields flytekit never hashes, in declaration order (tag and id alike). */
export const hashedEntries = (values: Record<string, unknown>): Array<[string, unknown]> =>
	FLYTEKIT_FIELD_ORDER.filter(field => values[field] !== undefined && values[field] !== null && !UNHASHED_FIELDS.has(field)).map(field => [
		field,
		values[field],
	]);

/**
 * What flytekit's `tag` puts in place of a field before hashing: the nested base image's full
 * name, the requirements file's SHA-1, the copy entries' digest, the files under source_root.
 */
export type TagDigests = {requirements?: string; copy?: string; baseImage?: string; sourceRoot?: string};

/**
 * The hash input as ordered entries (Python dict order), with flytekit's replacements applied:
 * every dataclass field but builder / pip_secret_mounts / runtime_packages, None left out,
 * registry_config nulled, name and a truthy registry lowercased.
 */
export const hashEntries = (spec: ImageSpec, digests: TagDigests = {}, arch: string = process.arch): Array<[string, unknown]> => {
	const mode = effectiveCopyMode(spec);
	const values: Record<string, unknown> = {...postInitValues(spec, arch), registry_config: undefined};
	const need = (field: string, digest: string | undefined, what: string): string => {
		if (digest === undefined) throw new Error(`hashInput: ${field} is set, pass ${what}`);
		return digest;
	};
	if (typeof spec.base_image === 'object' && spec.base_image !== null) values.base_image = need('base_image', digests.baseImage, "the base spec's image name");
	if (mode === 'LOADED_MODULES' || mode === 'ALL') values.source_root = need('source_root', digests.sourceRoot, 'the digest of its files');
	if (spec.copy && spec.copy.length > 0) values.copy = need('copy', digests.copy, 'the digest of the copied files');
	if (spec.requirements) values.requirements = need('requirements', digests.requirements, 'the SHA-1 of its stripped content');
	return hashedEntries(values);
};

/** The exact str(dict) flytekit hashes for this spec. */
export const hashInput = (spec: ImageSpec, digests?: TagDigests, arch?: string): string => pyRepr(new Map(hashEntries(spec, digests, arch)));

/** flytekit's spec hash of a str(dict): MD5, URL-safe base64 without '=', '-' -> '_'. */
export const specHash = (hashInputString: string): string => createHash('md5').update(hashInputString, 'utf8').digest('base64url').replaceAll('-', '_');

/** Python bytes.strip(): ASCII whitespace only. */
const stripBytes = (bytes: Buffer): Buffer => {
	const isSpace = (byte: number) => byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
	let start = 0;
	let end = bytes.length;
	while (start < end && isSpace(bytes[start]!)) start++;
	while (end > start && isSpace(bytes[end - 1]!)) end--;
	return bytes.subarray(start, end);
};

export const requirementsDigest = (content: Buffer | string): string =>
	createHash('sha1')
		.update(stripBytes(Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8')))
		.digest('hex');

/** Python's str ordering (code points), not JavaScript's UTF-16 code units. */
const byCodePoint = (a: string, b: string): number => {
	const left = [...a];
	const right = [...b];
	for (let i = 0; i < Math.min(left.length, right.length); i++) {
		const diff = left[i]!.codePointAt(0)! - right[i]!.codePointAt(0)!;
		if (diff !== 0) return diff;
	}
	return left.length - right.length;
};

/**
 * flytekit's compute_digest(copy) (tools/fast_registration.py): MD5 over, per file, its bytes and
 * then its relative path with the separators removed. A folder is walked like os.walk: subfolders
 * in the order the file system lists them (not sorted), files sorted within each folder, symlinked
 * folders not entered; a missing path, a dangling link or a socket adds nothing. Entries resolve
 * against `baseDir` (the folder `union register` runs in).
 */
export const copyDigest = async (entries: readonly string[], baseDir: string): Promise<string> => {
	const hash = createHash('md5');
	const addFile = async (file: string, relative: string) => {
		const info = await stat(file).catch(() => undefined);
		if (!info || info.isSocket()) return;
		hash.update(await readFile(file));
		hash.update(relative.split(path.sep).join(''), 'utf8');
	};
	const isFolder = async (file: string) => (await stat(file).catch(() => undefined))?.isDirectory() === true;
	const walk = async (folder: string, root: string): Promise<void> => {
		const files: string[] = [];
		const folders: string[] = [];
		let listing;
		try {
			// opendir reads in the file system's order, as os.scandir does (readdir sorts).
			listing = await opendir(folder);
		} catch {
			// os.walk ignores folders it cannot list.
			return;
		}
		for await (const entry of listing) {
			const full = path.join(folder, entry.name);
			const folderEntry = entry.isSymbolicLink() ? await isFolder(full) : entry.isDirectory();
			if (!folderEntry) files.push(entry.name);
			// os.walk lists a symlinked folder but does not enter it (followlinks=False).
			else if (!entry.isSymbolicLink()) folders.push(entry.name);
		}
		files.sort(byCodePoint);
		for (const name of files) {
			const full = path.join(folder, name);
			await addFile(full, path.relative(root, full));
		}
		for (const name of folders) await walk(path.join(folder, name), root);
	};
	for (const entry of entries) {
		const full = path.resolve(baseDir, entry);
		if (await isFolder(full)) await walk(full, full);
		else await addFile(full, path.basename(entry));
	}
	return hash.digest('hex');
};

/** The tag for a hash, with tag_format applied the way Python's str.format does (only when truthy, as flytekit). */
export const tagFromHash = (hash: string, tagFormat?: string): string => (tagFormat ? formatTag(tagFormat, hash) : hash);

export type TagOptions = {
	/** Where `requirements` and `copy` resolve: the folder `union register`/`pyflyte` runs in. */
	baseDir: string;
	/** The machine's architecture (process.arch naming), for flytekit's localhost:+arm64 platform rule. */
	arch?: string;
	/**
	 * flytekit's own digest of the files under source_root (its ls_files) for source_copy_mode ALL,
	 * when the real flytekit computed it: the tool does not reimplement git's and docker's ignore rules.
	 */
	sourceRootDigest?: string;
};

/**
 * The tag flytekit will compute (ImageSpec.tag). StepError reasons: TAG_DEPENDS_ON_REGISTER (the
 * files `union register` ships decide it), TAG_NEEDS_FLYTEKIT (only flytekit can digest
 * source_root with ALL), REQUIREMENTS_UNREADABLE, TAG_FORMAT_INVALID.
 */
export const computeTag = async (spec: ImageSpec, options: TagOptions): Promise<string> => {
	const digests: TagDigests = {};
	const mode = effectiveCopyMode(spec);
	if (mode === 'LOADED_MODULES') {
		throw new StepError(
			`The tag of ${spec.name} depends on the Python files \`union register\` loads ` +
				`(source_copy_mode LOADED_MODULES${spec.source_copy_mode ? '' : ', the default with source_root'}); it cannot be known before registering.`,
			{
				fix: 'Set source_copy_mode=CopyFileDetection.NO_COPY (code ships with fast registration), or let `union register` build this image.',
				reason: 'TAG_DEPENDS_ON_REGISTER',
			},
		);
	}
	if (mode === 'ALL') {
		if (!spec.source_root) {
			throw new StepError(`The tag of ${spec.name} depends on the source root \`union register\` is given (source_copy_mode ALL without source_root).`, {
				fix: 'Set source_root= in the declaration, or let `union register` build this image.',
				reason: 'TAG_DEPENDS_ON_REGISTER',
			});
		}
		if (options.sourceRootDigest === undefined) {
			throw new StepError(`The tag of ${spec.name} digests every file under source_root after git's and .dockerignore's rules (source_copy_mode ALL).`, {
				fix: 'Install flytekit (or union) in the Python on PATH, so the tool asks flytekit for that digest.',
				reason: 'TAG_NEEDS_FLYTEKIT',
			});
		}
		digests.sourceRoot = options.sourceRootDigest;
	}
	if (typeof spec.base_image === 'object' && spec.base_image !== null) {
		const base = spec.base_image;
		digests.baseImage = imageUri(base, await computeTag(base, {baseDir: options.baseDir, arch: options.arch}));
	}
	if (spec.copy && spec.copy.length > 0) digests.copy = await copyDigest(spec.copy, options.baseDir);
	if (spec.requirements) {
		const file = path.resolve(options.baseDir, spec.requirements);
		let content: Buffer;
		try {
			// Non-blocking open: a FIFO named as requirements must not hang the run.
			const bytes = await readRegularFile(file);
			if (bytes === undefined) throw new Error('no such file');
			content = bytes;
		} catch (error) {
			throw new StepError(`Cannot read the requirements file ${file}: ${(error as Error).message}`, {
				fix: `Create ${spec.requirements} next to the ImageSpec module, or change requirements= to its path.`,
				reason: 'REQUIREMENTS_UNREADABLE',
				cause: error,
			});
		}
		digests.requirements = requirementsDigest(content);
	}
	const hash = specHash(hashInput(spec, digests, options.arch));
	try {
		return tagFromHash(hash, spec.tag_format);
	} catch (error) {
		// Python's str.format knows more ({spec_hash:.8}, {spec_hash!r}) than the tool repeats.
		throw new StepError(`tag_format of ${spec.name}: ${(error as Error).message}`, {
			fix: 'Write the tag format as text around {spec_hash}, or install flytekit (or union) so the tool asks flytekit.',
			reason: 'TAG_FORMAT_INVALID',
			cause: error,
		});
	}
};

/** The image the cluster will pull: `${registry}/${name}:${tag}`, or `name:tag` without a registry. */
export const imageUri = (spec: ImageSpec, tag: string): string => {
	const name = spec.name.toLowerCase();
	return spec.registry ? `${spec.registry.toLowerCase()}/${name}:${tag}` : `${name}:${tag}`;
};
