import {normalizePackageName, packageName} from './imagespec.js';

/** One requirement per line, with a final newline; no packages gives an empty file. */
export const renderRequirements = (packages: string[]): string => packages.map(line => `${line.trim()}\n`).join('');

/** The requirement lines of a requirements.txt: no comments, blanks or pip options. */
export const parseRequirements = (content: string): string[] =>
	content
		.split(/\r?\n/)
		.map(line => line.replace(/(^|\s)#.*$/, '').trim())
		.filter(line => line !== '' && !line.startsWith('-'));

// Compare by project name and specifier, ignoring case and spaces: "Pandas >= 2" is "pandas>=2".
const requirementKey = (requirement: string): string => {
	const name = packageName(requirement);
	const compact = requirement.replace(/\s+/g, '');
	return name === undefined ? compact : normalizePackageName(name) + compact.slice(compact.search(/[[(<>=!~;@]|$/));
};

export type RequirementsPlan =
	| {kind: 'create'; content: string}
	| {kind: 'unchanged'; content: string}
	/** The file exists with other content: it is kept and reused; `missing`/`extra` say how it differs. */
	| {kind: 'keep'; content: string; wanted: string; missing: string[]; extra: string[]};

// flytekit hashes the file with surrounding whitespace stripped, so that difference is no difference.
const stripped = (text: string): string => text.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, '');

/** Never clobbers: an existing file with other content is kept. */
export const planRequirementsFile = (existing: string | undefined, packages: string[]): RequirementsPlan => {
	const wanted = renderRequirements(packages);
	if (existing === undefined) return {kind: 'create', content: wanted};
	if (stripped(existing) === stripped(wanted)) return {kind: 'unchanged', content: existing};
	const have = new Set(parseRequirements(existing).map(requirementKey));
	const want = new Set(packages.map(requirementKey));
	return {
		kind: 'keep',
		content: existing,
		wanted,
		missing: packages.filter(p => !have.has(requirementKey(p))),
		extra: parseRequirements(existing).filter(line => !want.has(requirementKey(line))),
	};
};
