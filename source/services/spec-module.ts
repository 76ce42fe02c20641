import {randomBytes} from 'node:crypto';
import {chmod, realpath, rename, stat, unlink, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {StepError} from './errors.js';
import {readRegularFile} from './file-safety.js';
import {FLYTEKIT_FIELD_ORDER, PyLiteral, SPEC_FIELDS, pyFloat, pyRepr, pyStr, type CopyMode, type ImageSpec, type SpecField} from './imagespec.js';

export type SpecModuleOptions = {sdk: 'union' | 'flytekit'};

/**
 * How a declaration calls ImageSpec: `union.ImageSpec(`, `flytekit.ImageSpec(` or a bare
 * `ImageSpec(` (after `from union import ImageSpec`, written by hand).
 */
export type Callee = 'union.ImageSpec' | 'flytekit.ImageSpec' | 'ImageSpec';

/** Recognises a module this tool manages. */
export const MODULE_MARKER = 'Managed by imagespec-gar';

const INDENT = '    ';
// black's default line length.
const LINE_LENGTH = 88;

const PYTHON_KEYWORDS = new Set(
	(
		'False None True and as assert async await break class continue def del elif else except finally for from global if import in ' +
		'is lambda nonlocal not or pass raise return try while with yield match case type _'
	).split(' '),
);

/** 'trainer' -> 'trainer_image', 'team/my-img' -> 'team_my_img_image'. */
export const variableName = (imageName: string): string => {
	let base = imageName
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, '_')
		.replace(/^_+|_+$/g, '');
	if (base === '') base = 'custom';
	if (/^\d/.test(base)) base = `img_${base}`;
	const name = base === 'image' || base.endsWith('_image') ? base : `${base}_image`;
	return PYTHON_KEYWORDS.has(name) ? `${name}_` : name;
};

const calleeFor = (options: SpecModuleOptions): Callee => (options.sdk === 'union' ? 'union.ImageSpec' : 'flytekit.ImageSpec');

export const importLine = (callee: Callee, options: SpecModuleOptions): string =>
	callee === 'union.ImageSpec' ? 'import union' : callee === 'flytekit.ImageSpec' ? 'import flytekit' : `from ${options.sdk} import ImageSpec`;

/** A Python source literal, black style: double quotes unless that needs more escapes. */
const literal = (value: string): string => pyStr(value, {preferDouble: true});

/** `key=value,` lines for one field; lists and dicts with more than one entry go one per line. */
export const renderField = (key: string, value: unknown): string => {
	const prefix = `${INDENT}${key}=`;
	if (typeof value === 'string') return `${prefix}${literal(value)},`;
	if (Array.isArray(value)) {
		const items = value.map(item => literal(String(item)));
		const inline = `${prefix}[${items.join(', ')}],`;
		if (items.length <= 1 && inline.length <= LINE_LENGTH) return inline;
		return `${prefix}[\n${items.map(item => `${INDENT}${INDENT}${item},\n`).join('')}${INDENT}],`;
	}
	const entries = Object.entries(value as Record<string, string>).map(([k, v]) => `${literal(k)}: ${literal(String(v))}`);
	const inline = `${prefix}{${entries.join(', ')}},`;
	if (entries.length <= 1 && inline.length <= LINE_LENGTH) return inline;
	return `${prefix}{\n${entries.map(entry => `${INDENT}${INDENT}${entry},\n`).join('')}${INDENT}},`;
};

/** A kwarg carried over verbatim from an existing declaration (see planModuleUpdate). */
export type RawField = {key: string; text: string};

export const fieldRank = (key: string): number => {
	const index = (FLYTEKIT_FIELD_ORDER as readonly string[]).indexOf(key);
	return index === -1 ? FLYTEKIT_FIELD_ORDER.length : index;
};

/**
 * One declaration, black style: `trainer_image = union.ImageSpec(`, one field per line in
 * flytekit's order, trailing commas, and a closing line that is exactly `)`.
 */
