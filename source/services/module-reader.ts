/**
 * Reads every ImageSpec a team's module declares, as `union register` would see it, and the tag
 * flytekit gives each.
 *
 * Entry point: `readModuleSpecs(ctx, {moduleFile, folder})` →
 * `{via, missing?, specs: [{variable, variables, spec, tag?, uri?, sdkUri?, problem?}]}`.
 * - `via: 'flytekit'`: a Python 3 on PATH imports flytekit (or union). The module runs in a
 *   subprocess as `union register` loads it (the top folder of its package on sys.path, cwd =
 *   `folder`, where flytekit resolves relative `requirements` and `copy` paths), with the real
 *   ImageSpec class. `sdkUri` is flytekit's own `image_name()`; the tool's `uri` must equal it,
 *   else the whole read fails with a StepError (reason TAG_MISMATCH) naming both.
 * - `via: 'stand-in'`: a Python 3 without flytekit. The same run with the recording stand-in
 *   (python-stand-in.ts) injected as `flytekit` / `union`; the tool computes the tags.
 * - `via: 'literal'`: no Python at all. spec-module.ts reads literal declarations and module-level
 *   names bound to literals; a field it cannot read leaves that spec without a tag and with a
 *   `problem` naming the field and what to install.
 * `specs` lists module globals in definition order (one entry per object; `variables` has every
 * name bound to it), then nested base images no global names (`variable` `app_image.base_image`).
 * `spec` has every field flytekit's dataclass holds after its __post_init__ (None fields left out).
 * A spec whose tag cannot be told carries `problem` (a StepError: TAG_DEPENDS_ON_REGISTER,
 * TAG_NEEDS_FLYTEKIT, REQUIREMENTS_UNREADABLE, FIELD_UNREADABLE...) so one odd spec does not hide
 * the others. A module that raises is one StepError (reason MODULE_FAILED): `file:line: Error: msg`.
 * With the stand-in, a third-party module the team's module imports but this Python lacks (pandas
 * for a task signature) is replaced by a placeholder and listed in `missing`; a spec field built
 * from one gets a problem (FIELD_FROM_MISSING_MODULE), never a tag.
 *
 * The Python side encodes each field value as JSON, tagged where JSON cannot say it: str, int,
 * bool, None and list as themselves; dict as {"$dict": [[k, v], ...]} (key order kept); a nested
 * ImageSpec as {"$spec": index}; an enum as {"$enum", "member", "repr"}; a path as {"$path",
 * "repr"}; anything else (float, tuple, big int, objects) as {"$repr": repr(value)}, which is
 * exactly what flytekit's str(dict) prints for it.
 */
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import type {ServiceContext} from './context.js';
import {StepError} from './errors.js';
import {FLYTEKIT_FIELD_ORDER, PyLiteral, computeTag, imageUri, type CopyMode, type ImageSpec} from './imagespec.js';
import {findPython, runModuleReader} from './python.js';
import {READER, STAND_IN} from './python-stand-in.js';
import {readLiteralSpecs} from './spec-module.js';

export type ReadSpec = {
	/** The first name the module binds it to, or `<parent>.base_image` for an unnamed base. */
	variable: string;
	variables: string[];
	spec: ImageSpec;
	tag?: string;
	/** The image the cluster pulls: registry/name:tag. */
	uri?: string;
	/** flytekit's own image_name(), when flytekit answered. */
	sdkUri?: string;
	problem?: StepError;
};

export type ModuleSpecs = {
	via: 'flytekit' | 'stand-in' | 'literal';
	/** Modules the team's module imports that this Python lacks (stand-in only): placeholders stood in. */
	missing?: string[];
	specs: ReadSpec[];
};

export type ReadModuleOptions = {
	moduleFile: string;
	/** The project folder `union register` runs in. */
	folder: string;
	/** The Python to run; default python3/python on PATH. `false`: read literals only. */
	python?: string | false;
	/** Milliseconds for the module to load (default 120 s: importing flytekit and the team's imports). */
	timeout?: number;
};

