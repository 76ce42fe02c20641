import {existsSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

/**
 * The repository root: the nearest folder up with package.json. Walked up rather than counted, so
 * it also holds from a compiled copy (the bench's tsc build under .tmp/bench/).
 */
export const REPO_ROOT = (() => {
	let dir = path.dirname(fileURLToPath(import.meta.url));
	while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
	return dir;
})();
