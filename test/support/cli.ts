import {execFile} from 'node:child_process';
import {fileURLToPath} from 'node:url';

/** The built CLI (`npm run build` runs before the suite in `npm test`). */
export const CLI_PATH = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export type CliRun = {code: number; stdout: string; stderr: string};

/** Runs the built CLI to the end without a terminal (so non-interactively) and never throws. */
export const imagespecGar = async (args: string[], options: {cwd: string; env: NodeJS.ProcessEnv; timeout?: number}): Promise<CliRun> =>
	new Promise(resolve => {
		execFile(process.execPath, [CLI_PATH, ...args], {cwd: options.cwd, env: options.env, timeout: options.timeout ?? 120_000}, (error, stdout, stderr) => {
			resolve({code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr});
		});
	});