const MARK = 'IMAGESPEC_GAR_SPECS ';

type Encoded = null | boolean | number | string | Encoded[] | {[key: string]: Encoded};
type Where = {file: string; line: number | null; message: string};
type Record_ = {
	variables: string[];
	fields: Array<[string, Encoded]>;
	image_name?: string;
	source_root_digest?: string;
	sdk_error?: Where;
	/** Fields holding a value from a module this Python lacks (a stand-in placeholder). */
	placeholders?: string[];
};
type ReaderOutput = {broken: string} | {error: Where} | {via: 'flytekit' | 'stand-in'; sdk_version: string | null; missing: string[]; specs: Record_[]};

const describe = (where: Where, folder: string): string => {
	const file = path.isAbsolute(where.file) ? path.relative(folder, where.file) || where.file : where.file;
	return `${file}${where.line === null ? '' : `:${where.line}`}: ${where.message}`;
};

const INTEGER_KEY = /^(?:0|[1-9]\d*)$/;

/** Decodes one tagged value; `field` decides how a path reads (a path to open, or a repr to hash). */
const decode = (value: Encoded, field: string, specs: (index: number) => ImageSpec): unknown => {
	if (value === null || typeof value !== 'object') return value;
	if (Array.isArray(value)) return value.map(item => decode(item, field, specs));
	if ('$repr' in value) return new PyLiteral(String(value.$repr));
	if ('$spec' in value) return specs(Number(value.$spec));
	if ('$enum' in value) {
		return field === 'source_copy_mode' && value.$enum === 'CopyFileDetection' ? (value.member as CopyMode) : new PyLiteral(String(value.repr));
	}
	// flytekit opens requirements and copy entries; elsewhere a path is hashed by its repr.
	if ('$path' in value) return field === 'requirements' || field === 'copy' ? String(value.$path) : new PyLiteral(String(value.repr));
	const entries = (value.$dict as Array<[Encoded, Encoded]>).map(([key, item]) => [decode(key, field, specs), decode(item, field, specs)] as const);
	// A plain object keeps insertion order only for non-integer string keys; a Map keeps any.
	const plain = entries.every(([key]) => typeof key === 'string' && !INTEGER_KEY.test(key));
	return plain ? Object.fromEntries(entries) : new Map(entries);
};

const decodeSpecs = (records: Record_[]): ImageSpec[] => {
	const decoded: Array<ImageSpec | undefined> = [];
	const at = (index: number): ImageSpec => {
		const known = decoded[index];
		if (known) return known;
		const spec: Record<string, unknown> = {};
		for (const [field, value] of records[index]!.fields) {
			if (value !== null) spec[field] = decode(value, field, at);
		}
		decoded[index] = spec as ImageSpec;
		return spec as ImageSpec;
	};
	return records.map((_, index) => at(index));
};

const runReader = async (ctx: ServiceContext, python: string, options: ReadModuleOptions): Promise<ReaderOutput> =>
	runModuleReader<ReaderOutput>(ctx, python, {script: READER, mark: MARK, input: STAND_IN, ...options});

const tagOf = async (ctx: ServiceContext, spec: ImageSpec, folder: string, sourceRootDigest?: string): Promise<Pick<ReadSpec, 'tag' | 'uri' | 'problem'>> => {
	try {
		const tag = await computeTag(spec, {baseDir: folder, arch: ctx.platform.arch, sourceRootDigest});
		return {tag, uri: imageUri(spec, tag)};
	} catch (error) {
		if (error instanceof StepError) return {problem: error};
		throw error;
	}
};

const fieldsNamed = (records: Record_[]): string[] => records.flatMap(record => record.fields.map(([field]) => field));

