/**
 * A line diff for previews (modules are small): the changed lines with one line of context,
 * `-` for removed, `+` for added. Longest common subsequence, O(n·m).
 */
export const lineDiff = (before: string, after: string, context = 1): string => {
	const a = before.split(/\r?\n/);
	const b = after.split(/\r?\n/);
	const lcs: number[][] = Array.from({length: a.length + 1}, () => Array.from({length: b.length + 1}, () => 0));
	for (let i = a.length - 1; i >= 0; i--) {
		for (let j = b.length - 1; j >= 0; j--) {
			lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
		}
	}

	const rows: Array<{mark: ' ' | '-' | '+'; text: string}> = [];
	let i = 0;
	let j = 0;
	while (i < a.length || j < b.length) {
		if (i < a.length && j < b.length && a[i] === b[j]) {
			rows.push({mark: ' ', text: a[i]!});
			i++;
			j++;
		} else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
			// Removals before additions, as in a unified diff.
			rows.push({mark: '-', text: a[i++]!});
		} else {
			rows.push({mark: '+', text: b[j++]!});
		}
	}

	const near = (index: number) => rows.slice(Math.max(0, index - context), index + context + 1).some(row => row.mark !== ' ');
	const lines: string[] = [];
	let skipped = false;
	for (const [index, row] of rows.entries()) {
		if (row.mark !== ' ' || near(index)) {
			if (skipped && lines.length > 0) lines.push('  …');
			skipped = false;
			lines.push(`${row.mark} ${row.text}`.trimEnd());
		} else {
			skipped = true;
		}
	}

	return lines.join('\n');
};
