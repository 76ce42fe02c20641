/**
 * The first module the entry evaluates: on a Node older than 22 it says what to do in one line
 * and exits, before anything that needs Node 22 loads (e.g. Set.prototype.union, used by
 * dependencies at import time). Written so old Nodes can parse it: nothing newer than ES2017.
 */
const NEEDED = 22;

const found = process.versions.node;
if (Number(found.split('.')[0]) < NEEDED) {
	process.stderr.write(
		`imagespec-gar needs Node.js ${NEEDED} or newer, found ${found}: run it with \`npx -y node@${NEEDED} "$(command -v imagespec-gar)"\`` +
			` (or \`nvm install ${NEEDED}\`, \`volta install node@${NEEDED}\`)\n`,
	);
	process.exit(1);
}

export {};
