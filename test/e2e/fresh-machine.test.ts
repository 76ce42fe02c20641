import {execFile, execFileSync} from 'node:child_process';
import {existsSync, readFileSync} from 'node:fs';
import {mkdtemp, rm} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CLI_PATH} from '../support/cli.js';
import {isCi} from '../support/docker.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {REPO_ROOT} from '../support/pty.js';
import {schemaErrors} from '../support/schema.js';

type Run = {code: number; stdout: string; stderr: string};
const run = async (file: string, args: string[], options: {cwd: string; env: NodeJS.ProcessEnv; timeout?: number}): Promise<Run> =>
	new Promise(resolve => {
		execFile(file, args, {...options, timeout: options.timeout ?? 60_000}, (error, stdout, stderr) => {
			resolve({code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr});
		});
	});

const majorOf = (node: string) => Number(execFileSync(node, ['-p', 'process.versions.node.split(".")[0]'], {encoding: 'utf8'}).trim());

/** A Node older than 22: IMAGESPEC_GAR_OLD_NODE (.ci/run sets it to the machine's own), else Debian's. */
const oldNode = (() => {
	for (const candidate of [process.env.IMAGESPEC_GAR_OLD_NODE, '/usr/bin/node']) {
		if (candidate && existsSync(candidate) && majorOf(candidate) < 22) return candidate;
	}

	return undefined;
})();

describe('on a fresh machine', () => {
	let sandbox: Sandbox;
	beforeAll(async () => {
		sandbox = await makeSandbox({ci: 'true'});
	});
	afterAll(async () => sandbox?.cleanup());

	it.skipIf(!oldNode && !isCi())('the built CLI on an older Node says in one line what to run instead, and exits 1', async () => {
		expect(oldNode, 'no Node older than 22 on this machine: set IMAGESPEC_GAR_OLD_NODE').toBeDefined();
		const found = execFileSync(oldNode!, ['-p', 'process.versions.node'], {encoding: 'utf8'}).trim();
		for (const args of [['--version'], ['doctor', '--json'], []]) {
			const result = await run(oldNode!, [CLI_PATH, ...args], {cwd: sandbox.project, env: sandbox.env});
			expect(result.code, result.stderr).toBe(1);
			expect(result.stdout).toBe('');
			expect(result.stderr).toBe(
				`imagespec-gar needs Node.js 22 or newer, found ${found}: run it with \`npx -y node@22 "$(command -v imagespec-gar)"\`` +
					' (or `nvm install 22`, `volta install node@22`)\n',
			);
		}
	});

	it('npm pack gives a package that installs into a prefix and runs --version and doctor --json from another folder', async () => {
		const work = await mkdtemp(path.join(os.tmpdir(), 'imagespec-gar-pack-'));
		try {
			// dist/ is built before the suite (npm test); the pack must not rebuild it meanwhile.
			const npm = {cwd: REPO_ROOT, env: {...process.env, npm_config_loglevel: 'error', npm_config_fund: 'false', npm_config_audit: 'false'}, timeout: 300_000};
			const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--json'], npm);
			expect(packed.code, packed.stderr).toBe(0);
			const [{filename, files}] = JSON.parse(packed.stdout) as [{filename: string; files: Array<{path: string}>}];
			expect(files.map(file => file.path)).toContain('dist/cli.js');
			expect(files.filter(file => !file.path.startsWith('dist/') && !/^(package\.json|README\.md|LICENSE)$/.test(file.path))).toEqual([]);

			const prefix = path.join(work, 'prefix');
			const installed = await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', path.join(work, filename)], {...npm, cwd: work});
			expect(installed.code, installed.stderr).toBe(0);
			const bin = path.join(prefix, 'bin', 'imagespec-gar');
			const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {version: string};
			// From another folder, through the bin link npm made (as after `npm install -g`).
			const version = await run(bin, ['--version'], {cwd: sandbox.project, env: sandbox.env});
			expect(version).toEqual({code: 0, stdout: `${pkg.version}\n`, stderr: ''});
			const doctor = await run(bin, ['doctor', '--json'], {cwd: sandbox.project, env: {...sandbox.env, DOCKER_HOST: 'unix:///nonexistent.sock'}});
			// Nobody is logged in in the sandbox: required checks fail (1), the document is whole.
			expect(doctor.code, doctor.stderr).toBe(1);
			const report = JSON.parse(doctor.stdout) as {ok: boolean};
			expect(schemaErrors('doctor.schema.json', report)).toEqual([]);
			expect(report.ok).toBe(false);
		} finally {
			await rm(work, {recursive: true, force: true});
		}
	});
});
