import type {ImageSpec} from './imagespec.js';
import {fieldRank, renderField, type Declaration} from './spec-module.js';

/**
 * What a person asked to change in an existing declaration: a new value, or undefined to remove
 * the field. Every field not named here keeps its text byte for byte (a rerun never rewrites what
 * nobody asked to change, nor adds a default to a declaration it read).
 */
export type FieldEdits = Partial<{[K in keyof ImageSpec]: ImageSpec[K] | undefined}>;

const lineStart = (content: string, offset: number): number => content.lastIndexOf('\n', offset - 1) + 1;

/** `key=value` as the tool writes it, without the indent and the comma. */
const kwarg = (key: string, value: unknown): string => renderField(key, value).trimStart().replace(/,$/, '');

/** The declaration with only `edits` applied: replaced in place, removed, or inserted in flytekit's order. */
export const editDeclaration = (content: string, declaration: Declaration, edits: FieldEdits): string => {
	type Splice = {start: number; end: number; text: string};
	const splices: Splice[] = [];
	for (const [key, value] of Object.entries(edits)) {
		const span = declaration.fields.find(field => field.key === key);
		if (span && value !== undefined) {
			splices.push({start: span.start, end: span.end, text: kwarg(key, value)});
		} else if (span) {
			// The whole line when the field has it to itself (the tool's layout), else just `key=value,`.
			const from = lineStart(content, span.start);
			const tail = /^[ \t]*,?[ \t]*(?:#[^\n]*)?\r?\n/.exec(content.slice(span.end));
			const ownLine = content.slice(from, span.start).trim() === '' && tail;
			splices.push(
				ownLine
					? {start: from, end: span.end + tail[0].length, text: ''}
					: {start: span.start, end: span.end + (/^[ \t]*,[ \t]*/.exec(content.slice(span.end))?.[0].length ?? 0), text: ''},
			);
		} else if (value !== undefined) {
			// Before the first field that comes later in flytekit's order, else before the closing `)` line.
			const next = declaration.fields.filter(field => fieldRank(field.key) > fieldRank(key)).sort((a, b) => a.start - b.start)[0];
			const at = lineStart(content, next ? next.start : declaration.end - (declaration.text.endsWith('\n') ? 2 : 1));
			const eol = declaration.text.includes('\r\n') ? '\r\n' : '\n';
			splices.push({start: at, end: at, text: renderField(key, value).replaceAll('\n', eol) + eol});
		}
	}

	// From the end, so earlier offsets stay valid.
	let edited = content;
	for (const splice of splices.sort((a, b) => b.start - a.start)) edited = edited.slice(0, splice.start) + splice.text + edited.slice(splice.end);
	return edited;
};