type Ahead = {key: string; content: string | undefined; read: Promise<ModuleSpecs>};
const aheads = new WeakMap<NodeJS.ProcessEnv, Ahead>();
const aheadKey = (options: ReadModuleOptions) => JSON.stringify([path.resolve(options.moduleFile), path.resolve(options.folder), options.python ?? null]);

/**
 * Starts the read a later step will ask for (a run without questions reads the module it edits),
 * while earlier work runs, or hands on a read the caller needs now too (a newcomer's setup comes
 * from the module). Taken by the next readModuleSpecs with the same options, once, and only while
 * the module holds the text this read started from: the same read, started sooner. Any other case
 * reads afresh. Dropped by dropReadAhead at the run's end.
 */
export const readModuleSpecsAhead = async (ctx: ServiceContext, options: ReadModuleOptions): Promise<ModuleSpecs> => {
	const started = aheads.get(ctx.platform.env);
	if (started?.key === aheadKey(options)) return started.read;
	const content = readFile(options.moduleFile, 'utf8').catch(() => undefined);
	const read = content.then(async () => readFresh(ctx, options));
	// Nobody may take it: its failure is the taker's to see, or nobody's.
	read.catch(() => undefined);
	aheads.set(ctx.platform.env, {key: aheadKey(options), content: undefined, read});
	void content.then(text => {
		const entry = aheads.get(ctx.platform.env);
		if (entry?.read === read) entry.content = text;
	});
	return read;
};

export const dropReadAhead = (ctx: ServiceContext): void => {
	aheads.delete(ctx.platform.env);
};

const takeAhead = async (ctx: ServiceContext, options: ReadModuleOptions): Promise<Promise<ModuleSpecs> | undefined> => {
	const entry = aheads.get(ctx.platform.env);
	if (!entry || entry.key !== aheadKey(options)) return undefined;
	aheads.delete(ctx.platform.env);
	await entry.read.catch(() => undefined);
	const now = await readFile(options.moduleFile, 'utf8').catch(() => undefined);
	return entry.content !== undefined && now === entry.content ? entry.read : undefined;
};

/** Reads the module with Python when there is one, else its literal declarations. */
export const readModuleSpecs = async (ctx: ServiceContext, options: ReadModuleOptions): Promise<ModuleSpecs> =>
	(await takeAhead(ctx, options)) ?? readFresh(ctx, options);

