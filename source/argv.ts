type FlagTypes = Record<string, {type: 'string' | 'boolean'}>;

const kebab = (name: string) => name.replace(/[A-Z]/g, letter => `-${letter.toLowerCase()}`);

/** A value that starts with '-' shown attached, quoted for a POSIX shell. */
const attached = (flag: string, value: string) => `--${flag}='${value.replaceAll("'", String.raw`'\''`)}'`;

/**
 * The flag problems meow reports only as "Unknown flag" and a token: a value that starts with
 * "-" given after its flag (`--packages '-e .'`), and a flag that does not exist. One line that
 * names the flag and the fix, or undefined.
 */
export const checkArgv = (argv: string[], types: FlagTypes): string | undefined => {
	const known = new Map(Object.entries(types).map(([name, spec]) => [kebab(name), spec.type]));
	for (const builtin of ['help', 'version']) known.set(builtin, 'boolean');
	const isFlag = (token: string) => {
		const name = token.replace(/^--?/, '').split('=')[0]!;
		return known.has(name) || (name.startsWith('no-') && known.get(name.slice(3)) === 'boolean');
	};

	for (let index = 0; index < argv.length; index++) {
		const token = argv[index]!;
		if (token === '--') break;
		if (!token.startsWith('-') || token === '-') continue;
		const name = token.replace(/^--?/, '').split('=')[0]!;
		if (!isFlag(token)) {
			const previous = argv[index - 1];
			const owner = previous?.startsWith('--') && !previous.includes('=') ? previous.slice(2) : undefined;
			if (owner && known.get(owner) === 'string') {
				return `--${owner} ${JSON.stringify(token)}: a value that starts with "-" must be attached to its flag: ${attached(owner, token)}`;
			}

			return `Unknown flag ${token.split('=')[0]}${/^-[^-]/.test(token) ? ` (flags start with --, e.g. --${name})` : ''}`;
		}
	}

	return undefined;
};