export const renderDeclaration = (
	spec: ImageSpec,
	options: SpecModuleOptions,
	extra: {variable?: string; callee?: Callee; rawFields?: RawField[]} = {},
): string => {
	const lines: Array<{rank: number; text: string}> = [];
	for (const field of SPEC_FIELDS) {
		const value = spec[field];
		if (value === undefined) continue;
		lines.push({rank: fieldRank(field), text: renderField(field, value)});
	}
	for (const raw of extra.rawFields ?? []) {
		if (spec[raw.key as SpecField] !== undefined) continue;
		lines.push({rank: fieldRank(raw.key), text: `${INDENT}${raw.text},`});
	}
	// Stable sort keeps unknown fields in their original order after the known ones.
	lines.sort((a, b) => a.rank - b.rank);
	const head = `${extra.variable ?? variableName(spec.name)} = ${extra.callee ?? calleeFor(options)}(`;
	return `${head}\n${lines.map(line => `${line.text}\n`).join('')})\n`;
};

const header = (callee: string): string =>
	`${[
		`# ${MODULE_MARKER}: ImageSpec declarations for Google Artifact Registry.`,
		'# To add or change an image, rerun `imagespec-gar`. It rewrites only its own',
		`# declarations (from \`name_image = ${callee}(\` to the closing \`)\` line)`,
		'# and keeps every other line of this file as you wrote it.',
	].join('\n')}\n`;

export const uniqueVariable = (wanted: string, taken: Set<string>): string => {
	if (!taken.has(wanted)) return wanted;
	let n = 2;
	while (taken.has(`${wanted}_${n}`)) n++;
	return `${wanted}_${n}`;
};

export const renderModule = (specs: ImageSpec[], options: SpecModuleOptions): string => {
	const callee = calleeFor(options);
	const taken = new Set<string>();
	const declarations = specs.map(spec => {
		const variable = uniqueVariable(variableName(spec.name), taken);
		taken.add(variable);
		return renderDeclaration(spec, options, {variable, callee});
	});
	return `${header(callee)}${importLine(callee, options)}\n${declarations.map(d => `\n${d}`).join('')}`;
};

// ---------------------------------------------------------------------------------------------
// Reading declarations back: a small parser for the Python literals the tool writes.

export type Parsed = {ok: true; value: unknown; end: number} | {ok: false};

const isSpace = (ch: string | undefined) => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f';

/** Skips whitespace, comments and line continuations (inside brackets, newlines are whitespace). */
export const skip = (src: string, i: number): number => {
	for (;;) {
		const ch = src[i];
		if (ch === '#') {
			while (i < src.length && src[i] !== '\n') i++;
		} else if (ch === '\\' && (src[i + 1] === '\n' || (src[i + 1] === '\r' && src[i + 2] === '\n'))) {
			i += src[i + 1] === '\n' ? 2 : 3;
		} else if (isSpace(ch)) {
			i++;
		} else {
			return i;
		}
	}
};

const SIMPLE_ESCAPES: Record<string, string> = {'\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v'};

/** One string literal (with r/u prefixes, single or triple quoted); f/b strings are not literals here. */
const parseString = (src: string, start: number): Parsed => {
	const prefix = /^([rRuU]?)('''|"""|'|")/.exec(src.slice(start, start + 4));
	if (!prefix) return {ok: false};
	const raw = prefix[1]!.toLowerCase() === 'r';
	const quote = prefix[2]!;
	let i = start + prefix[0].length;
	let out = '';
	while (i < src.length) {
		if (src.startsWith(quote, i)) return {ok: true, value: out, end: i + quote.length};
		const ch = src[i]!;
		if (ch === '\n' && quote.length === 1) return {ok: false};
		if (ch !== '\\') {
			out += ch;
			i++;
			continue;
		}
		const next = src[i + 1];
		if (next === undefined) return {ok: false};
		if (raw) {
			out += ch + next;
			i += 2;
			continue;
		}
		if (next === '\n') {
			i += 2;
			continue;
		}
		if (next in SIMPLE_ESCAPES) {
			out += SIMPLE_ESCAPES[next];
			i += 2;
			continue;
		}
		const sized = {x: 2, u: 4, U: 8}[next as 'x' | 'u' | 'U'];
		if (sized !== undefined) {
			const digits = src.slice(i + 2, i + 2 + sized);
			if (!new RegExp(`^[0-9a-fA-F]{${sized}}$`).test(digits)) return {ok: false};
			out += String.fromCodePoint(Number.parseInt(digits, 16));
			i += 2 + sized;
			continue;
		}
		const octal = /^[0-7]{1,3}/.exec(src.slice(i + 1, i + 4));
		if (octal) {
			out += String.fromCodePoint(Number.parseInt(octal[0], 8));
			i += 1 + octal[0].length;
			continue;
		}
		if (next === 'N') return {ok: false};
		// Python keeps unknown escapes as written.
		out += ch + next;
		i += 2;
	}
	return {ok: false};
};

const parseSequence = (src: string, start: number, close: string, item: (i: number) => Parsed): Parsed & {items?: unknown[]} => {
	const items: unknown[] = [];
	let i = skip(src, start);
	for (;;) {
		if (src[i] === close) return {ok: true, value: items, end: i + 1};
		const parsed = item(i);
		if (!parsed.ok) return {ok: false};
		items.push(parsed.value);
		i = skip(src, parsed.end);
		if (src[i] === ',') i = skip(src, i + 1);
		else if (src[i] !== close) return {ok: false};
	}
};

/** A Python literal: strings (adjacent ones joined), numbers, True/False/None, lists, tuples, dicts. */
export const parseLiteral = (src: string, start: number): Parsed => {
	const i = skip(src, start);
	const ch = src[i];
	if (ch === undefined) return {ok: false};
	if (/[rRuU'"]/.test(ch)) {
		const first = parseString(src, i);
		if (!first.ok) return first;
		let value = first.value as string;
		let end = first.end;
		for (;;) {
			const next = parseString(src, skip(src, end));
			if (!next.ok) break;
			value += next.value as string;
			end = next.end;
		}
		return {ok: true, value, end};
	}
	if (ch === '[') {
		const result = parseSequence(src, i + 1, ']', j => parseLiteral(src, j));
		return result.ok ? {ok: true, value: result.value, end: result.end} : result;
	}
	if (ch === '(') {
		// `(x)` is x; `(x,)`, `()` and `(x, y)` are tuples, which only a Python repr can carry.
		const result = parseSequence(src, i + 1, ')', j => parseLiteral(src, j));
		if (!result.ok) return result;
		const items = result.value as unknown[];
		const inner = src.slice(i + 1, result.end - 1).replace(/#[^\n]*/g, '');
		if (items.length === 1 && !/,\s*$/.test(inner)) return {ok: true, value: items[0], end: result.end};
		const tuple = `(${items.map(item => pyRepr(item)).join(', ')}${items.length === 1 ? ',' : ''})`;
		return {ok: true, value: new PyLiteral(tuple), end: result.end};
	}
	if (ch === '{') {
		const entries: Array<[unknown, unknown]> = [];
		const result = parseSequence(src, i + 1, '}', j => {
			const key = parseLiteral(src, j);
			if (!key.ok) return key;
			const colon = skip(src, key.end);
			if (src[colon] !== ':') return {ok: false};
			const value = parseLiteral(src, colon + 1);
			if (!value.ok) return value;
			entries.push([key.value, value.value]);
			return {ok: true, value: undefined, end: value.end};
		});
		return result.ok ? {ok: true, value: new Map(entries), end: result.end} : result;
	}
	// dict(KEY="value", ...): the keyword form of a dict literal, the same value to Python.
	if (/^dict\s*\(/.test(src.slice(i))) {
		const entries: Array<[unknown, unknown]> = [];
		const result = parseSequence(src, src.indexOf('(', i) + 1, ')', j => {
			const key = /^([A-Za-z_]\w*)\s*=(?!=)/.exec(src.slice(j));
			if (!key) return {ok: false};
			const value = parseLiteral(src, j + key[0].length);
			if (!value.ok) return value;
			entries.push([key[1], value.value]);
			return {ok: true, value: undefined, end: value.end};
		});
		return result.ok ? {ok: true, value: new Map(entries), end: result.end} : result;
	}

	const word = /^(?:True|False|None|-?\d[\d_]*(\.\d*)?([eE][+-]?\d+)?)(?![\w.])/.exec(src.slice(i));
	if (word) {
		const text = word[0];
		const number = Number(text.replaceAll('_', ''));
		// A float keeps Python's spelling (1.0, 1e+20); an int prints as digits.
		const float = word[1] !== undefined || word[2] !== undefined;
		const value = text === 'True' ? true : text === 'False' ? false : text === 'None' ? null : float ? new PyLiteral(pyFloat(number)) : number;
		return {ok: true, value, end: i + text.length};
	}
	return {ok: false};
};

/**
 * Skips any expression up to a top-level ',', an unmatched closing bracket or the end (or, for a
 * `statement`, its line break), minding strings and brackets.
 */
export const skipExpression = (src: string, start: number, options: {statement?: boolean} = {}): number => {
	let depth = 0;
	let i = start;
	while (i < src.length) {
		const ch = src[i]!;
		if (/[rRuUbBfF'"]/.test(ch)) {
			const quoted = /^[rRuUbBfF]{0,2}('''|"""|'|")/.exec(src.slice(i, i + 5));
			if (quoted && (i === start || !/\w/.test(src[i - 1]!))) {
				const q = quoted[1]!;
				let j = i + quoted[0].length;
				while (j < src.length && !src.startsWith(q, j)) j += src[j] === '\\' ? 2 : 1;
				i = j + q.length;
				continue;
			}
		}
		if (ch === '#') {
			while (i < src.length && src[i] !== '\n') i++;
			continue;
		}
		if ('([{'.includes(ch)) depth++;
		else if (')]}'.includes(ch)) {
			// The bracket that closes the enclosing call ends the expression too.
			if (depth === 0) return i;
			depth--;
		} else if (ch === ',' && depth === 0) return i;
		// A top-level statement ends at a line break outside brackets (not after a backslash).
		else if (options.statement && ch === '\n' && depth === 0 && src[i - 1] !== '\\') return i;
		i++;
	}
	return i;
};

const toPlain = (value: unknown): unknown => {
	if (value instanceof Map) return Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), toPlain(v)]));
	if (Array.isArray(value)) return value.map(item => toPlain(item));
	return value;
};

const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every(item => typeof item === 'string');
const isStringMap = (value: unknown): value is Map<string, string> =>
	value instanceof Map && [...value.entries()].every(([k, v]) => typeof k === 'string' && typeof v === 'string');

const LIST_FIELDS = new Set<string>(['packages', 'apt_packages', 'pip_extra_index_url', 'commands']);

/** A typed value for one of the wizard's fields, or undefined when it is not what the wizard writes. */
const specValue = (field: SpecField, value: unknown): unknown => {
	if (field === 'env') return isStringMap(value) ? toPlain(value) : undefined;
	if (LIST_FIELDS.has(field)) return isStringList(value) ? value : undefined;
	return typeof value === 'string' ? value : undefined;
};

export type Declaration = {
	variable: string;
	callee: Callee;
	spec: ImageSpec;
	/** Character offsets in the file: from the start of `VAR = ...ImageSpec(` to after the `)` line. */
	start: number;
	end: number;
	text: string;
	/** Fields that are not the wizard's or whose value is not a plain literal; carried over verbatim on update. */
	rawFields: RawField[];
	/** Names of the wizard's fields that were not plain literals (e.g. base_image=other_image). */
	unparsed: string[];
	/** Where each `key=value` stands in the file (offsets, without its comma): edits touch only these. */
	fields: FieldSpan[];
};

export type FieldSpan = {key: string; start: number; end: number};

const START_LINE = /^([A-Za-z_]\w*)[ \t]*=[ \t]*((?:union\.|flytekit\.)?ImageSpec)\([ \t]*(?:#[^\n]*)?$/;

/**
 * The tool's declarations: a line at column 0 `VAR = union.ImageSpec(` (or flytekit./bare), then
 * only indented or blank lines, up to the first line that is exactly `)`. Anything else is the user's.
 */
export const readDeclarations = (content: string): Declaration[] => {
	const declarations: Declaration[] = [];
	const lines: Array<{start: number; body: string; end: number}> = [];
	for (let offset = 0; offset < content.length; ) {
		const newline = content.indexOf('\n', offset);
		const end = newline === -1 ? content.length : newline + 1;
		lines.push({start: offset, body: content.slice(offset, end).replace(/\r?\n$/, ''), end});
		offset = end;
	}
	for (let index = 0; index < lines.length; index++) {
		const head = START_LINE.exec(lines[index]!.body);
		if (!head) continue;
		let close = -1;
		for (let j = index + 1; j < lines.length; j++) {
			const body = lines[j]!.body;
			if (body === ')') {
				close = j;
				break;
			}
			if (body.trim() !== '' && !/^[ \t]/.test(body)) break;
		}
		if (close === -1) continue;
		const start = lines[index]!.start;
		const end = lines[close]!.end;
		const innerStart = lines[index + 1]?.start ?? end;
		const inner = content.slice(innerStart, lines[close]!.start);
		const parsed = parseArguments(inner, innerStart);
		// Without a literal name it cannot be matched safely: leave it to the user.
		if (!parsed || parsed.unparsed.includes('name')) continue;
		declarations.push({
			variable: head[1]!,
			callee: head[2] as Callee,
			start,
			end,
			text: content.slice(start, end),
			...parsed,
		});
		index = close;
	}
	return declarations;
};

/** `key=value, ...` inside the call; undefined when it is not keyword arguments only. */
const parseArguments = (src: string, offset: number): Pick<Declaration, 'spec' | 'rawFields' | 'unparsed' | 'fields'> | undefined => {
	const spec: Record<string, unknown> = {};
	const rawFields: RawField[] = [];
	const unparsed: string[] = [];
	const fields: FieldSpan[] = [];
	let i = skip(src, 0);
	while (i < src.length) {
		const key = /^([A-Za-z_]\w*)[ \t]*=(?!=)/.exec(src.slice(i));
		if (!key) return undefined;
		const field = key[1]!;
		const valueStart = i + key[0].length;
		const parsed = parseLiteral(src, valueStart);
		let end: number;
		const known = (SPEC_FIELDS as readonly string[]).includes(field);
		const typed = parsed.ok && known ? specValue(field as SpecField, parsed.value) : undefined;
		if (parsed.ok && [',', undefined].includes(src[skip(src, parsed.end)]) && typed !== undefined) {
			spec[field] = typed;
			end = parsed.end;
		} else {
			end = skipExpression(src, valueStart);
			// Trim trailing whitespace and comments so the raw text ends at the value.
			const text = src.slice(i, end).replace(/(?:[ \t]*#[^\n]*)?\s*$/, '');
			rawFields.push({key: field, text});
			if (known) unparsed.push(field);
		}
		fields.push({key: field, start: offset + i, end: offset + i + src.slice(i, end).replace(/(?:[ \t]*#[^\n]*)?\s*$/, '').length});
		i = skip(src, end);
		if (src[i] === ',') i = skip(src, i + 1);
		else if (i < src.length) return undefined;
	}
	// flytekit's default name.
	if (typeof spec.name !== 'string') spec.name = 'flytekit';
	return {spec: spec as ImageSpec, rawFields, unparsed, fields};
};

// ---------------------------------------------------------------------------------------------
// Reading any module without Python: literal declarations of every field, module-level names.

/** A declaration read without Python; `unreadable` lists what only Python can evaluate. */
export type LiteralSpec = {variable: string; spec: ImageSpec; unreadable: Array<{field: string; text: string}>};

type Binding = {name: string; offset: number; value?: unknown; spec?: ImageSpec};

/** Dicts as plain objects where that keeps Python's key order (no integer-like keys), else Maps. */
const pythonValue = (value: unknown): unknown => {
	if (Array.isArray(value)) return value.map(item => pythonValue(item));
	if (!(value instanceof Map)) return value;
	const entries = [...value.entries()].map(([key, item]) => [key, pythonValue(item)] as const);
	return entries.every(([key]) => typeof key === 'string' && !/^(?:0|[1-9]\d*)$/.test(key)) ? Object.fromEntries(entries) : new Map(entries);
};

const COPY_MODE = /^(?:[A-Za-z_][\w.]*\.)?CopyFileDetection\.(LOADED_MODULES|ALL|NO_COPY)$/;
// flytekit's __post_init__ requires a list of strings here.
const STRING_LIST_FIELDS = new Set([
	'packages',
	'conda_channels',
	'conda_packages',
	'apt_packages',
	'pip_extra_index_url',
	'entrypoint',
	'commands',
	'runtime_packages',
]);
const SPEC_CALL = /^((?:union\.|flytekit\.)?ImageSpec)\(/;
const trimValue = (text: string): string => text.replace(/(?:[ \t]*#[^\n]*)?\s*$/, '').trim();

/** The value bound to `name` by the last top-level assignment before `offset`. */
const lookup = (bindings: Binding[], name: string, offset: number): Binding | undefined =>
	bindings.filter(binding => binding.name === name && binding.offset < offset).at(-1);

/** One keyword value in src[start, end): a literal, a name bound to one, a CopyFileDetection member, an earlier spec. */
const readValue = (src: string, start: number, end: number, field: string, bindings: Binding[]): {ok: true; value: unknown} | {ok: false} => {
	const text = trimValue(src.slice(start, end));
	const parsed = parseLiteral(src, start);
	if (parsed.ok && trimValue(src.slice(parsed.end, end)) === '') return {ok: true, value: pythonValue(parsed.value)};
	const mode = COPY_MODE.exec(text);
	if (mode && field === 'source_copy_mode') return {ok: true, value: mode[1] as CopyMode};
	const call = SPEC_CALL.exec(text);
	if (call && field === 'base_image') {
		const inner = readCall(src, src.indexOf('(', start) + 1, bindings);
		if (inner && inner.unreadable.length === 0 && trimValue(src.slice(inner.end, end)) === '') return {ok: true, value: inner.spec};
	}
	if (/^[A-Za-z_]\w*$/.test(text)) {
		const bound = lookup(bindings, text, start);
		if (bound?.spec) return {ok: true, value: bound.spec};
		if (bound && bound.value !== undefined) return {ok: true, value: pythonValue(bound.value)};
	}
	return {ok: false};
};

/** `key=value, ...)` from `start` (after the open paren): the spec, what was unreadable, and the end. */
const readCall = (src: string, start: number, bindings: Binding[]): (Omit<LiteralSpec, 'variable'> & {end: number}) | undefined => {
	const spec: Record<string, unknown> = {};
	const unreadable: LiteralSpec['unreadable'] = [];
	let i = skip(src, start);
	while (src[i] !== ')') {
		const key = /^([A-Za-z_]\w*)[ \t]*=(?!=)/.exec(src.slice(i));
		if (!key) return undefined;
		const field = key[1]!;
		const valueStart = i + key[0].length;
		const valueEnd = skipExpression(src, valueStart);
		const read = readValue(src, valueStart, valueEnd, field, bindings);
		const valid = read.ok && (!STRING_LIST_FIELDS.has(field) || (Array.isArray(read.value) && read.value.every(item => typeof item === 'string')));
		if (read.ok && valid) spec[field] = read.value;
		else unreadable.push({field, text: trimValue(src.slice(valueStart, valueEnd))});
		i = skip(src, valueEnd);
		if (src[i] === ',') i = skip(src, i + 1);
		else if (src[i] !== ')') return undefined;
	}
	if (spec.name === undefined && !unreadable.some(({field}) => field === 'name')) spec.name = 'flytekit';
	return {spec: spec as ImageSpec, unreadable, end: i + 1};
};

/**
 * Every `NAME = [union.|flytekit.]ImageSpec(...)` at the top level of a module, read without
 * running it: literals of every field, names bound to literals at the top level before it
 * (`packages=PACKAGES`), `CopyFileDetection.X`, and `base_image=OTHER` for a spec declared above.
 * A top-level spec derived from one (`app = base.with_packages([...])`) is listed with its whole
 * value unreadable (field ''). Anything else is named in `unreadable`, never guessed.
 */
export const readLiteralSpecs = (content: string): LiteralSpec[] => {
	const bindings: Binding[] = [];
	const specs: LiteralSpec[] = [];
	for (const match of content.matchAll(/^([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)[ \t]*/gm)) {
		const name = match[1]!;
		const start = match.index + match[0].length;
		const call = SPEC_CALL.exec(content.slice(start, start + 30));
		const end = skipExpression(content, start, {statement: true});
		if (call) {
			const read = readCall(content, start + call[0].length, bindings);
			if (read && trimValue(content.slice(read.end, end)) !== '') {
				// ImageSpec(...).with_packages(...): the call's result is changed before it is bound.
				specs.push({variable: name, spec: {name: 'flytekit'}, unreadable: [{field: '', text: trimValue(content.slice(start, end))}]});
				bindings.push({name, offset: start});
				continue;
			}
			if (read) specs.push({variable: name, spec: read.spec, unreadable: read.unreadable});
			bindings.push({name, offset: start, ...(read && read.unreadable.length === 0 ? {spec: read.spec} : {})});
			continue;
		}
		const derived = /^([A-Za-z_]\w*)\.(?:with_\w+|force_push)\(/.exec(content.slice(start, end));
		if (derived && specs.some(spec => spec.variable === derived[1])) {
			specs.push({variable: name, spec: {name: 'flytekit'}, unreadable: [{field: '', text: trimValue(content.slice(start, end))}]});
			bindings.push({name, offset: start});
			continue;
		}
		const parsed = parseLiteral(content, start);
		const lineEnd = parsed.ok ? content.indexOf('\n', parsed.end) : -1;
		const rest = parsed.ok ? content.slice(parsed.end, lineEnd === -1 ? undefined : lineEnd) : '';
		bindings.push({name, offset: start, ...(parsed.ok && /^[ \t]*(?:#.*)?\r?$/.test(rest) ? {value: parsed.value} : {})});
	}
	return specs;
};

/** The specs of the tool's own declarations, in file order. */
export const readDeclaredSpecs = (content: string): ImageSpec[] => readDeclarations(content).map(declaration => declaration.spec);

export const isManagedModule = (content: string): boolean => content.split(/\r?\n/).some(line => line.startsWith('#') && line.includes(MODULE_MARKER));

export type ModulePlan =
	| {kind: 'create' | 'add' | 'update' | 'unchanged'; content: string; previous?: string; variable: string}
	/** `importLine` is what the snippet needs; `hasImport` says whether the file already has it. */
	| {kind: 'unmanaged'; snippet: string; importLine: string; hasImport: boolean; variable: string};

/** Which callee new declarations in an existing file should use: the file's own habit first. */
const detectCallee = (content: string, declarations: Declaration[], options: SpecModuleOptions): Callee => {
	const last = declarations.at(-1);
	if (last) return last.callee;
	if (/^import union\b/m.test(content)) return 'union.ImageSpec';
	if (/^import flytekit\b/m.test(content)) return 'flytekit.ImageSpec';
	if (/^from (?:union|flytekit) import\b[^\n]*\bImageSpec\b/m.test(content)) return 'ImageSpec';
	return calleeFor(options);
};

export const topLevelNames = (content: string): Set<string> =>
	new Set([...content.matchAll(/^([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)/gm)].map(match => match[1]!));

/**
 * How to put `spec` into the module. A managed file (with the marker) gets the declaration whose
 * name= matches replaced, or a new one after the last declaration; every other byte is kept.
 * A file without the marker is never written: the caller shows the snippet.
 */
export const planModuleUpdate = (existing: string | undefined, spec: ImageSpec, options: SpecModuleOptions): ModulePlan => {
	if (existing === undefined) {
		return {kind: 'create', content: renderModule([spec], options), variable: variableName(spec.name)};
	}
	const declarations = readDeclarations(existing);
	const callee = detectCallee(existing, declarations, options);
	if (!isManagedModule(existing)) {
		const variable = uniqueVariable(variableName(spec.name), topLevelNames(existing));
		// A bare ImageSpec comes from whichever SDK the file imports it from.
		const source = /^from (union|flytekit) import\b[^\n]*\bImageSpec\b/m.exec(existing)?.[1] as SpecModuleOptions['sdk'] | undefined;
		const line = importLine(callee, source ? {sdk: source} : options);
		const hasImport = callee === 'ImageSpec' ? source !== undefined : new RegExp(`^${line}\\b`, 'm').test(existing);
		return {kind: 'unmanaged', snippet: renderDeclaration(spec, options, {variable, callee}), importLine: line, hasImport, variable};
	}
	const eol = /\r\n/.test(existing) ? '\r\n' : '\n';
	const withEol = (text: string) => (eol === '\n' ? text : text.replaceAll('\n', eol));
	const wanted = spec.name.toLowerCase();
	const match = declarations.find(declaration => declaration.spec.name.toLowerCase() === wanted);
	if (match) {
		const text = withEol(renderDeclaration(spec, options, {variable: match.variable, callee: match.callee, rawFields: match.rawFields}));
		if (text === match.text) return {kind: 'unchanged', content: existing, previous: existing, variable: match.variable};
		const content = existing.slice(0, match.start) + text + existing.slice(match.end);
		return {kind: 'update', content, previous: existing, variable: match.variable};
	}
	const variable = uniqueVariable(variableName(spec.name), topLevelNames(existing));
	const declaration = withEol(renderDeclaration(spec, options, {variable, callee}));
	const last = declarations.at(-1);
	let content: string;
	if (last) {
		content = `${existing.slice(0, last.end)}${eol}${declaration}${existing.slice(last.end)}`;
	} else {
		const ending = existing === '' || existing.endsWith('\n') ? '' : eol;
		content = `${existing}${ending}${eol}${declaration}`;
	}
	return {kind: 'add', content, previous: existing, variable};
};

/** Write via a temp file in the same folder and rename, so a reader never sees half a file. */
export const writeFileAtomic = async (file: string, content: string): Promise<void> => {
	// Write through a symlink to its target instead of replacing the link.
	let target = file;
	try {
		target = await realpath(file);
	} catch {}
	let mode: number | undefined;
	try {
		mode = (await stat(target)).mode & 0o7777;
	} catch {}
	const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
	try {
		await writeFile(temp, content, {encoding: 'utf8', flag: 'wx', ...(mode === undefined ? {} : {mode})});
		// writeFile's mode is filtered by the umask; the existing file's mode must survive as is.
		if (mode !== undefined) await chmod(temp, mode);
		await rename(temp, target);
	} catch (error) {
		await unlink(temp).catch(() => undefined);
		throw error;
	}
};

/**
 * The module's text, or undefined when there is none yet. A file that is not UTF-8 is refused:
 * decoding it would turn its bytes into U+FFFD, and writing it back would lose them.
 */
export const readModuleFile = async (file: string): Promise<string | undefined> => {
	let bytes: Buffer | undefined;
	try {
		// Non-blocking: a FIFO or a device at the module's path must not hang the run.
		bytes = await readRegularFile(file);
	} catch (error) {
		if (error instanceof StepError) throw error;
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT') return undefined;
		const why = code === 'EISDIR' ? 'is a folder, not a Python file' : `cannot be read (${(error as Error).message})`;
		throw new StepError(`${file} ${why}.`, {
			fix: 'Point --output at the ImageSpec module (a .py file), or fix the file, then rerun.',
			reason: 'MODULE_UNREADABLE',
			cause: error,
		});
	}

	if (bytes === undefined) return undefined;
	try {
		// ignoreBOM keeps a byte-order mark in the text, so it is written back as it was.
		return new TextDecoder('utf-8', {fatal: true, ignoreBOM: true}).decode(bytes);
	} catch {
		throw new StepError(`${file} is not UTF-8 text: imagespec-gar would change bytes it cannot read.`, {
			fix: "Save it as UTF-8 (Python 3's default source encoding), or use --output to write another module.",
			reason: 'MODULE_NOT_UTF8',
		});
	}
};

/**
 * Where the module declares `name` in a form the tool does not edit (a one-line call, a derived
 * spec...): the line, so a second declaration for the same image is never added beside it.
 */
export const otherDeclarationLine = (content: string, name: string, handled: Declaration[]): number | undefined => {
	const wanted = name.toLowerCase();
	const pattern = /\bname\s*=\s*(?:[rRuU]?)(["'])([^"'\n]*)\1/g;
	for (const match of content.matchAll(pattern)) {
		if (match[2]!.toLowerCase() !== wanted) continue;
		if (handled.some(declaration => match.index >= declaration.start && match.index < declaration.end)) continue;
		return content.slice(0, match.index).split('\n').length;
	}

	return undefined;
};
