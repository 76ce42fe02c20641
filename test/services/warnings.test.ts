import {afterEach, describe, expect, it} from 'vitest';
import {filterWarnings} from '../../source/services/warnings.js';

describe('filterWarnings', () => {
	const original = process.emitWarning;
	afterEach(() => {
		process.emitWarning = original;
	});

	const record = () => {
		const seen: string[] = [];
		process.emitWarning = ((warning: string | Error) => {
			seen.push(typeof warning === 'string' ? warning : warning.message);
		}) as typeof process.emitWarning;
		return seen;
	};

	it('drops what it picks by type (string or Error warnings) and passes the rest on', () => {
		const seen = record();
		filterWarnings(type => type === 'MetadataLookupWarning');
		process.emitWarning('dropped', 'MetadataLookupWarning');
		process.emitWarning('dropped too', {type: 'MetadataLookupWarning'});
		process.emitWarning(Object.assign(new Error('dropped as an Error'), {name: 'MetadataLookupWarning'}));
		process.emitWarning('kept', 'ExperimentalWarning');
		expect(seen).toEqual(['kept']);
	});

	it('undone while another filter sits on top, it stays in place rather than drop that one', () => {
		const seen = record();
		const undo = filterWarnings((type, message) => type === 'ExperimentalWarning' && message.startsWith('SQLite'));
		filterWarnings(type => type === 'MetadataLookupWarning');
		undo();
		process.emitWarning('SQLite is an experimental feature', 'ExperimentalWarning');
		process.emitWarning('library chatter', 'MetadataLookupWarning');
		process.emitWarning('kept', 'DeprecationWarning');
		expect(seen).toEqual(['kept']);
	});

	it('undone while outermost, the previous emitWarning is back', () => {
		record();
		const recorder = process.emitWarning;
		const undo = filterWarnings(() => true);
		expect(process.emitWarning).not.toBe(recorder);
		undo();
		expect(process.emitWarning).toBe(recorder);
	});
});
