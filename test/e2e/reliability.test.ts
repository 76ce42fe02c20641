import {execFileSync} from 'node:child_process';
import {mkdir, readdir, readFile, symlink, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {imagespecGar, type CliRun} from '../support/cli.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';
import {whereFlags} from '../support/repository-world.js';

/**
 * Accidents and hostile input, through the built CLI on real parts (gcloud, the real client
 * against the fake Artifact Registry, real file systems: a FIFO, a full tmpfs, a read-only bind
 * mount). No docker needed: --no-build.
 */
const asRoot = process.getuid?.() === 0;

/** Mounts (as root); undefined when the kernel refuses (then the test says it skipped). */
const tryMount = (args: string[]): boolean => {
	try {
		execFileSync('mount', args, {stdio: 'ignore'});
		return true;
	} catch {
		return false;
	}
};

const unmount = (dir: string) => {
	try {
		execFileSync('umount', [dir], {stdio: 'ignore'});
	} catch {}
};

/** A tmpfs at dir, filled to the last byte. */
const fullTmpfs = (dir: string): boolean => {
	if (!tryMount(['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir])) return false;
	try {
		execFileSync('dd', ['if=/dev/zero', `of=${path.join(dir, '.fill')}`, 'bs=4k'], {stdio: 'ignore'});
	} catch {}
	return true;
};

const readOnlyBind = (dir: string): boolean => tryMount(['--bind', dir, dir]) && tryMount(['-o', 'remount,bind,ro', dir]);

describe('reliability under accident and hostile input', () => {
	let fake: FakeArtifactRegistry;
	let sandbox: Sandbox;
	const base = [...whereFlags(), '--image', 'trainer', '--no-build', '--python-version', '3.11', '--json'];

	beforeAll(async () => {
		fake = await startFakeArtifactRegistry();
		fake.addRepository('acme-ml', 'us-east1', 'union-images');
		sandbox = await makeSandbox({ci: 'true', env: {IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: '127.0.0.1:9'}});
		await loginOffline(sandbox);
	});

	afterAll(async () => {
		await fake?.stop();
		await sandbox?.cleanup();
	});

	/** A fresh project folder inside the sandbox. */
	let count = 0;
	const project = async () => {
		const dir = path.join(sandbox.root, `project-${count++}`);
		await mkdir(dir);
		return dir;
	};

	const cli = async (args: string[], cwd: string, env: NodeJS.ProcessEnv = sandbox.env) => imagespecGar([...base, ...args], {cwd, env, timeout: 60_000});

	/** The contract for every failure: the exit code, one JSON document with ok:false and a reason, no stack trace. */
	const failed = (run: CliRun, code: number, reason: string) => {
		expect(run.code, run.stderr).toBe(code);
		expect(run.stderr).not.toMatch(/\n\s+at |Unexpected error/);
		const document = JSON.parse(run.stdout) as {ok: boolean; error: {message: string; reason: string}};
		expect(document).toMatchObject({ok: false, error: {reason}});
		return document.error.message;
	};

	describe('point 4: a FIFO never blocks the run', () => {
		it('--requirements and --output naming a FIFO: exit 2 at once, naming the flag', async () => {
			const cwd = await project();
			execFileSync('mkfifo', [path.join(cwd, 'requirements.txt'), path.join(cwd, 'specs.py')]);
			const started = Date.now();
			const requirements = await cli(['--requirements', 'requirements.txt'], cwd);
			expect(failed(requirements, 2, 'USAGE')).toBe('--requirements "requirements.txt" is a FIFO (named pipe): name a regular file');
			const output = await cli(['--output', 'specs.py'], cwd);
			expect(failed(output, 2, 'USAGE')).toBe('--output "specs.py" is a FIFO (named pipe): name a regular file');
			expect(Date.now() - started).toBeLessThan(20_000);
		});

		it('the module itself a FIFO: exit 1 with the file named', async () => {
			const cwd = await project();
			execFileSync('mkfifo', [path.join(cwd, 'image_specs.py')]);
			const run = await cli([], cwd);
			expect(failed(run, 1, 'NOT_A_FILE')).toBe(`${path.join(cwd, 'image_specs.py')} is a FIFO (named pipe), not a regular file.`);
		});
	});

	describe('point 6: file system errors are one line with the file and the fix', () => {
		it('--requirements or --output a folder, --output in a folder that does not exist: exit 2', async () => {
			const cwd = await project();
			await mkdir(path.join(cwd, 'reqs'));
			await mkdir(path.join(cwd, 'out.py'));
			expect(failed(await cli(['--requirements', 'reqs'], cwd), 2, 'USAGE')).toBe('--requirements "reqs" is a folder: name a regular file');
			expect(failed(await cli(['--output', 'out.py'], cwd), 2, 'USAGE')).toBe('--output "out.py" is a folder: name a regular file');
			expect(failed(await cli(['--output', 'sub/dir/x.py'], cwd), 2, 'USAGE')).toBe(
				`--output "sub/dir/x.py": the folder ${path.join(cwd, 'sub', 'dir')} does not exist`,
			);
			expect(failed(await cli(['--output', ''], cwd), 2, 'USAGE')).toBe('--output "": name a file');
		});

		it('the module a folder: exit 1', async () => {
			const cwd = await project();
			await mkdir(path.join(cwd, 'image_specs.py'));
			expect(failed(await cli([], cwd), 1, 'NOT_A_FILE')).toBe(`${path.join(cwd, 'image_specs.py')} is a folder, not a regular file.`);
		});

		(asRoot ? it : it.skip)(
			'a read-only project (bind mount): exit 1 naming the module and the fix, nothing written (skips where the kernel refuses the mount)',
			async context => {
				const cwd = await project();
				if (!readOnlyBind(cwd)) return context.skip();
				context.onTestFinished(() => unmount(cwd));
				const run = await cli([], cwd);
				expect(failed(run, 1, 'FILE_EROFS')).toBe(`Cannot write the ImageSpec module ${path.join(cwd, 'image_specs.py')}: the file system is read-only.`);
				expect(run.stderr).toContain('Run from a writable copy of the project');
				expect(await readdir(cwd)).toEqual([]);
			},
		);

		(asRoot ? it : it.skip)('a full project (tmpfs): exit 1, no temp file or lock left behind (skips where the kernel refuses the mount)', async context => {
			const cwd = await project();
			if (!fullTmpfs(cwd)) return context.skip();
			context.onTestFinished(() => unmount(cwd));
			const run = await cli([], cwd);
			expect(failed(run, 1, 'FILE_ENOSPC')).toBe(`Cannot write the ImageSpec module ${path.join(cwd, 'image_specs.py')}: no space is left on the device.`);
			expect(await readdir(cwd)).toEqual(['.fill']);
		});

		(asRoot ? it : it.skip)(
			"the saved answers' folder full or read-only: exit 1 naming the file, the JSON document says why (skips where the kernel refuses the mount)",
			async context => {
				for (const broken of [fullTmpfs, readOnlyBind]) {
					const cwd = await project();
					const xdg = path.join(cwd, '..', `xdg-${count}`);
					await mkdir(path.join(xdg, 'imagespec-gar-nodejs'), {recursive: true});
					const conf = path.join(xdg, 'imagespec-gar-nodejs');
					if (!broken(conf)) return context.skip();
					context.onTestFinished(() => unmount(conf));
					const run = await cli([], cwd, {...sandbox.env, XDG_CONFIG_HOME: xdg});
					const message = failed(run, 1, broken === fullTmpfs ? 'FILE_ENOSPC' : 'FILE_EROFS');
					expect(message).toContain(`Cannot save your answers in ${path.join(conf, 'config.json')}`);
					expect(run.stderr).toContain(`Error: ${message}`);
				}
			},
		);
	});

	describe('point 8: the module and its requirements live in the project', () => {
		it('paths outside the project, a link that leads out, a file that is not .py or not text: exit 2 naming the rule, nothing created', async () => {
			const cwd = await project();
			const outside = (flag: string, value: string) =>
				`--${flag} ${JSON.stringify(value)} is outside the project folder ${cwd}: the module and ` +
				`its requirements live in the project, where union register and your teammates find them`;
			expect(failed(await cli(['--requirements', '/etc/hostname'], cwd), 2, 'USAGE')).toBe(outside('requirements', '/etc/hostname'));
			expect(failed(await cli(['--requirements', '../x.txt', '--packages', 'pandas'], cwd), 2, 'USAGE')).toBe(outside('requirements', '../x.txt'));
			await expect(readFile(path.join(cwd, '..', 'x.txt'))).rejects.toThrow();
			expect(failed(await cli(['--output', '../../x.py'], cwd), 2, 'USAGE')).toBe(outside('output', '../../x.py'));
			expect(failed(await cli(['--output', 'notes.txt'], cwd), 2, 'USAGE')).toBe('--output "notes.txt": the file must end in .py');
			await symlink('/etc/hostname', path.join(cwd, 'linked.txt'));
			expect(failed(await cli(['--requirements', 'linked.txt'], cwd), 2, 'USAGE')).toBe(outside('requirements', 'linked.txt'));
			await writeFile(path.join(cwd, 'binary.txt'), Buffer.from([0x70, 0x61, 0x00, 0xff, 0xfe]));
			expect(failed(await cli(['--requirements', 'binary.txt'], cwd), 2, 'USAGE')).toBe(
				'--requirements "binary.txt" is not UTF-8 text: name a requirements file',
			);
			expect(await readdir(cwd)).toEqual(['binary.txt', 'linked.txt']);
		});
	});

	describe('point 3: secrets are never written silently, nor echoed', () => {
		it("a secret-looking --env or index URL password: refused (exit 2), the SDK's secret mechanisms named, the value never shown, nothing written", async () => {
			const cwd = await project();
			const token = await cli(['--env', 'HF_TOKEN=hf_live_0123456789', '--env', 'MODE=train'], cwd);
			expect(failed(token, 2, 'USAGE')).toBe(
				'--env HF_TOKEN looks like a secret: it would be written in plain text into the module (meant for git) and baked into the pushed ' +
					"image. Keep secrets out of the spec: give pip credentials at build time with pip_secret_mounts (flytekit's ImageSpec) and runtime " +
					'secrets with Union secrets (`union create secret`, then secret_requests on the task). To write it anyway, rerun with --allow-secrets.',
			);
			const index = await cli(['--pip-index', 'https://deploy:s3cr3t-pw@pypi.example.com/simple'], cwd);
			expect(failed(index, 2, 'USAGE')).toMatch(/^--pip-index looks like a secret: /);
			for (const run of [token, index]) expect(`${run.stdout}${run.stderr}`).not.toMatch(/hf_live_0123456789|s3cr3t-pw/);
			expect(await readdir(cwd)).toEqual([]);
		});

		it('--allow-secrets: the person means it; the module has it, the screen does not', async () => {
			const cwd = await project();
			const run = await cli(['--env', 'HF_TOKEN=hf_live_0123456789', '--allow-secrets'], cwd);
			expect(run.code, run.stderr).toBe(0);
			expect(await readFile(path.join(cwd, 'image_specs.py'), 'utf8')).toContain('"HF_TOKEN": "hf_live_0123456789"');
			expect(run.stderr).toContain('"HF_TOKEN": "***"');
			expect(`${run.stdout}${run.stderr}`).not.toContain('hf_live_0123456789');
		});
	});

	describe('point 10: flags with a trap in them', () => {
		it('a command ending in a backslash, a value that starts with "-", an unknown flag: exit 2 naming the flag and the fix', async () => {
			const cwd = await project();
			expect(failed(await cli(['--commands', 'echo one \\', '--commands', 'echo two'], cwd), 2, 'USAGE')).toBe(
				'--commands "echo one \\\\": must not end with a backslash (the Dockerfile would join the next command to it)',
			);
			expect(failed(await cli(['--packages', '-e .'], cwd), 2, 'USAGE')).toBe(
				'--packages "-e .": a value that starts with "-" must be attached to its flag: --packages=\'-e .\'',
			);
			expect(failed(await cli(['--pakages', 'pandas'], cwd), 2, 'USAGE')).toBe('Unknown flag --pakages');
			expect(await readdir(cwd)).toEqual([]);
		});
	});

	describe('point 9: saved answers of the wrong shape are reported and kept', () => {
		it.each([
			['a list', '[1,2,3]'],
			['projects a string', '{"projects":"nope"}'],
			['images a string', '{"schemaVersion":1,"projects":{"FOLDER":{"images":"oops"}}}'],
			['an image with wrong types', '{"schemaVersion":1,"projects":{"FOLDER":{"images":{"x":{"name":"x","specFile":5,"packages":"pandas"}}}}}'],
		])('%s: the run goes on from defaults, says so, and leaves the file as it was', async (_, content) => {
			const cwd = await project();
			const xdg = path.join(sandbox.root, `xdg-shape-${count}`);
			const file = path.join(xdg, 'imagespec-gar-nodejs', 'config.json');
			await mkdir(path.dirname(file), {recursive: true});
			const text = content.replace('FOLDER', cwd);
			await writeFile(file, text);
			const run = await cli([], cwd, {...sandbox.env, XDG_CONFIG_HOME: xdg});
			expect(run.code, run.stderr).toBe(0);
			expect(run.stderr.replace(/\s+/g, ' ')).toMatch(
				new RegExp(
					`Saved answers in ${file.replaceAll('/', '\\/')} could not be read \\(its shape is wrong: .+\\); going on from defaults, and the file is left as it is`,
				),
			);
			expect(await readFile(file, 'utf8')).toBe(text);
		});
	});
});
