/**
 * One line of text being edited, as readline edits it: the keys every shell answers to
 * (Ctrl-A/E, Home/End, Ctrl-B/F and ←/→, Alt-B/F by word, Ctrl-U/K to the start/end, Ctrl-W a
 * word back, Backspace/Delete). Pure, so the view only draws it and the keys are unit-testable.
 */
export type Line = {readonly value: string; readonly cursor: number};

/** The parts of Ink's Key this editor reads. */
export type EditKey = {
	leftArrow?: boolean;
	rightArrow?: boolean;
	home?: boolean;
	end?: boolean;
	return?: boolean;
	backspace?: boolean;
	delete?: boolean;
	ctrl?: boolean;
	meta?: boolean;
	escape?: boolean;
	tab?: boolean;
	upArrow?: boolean;
	downArrow?: boolean;
	pageUp?: boolean;
	pageDown?: boolean;
};

export const emptyLine: Line = {value: '', cursor: 0};

const wordStart = (value: string, from: number) => {
	let index = from;
	while (index > 0 && /\s/.test(value[index - 1]!)) index--;
	while (index > 0 && !/\s/.test(value[index - 1]!)) index--;
	return index;
};

const wordEnd = (value: string, from: number) => {
	let index = from;
	while (index < value.length && /\s/.test(value[index]!)) index++;
	while (index < value.length && !/\s/.test(value[index]!)) index++;
	return index;
};

const insert = (line: Line, text: string): Line => ({
	value: line.value.slice(0, line.cursor) + text + line.value.slice(line.cursor),
	cursor: line.cursor + text.length,
});

const cut = (line: Line, from: number, to: number): Line => ({value: line.value.slice(0, from) + line.value.slice(to), cursor: from});

// Control characters never enter the line (a paste's tabs and the like).
const printable = (text: string) => text.replaceAll(/[\u0000-\u001F\u007F]/g, '');

/**
 * The line after one input event, and whether it was submitted. Text with a line end in it (a
 * paste, or a fast typist over ssh, arrives as one read) types what comes before the line end and
 * submits: the rest is not part of this answer.
 */
export const editLine = (line: Line, input: string, key: EditKey): {line: Line; submit: boolean} => {
	const same = {line, submit: false};
	if (key.return) return {line, submit: true};
	const {value, cursor} = line;
	const to = (position: number) => ({line: {value, cursor: position}, submit: false});
	if (key.ctrl) {
		switch (input) {
			case 'a': {
				return to(0);
			}

			case 'e': {
				return to(value.length);
			}

			case 'b': {
				return to(Math.max(0, cursor - 1));
			}

			case 'f': {
				return to(Math.min(value.length, cursor + 1));
			}

			case 'u': {
				return {line: cut(line, 0, cursor), submit: false};
			}

			case 'k': {
				return {line: cut(line, cursor, value.length), submit: false};
			}

			case 'w': {
				return {line: cut(line, wordStart(value, cursor), cursor), submit: false};
			}

			case 'h': {
				return {line: cut(line, Math.max(0, cursor - 1), cursor), submit: false};
			}

			default: {
				return same;
			}
		}
	}

	if (key.meta && !key.escape) {
		if (input === 'b' || key.leftArrow) return to(wordStart(value, cursor));
		if (input === 'f' || key.rightArrow) return to(wordEnd(value, cursor));
		if (input === 'd') return {line: cut(line, cursor, wordEnd(value, cursor)), submit: false};
		if (key.backspace) return {line: cut(line, wordStart(value, cursor), cursor), submit: false};
		return same;
	}

	if (key.home) return to(0);
	if (key.end) return to(value.length);
	if (key.leftArrow) return to(Math.max(0, cursor - 1));
	if (key.rightArrow) return to(Math.min(value.length, cursor + 1));
	// Backspace: terminals send 0x7F, which Ink names backspace or delete depending on the terminal.
	if (key.backspace || (key.delete && input === '')) return {line: cut(line, Math.max(0, cursor - 1), cursor), submit: false};
	if (key.escape || key.tab || key.upArrow || key.downArrow || key.pageUp || key.pageDown) return same;
	const end = input.search(/[\r\n]/);
	if (end !== -1) return {line: insert(line, printable(input.slice(0, end))), submit: true};
	return {line: insert(line, printable(input)), submit: false};
};
