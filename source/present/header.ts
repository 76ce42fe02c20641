const NAME = 'imagespec-gar';
// Both SDKs' images: it is drawn before the run knows which one the project uses.
const TAGLINE = '· Artifact Registry for your Flyte images · Ctrl-C to stop';

const bold = (text: string) => `\u001B[1m\u001B[36m${text}\u001B[39m\u001B[22m`;
const dim = (text: string) => `\u001B[2m${text}\u001B[22m`;

/**
 * The interactive header, as text for the terminal: word-wrapped to `columns` like Ink wraps a
 * <Text>, coloured like the view when `colors`. It is written before Ink loads (~0.2 s on these
 * CPUs), so the person sees the wizard start at once; it never changes, so Ink need not own it.
 */
export const headerText = (columns: number, colors: boolean): string => {
	const lines: string[] = [];
	for (const word of `${NAME} ${TAGLINE}`.split(' ')) {
		const last = lines.at(-1);
		if (last !== undefined && last.length + 1 + word.length <= columns) lines[lines.length - 1] = `${last} ${word}`;
		else lines.push(word);
	}

	const styled = colors ? lines.map(line => (line.startsWith(NAME) ? bold(NAME) + dim(line.slice(NAME.length)) : dim(line))) : lines;
	return `${styled.join('\n')}\n`;
};

/** Draws the header on stdout, as wide and as coloured as the terminal allows. */
export const writeHeader = (): void => {
	process.stdout.write(headerText(process.stdout.columns || 80, process.stdout.hasColors?.() ?? false));
};