const readFresh = async (ctx: ServiceContext, options: ReadModuleOptions): Promise<ModuleSpecs> => {
	const python = options.python === false ? undefined : (options.python ?? (await findPython(ctx)));
	if (python === undefined) return readLiterals(ctx, options);

	const output = await runReader(ctx, python, options);
	if ('broken' in output) {
		throw new StepError(`flytekit is installed but does not import (${output.broken}); \`union register\` would fail the same way.`, {
			fix: `Repair the environment of ${python}, e.g. pip install --force-reinstall flytekit (or union).`,
			reason: 'SDK_BROKEN',
		});
	}
	if ('error' in output) {
		throw new StepError(`${describe(output.error, options.folder)}`, {
			fix: `Fix ${path.basename(options.moduleFile)} so that \`python ${path.basename(options.moduleFile)}\` runs, then rerun.`,
			reason: 'MODULE_FAILED',
		});
	}
	const unknown = fieldsNamed(output.specs).filter(field => !(FLYTEKIT_FIELD_ORDER as readonly string[]).includes(field));
	const specs = decodeSpecs(output.specs);
	const read: ReadSpec[] = [];
	for (const [index, record] of output.specs.entries()) {
		const spec = specs[index]!;
		const parent = output.specs.findIndex(other =>
			other.fields.some(([field, value]) => field === 'base_image' && (value as {$spec?: number})?.$spec === index),
		);
		const variable = record.variables[0] ?? `${read[parent]?.variable ?? output.specs[parent]?.variables[0] ?? 'spec'}.base_image`;
		const entry: ReadSpec = {variable, variables: record.variables, spec};
		// A placeholder may sit anywhere, the name too: no tag is computed from one.
		if (!record.placeholders) {
			Object.assign(entry, await tagOf(ctx, spec, options.folder, record.source_root_digest));
		} else {
			entry.problem = new StepError(
				`${variable}: ${record.placeholders.join(', ')} ${record.placeholders.length > 1 ? 'come' : 'comes'} from a module this Python cannot import ` +
					`(${output.missing.join(', ') || 'flytekit'}).`,
				{fix: `Run the tool with the Python environment of the project (the one \`union register\` uses).`, reason: 'FIELD_FROM_MISSING_MODULE'},
			);
		}
		if (output.via === 'flytekit') {
			if (record.sdk_error) {
				// flytekit could not name it either (a missing requirements file...): union register fails the same way.
				entry.problem = new StepError(`flytekit cannot name ${variable}: ${describe(record.sdk_error, options.folder)}`, {
					reason: entry.problem?.reason ?? 'SDK_TAG_FAILED',
					fix: entry.problem?.fix,
				});
				delete entry.tag;
				delete entry.uri;
			} else if (record.image_name !== undefined) {
				entry.sdkUri = record.image_name;
				if (entry.uri === undefined) {
					// Something only flytekit knows how to spell (a tag_format the tool does not repeat): its answer stands.
					entry.uri = record.image_name;
					entry.tag = record.image_name.slice(record.image_name.lastIndexOf(':') + 1);
					delete entry.problem;
				} else if (entry.uri !== record.image_name) {
					throw new StepError(
						`The tag of ${variable} differs: flytekit ${output.sdk_version ?? ''} names ${record.image_name}, imagespec-gar computed ${entry.uri}.`,
						{
							fix:
								unknown.length > 0
									? `This flytekit has fields the tool does not know (${[...new Set(unknown)].join(', ')}): update imagespec-gar.`
									: 'Report this with the declaration; meanwhile build with flytekit itself (`union register`).',
							reason: 'TAG_MISMATCH',
						},
					);
				}
			}
		}
		read.push(entry);
	}
	return {
		via: output.via,
		...(output.missing.length > 0 ? {missing: output.missing} : {}),
		specs: read,
	};
};

/** Without Python: the literal declarations, and a plain message for anything else. */
const readLiterals = async (ctx: ServiceContext, options: ReadModuleOptions): Promise<ModuleSpecs> => {
	let content: string;
	try {
		content = await readFile(options.moduleFile, 'utf8');
	} catch (error) {
		throw new StepError(`Cannot read ${options.moduleFile}: ${(error as Error).message}`, {reason: 'MODULE_UNREADABLE', cause: error});
	}
	const specs: ReadSpec[] = [];
	for (const literal of readLiteralSpecs(content)) {
		const entry: ReadSpec = {variable: literal.variable, variables: [literal.variable], spec: literal.spec};
		if (literal.unreadable.length > 0) {
			const short = (text: string) => (text.length > 60 ? `${text.slice(0, 57)}...` : text);
			const [first] = literal.unreadable;
			const what =
				first?.field === ''
					? `${literal.variable} = ${short(first.text)} is derived from another spec`
					: `${literal.unreadable.map(({field, text}) => `${field}=${short(text)}`).join(', ')} ` +
						`${literal.unreadable.length > 1 ? 'are not literals' : 'is not a literal'} the tool can read`;
			entry.problem = new StepError(`Cannot read ${literal.variable} without Python: ${what}.`, {
				fix:
					'Install a Python 3 (python3 on PATH) so the tool runs the module as `union register` does; ' +
					"with flytekit (or union) installed in it the tag is flytekit's own.",
				reason: 'FIELD_UNREADABLE',
			});
		} else {
			Object.assign(entry, await tagOf(ctx, literal.spec, options.folder));
		}
		specs.push(entry);
	}
	return {via: 'literal', specs};
};
