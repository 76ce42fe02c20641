import {parse as parseSpecifiers} from '@renovatebot/pep440/lib/specifier.js';

/**
 * PEP 508 requirements as Python's `packaging` reads them (the parser pip and uv follow): a name,
 * extras, then version specifiers or `@ URL`, then an optional `; marker`. Version specifiers are
 * judged by @renovatebot/pep440, a port of packaging's specifier rules.
 */

// packaging's canonical name rule (re.IGNORECASE).
const NAME = /^([A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]|[A-Za-z0-9])/;
const MARKER_VARIABLES = new Set([
	'python_version',
	'python_full_version',
	'os_name',
	'sys_platform',
	'platform_release',
	'platform_system',
	'platform_version',
	'platform_machine',
	'platform_python_implementation',
	'implementation_name',
	'implementation_version',
	'extra',
	// Legacy spellings packaging still accepts.
	'os.name',
	'sys.platform',
	'platform.version',
	'platform.machine',
	'platform.python_implementation',
	'python_implementation',
]);
const MARKER_TOKEN = /\s*(?:(\()|(\))|('[^']*'|"[^"]*")|(===|==|~=|!=|<=|>=|<|>)|(not\s+in\b|in\b|and\b|or\b)|([A-Za-z_][A-Za-z0-9_.]*))/y;

type Token = {kind: 'open' | 'close' | 'string' | 'op' | 'word' | 'variable'; text: string};

const tokenizeMarker = (marker: string): Token[] | string => {
	const tokens: Token[] = [];
	MARKER_TOKEN.lastIndex = 0;
	let index = 0;
	while (index < marker.length) {
		if (marker.slice(index).trim() === '') break;
		MARKER_TOKEN.lastIndex = index;
		const match = MARKER_TOKEN.exec(marker);
		if (!match) return `the marker cannot be read at "${marker.slice(index).trim()}"`;
		index = MARKER_TOKEN.lastIndex;
		const [, open, close, string, op, word, variable] = match;
		if (open) tokens.push({kind: 'open', text: open});
		else if (close) tokens.push({kind: 'close', text: close});
		else if (string !== undefined) tokens.push({kind: 'string', text: string});
		else if (op) tokens.push({kind: 'op', text: op});
		else if (word) tokens.push({kind: 'word', text: word.replace(/\s+/, ' ')});
		else if (variable !== undefined) {
			if (!MARKER_VARIABLES.has(variable)) return `"${variable}" is not a marker variable (e.g. python_version, sys_platform)`;
			tokens.push({kind: 'variable', text: variable});
		}
	}

	return tokens;
};

/** marker = atom (and|or atom)*; atom = ( marker ) | value op value. Returns why not, or undefined. */
const checkMarker = (marker: string): string | undefined => {
	const tokens = tokenizeMarker(marker);
	if (typeof tokens === 'string') return tokens;
	let at = 0;
	const value = () => tokens[at]?.kind === 'string' || tokens[at]?.kind === 'variable';
	const atom = (): string | undefined => {
		if (tokens[at]?.kind === 'open') {
			at++;
			const inner = expression();
			if (inner) return inner;
			if (tokens[at]?.kind !== 'close') return 'a "(" in the marker is not closed';
			at++;
			return undefined;
		}

		if (!value()) return 'a marker compares a variable and a quoted string, e.g. python_version >= "3.10"';
		at++;
		const op = tokens[at];
		if (!(op?.kind === 'op' || (op?.kind === 'word' && (op.text === 'in' || op.text === 'not in')))) return 'a marker needs a comparison (==, >=, in, ...)';
		at++;
		if (!value()) return 'a marker compares a variable and a quoted string, e.g. python_version >= "3.10"';
		at++;
		return undefined;
	};

	const expression = (): string | undefined => {
		const first = atom();
		if (first) return first;
		while (tokens[at]?.kind === 'word' && (tokens[at]!.text === 'and' || tokens[at]!.text === 'or')) {
			at++;
			const next = atom();
			if (next) return next;
		}

		return undefined;
	};

	if (tokens.length === 0) return 'nothing after ";": leave out the ";" or add a marker such as python_version >= "3.10"';
	const problem = expression();
	if (problem) return problem;
	return at < tokens.length ? `unexpected "${tokens[at]!.text}" in the marker` : undefined;
};

/** Why a version specifier list (`>=1,<2`) is not one packaging accepts, or undefined. */
const checkSpecifiers = (text: string): string | undefined => {
	const inner = text.trim().replace(/^\((.*)\)$/s, '$1');
	if (inner.trim() === '') return undefined;
	const parts = inner.split(',');
	// packaging takes one trailing comma ("x!=1.0,"), never an empty item between two.
	if (parts.length > 1 && parts.at(-1)!.trim() === '') parts.pop();
	for (const part of parts) {
		const one = part.trim();
		if (one === '') return 'an empty version specifier between commas';
		// Packaging needs an operator; "pandas=1.0" and "pandas 1.0" are the usual slips.
		if (/^(?:===|==|~=|!=|<=|>=|<|>)\s*$/.test(one)) return `"${one}": the version specifier has no version, e.g. pandas>=2.2`;
		if (!/^(?:===|==|~=|!=|<=|>=|<|>)/.test(one)) return `"${one}" is not a version specifier: use ==, >=, <=, ~=, != or < / > (e.g. ==1.0)`;
		if (parseSpecifiers(one) === null) {
			if (one.startsWith('~=') && !/\d+\.\d+/.test(one)) return `"${one}": ~= needs at least two version parts (e.g. ~=1.0)`;
			return `"${one}" is not a PEP 440 version specifier (e.g. >=2.2, ==2.2.*, ~=2.2)`;
		}
	}

	return undefined;
};

/** Why `requirement` is not a PEP 508 requirement as packaging reads it, or undefined. */
export const checkRequirement = (requirement: string): string | undefined => {
	const spec = requirement.trim();
	if (spec === '') return 'must not be empty';
	if (/[\r\n]/.test(requirement)) return 'one requirement per entry, no line breaks';
	if (spec.startsWith('-')) return 'pip options are not packages: use pip_index / pip_extra_index_url';
	const name = NAME.exec(spec);
	if (!name) return 'a requirement starts with a project name (letters, digits, ".", "_", "-"), e.g. pandas>=2.2';
	let rest = spec.slice(name[0].length);
	if (/^[A-Za-z0-9._-]/.test(rest)) return 'a project name ends with a letter or digit';
	rest = rest.trimStart();
	if (rest.startsWith('[')) {
		const close = rest.indexOf(']');
		const extras = close === -1 ? undefined : rest.slice(1, close).trim();
		if (extras === undefined || (extras !== '' && !extras.split(',').every(extra => NAME.exec(extra.trim())?.[0] === extra.trim()))) {
			return 'extras must look like name[extra1,extra2]';
		}

		rest = rest.slice(close + 1).trimStart();
	}

	if (rest.startsWith('@')) {
		const url = /^@\s*(\S+)/.exec(rest);
		if (!url || !/^[A-Za-z][A-Za-z0-9+.-]*:\/\/|^file:/.test(url[1]!)) return 'after "@" comes a URL, e.g. name @ https://example.com/name.whl';
		rest = rest.slice(url[0].length);
		if (rest.trim() === '') return undefined;
		// packaging needs a space between a URL and its marker, or the ";" is part of the URL.
		if (!/^\s+;/.test(rest)) return 'put a space before the ";" that follows a URL';
		return checkMarker(rest.trimStart().slice(1));
	}

	if (rest !== '' && !/^[(<>=!~;]/.test(rest)) {
		return `not a requirement pip accepts: "${rest}" cannot follow the project name (one requirement per entry; a version looks like pandas>=2.2)`;
	}

	const semicolon = rest.indexOf(';');
	const specifiers = semicolon === -1 ? rest : rest.slice(0, semicolon);
	const problem = checkSpecifiers(specifiers);
	if (problem) return problem;
	return semicolon === -1 ? undefined : checkMarker(rest.slice(semicolon + 1));
};

/**
 * A comma-separated list of requirements, split only where a new requirement starts: the commas
 * inside `pandas>=1,<2` and `name[a,b]` belong to it.
 */
export const splitRequirements = (value: string): string[] => {
	const items: string[] = [];
	let current = '';
	let depth = 0;
	for (let index = 0; index < value.length; index++) {
		const ch = value[index]!;
		if (ch === '[' || ch === '(') depth++;
		else if ((ch === ']' || ch === ')') && depth > 0) depth--;
		// A comma followed by a version operator continues the specifier list.
		if (ch === ',' && depth === 0 && !/^\s*(?:===|==|~=|!=|<=|>=|<|>)/.test(value.slice(index + 1))) {
			items.push(current);
			current = '';
			continue;
		}

		current += ch;
	}

	items.push(current);
	return items.map(item => item.trim()).filter(Boolean);
};
