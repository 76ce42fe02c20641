import {describe, expect, it} from 'vitest';
import {lineDiff} from '../../source/services/diff.js';

describe('lineDiff', () => {
	it('shows a changed line with one line of context and elides the rest', () => {
		const before = ['import union', '', 'a_image = union.ImageSpec(', '    name="a",', '    python_version="3.11",', ')', '', '# end'].join('\n');
		const after = before.replace('3.11', '3.12');
		expect(lineDiff(before, after)).toBe(['      name="a",', '-     python_version="3.11",', '+     python_version="3.12",', '  )'].join('\n'));
	});

	it('shows an added declaration as + lines, and separates distant hunks', () => {
		const before = 'one\ntwo\nthree\nfour\nfive\nsix';
		const after = 'one!\ntwo\nthree\nfour\nfive\nsix\nseven';
		expect(lineDiff(before, after)).toBe(['- one', '+ one!', '  two', '  …', '  six', '+ seven'].join('\n'));
	});

	it('is empty when nothing changed', () => {
		expect(lineDiff('a\nb', 'a\nb')).toBe('');
	});
});
