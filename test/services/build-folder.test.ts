import {execFileSync} from 'node:child_process';
import {mkdir, readdir} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {buildAndPush} from '../../source/services/docker.js';
import {StepError} from '../../source/services/errors.js';
import {buildLogPath} from '../../source/services/log-folder.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';

const asRoot = process.getuid?.() === 0;

/** Issue 16, point 6: a full TMPDIR (a real tmpfs, filled) fails with its fix and leaves no build folder behind. */
describe('the build folder in a full TMPDIR', () => {
	let box: Sandbox;
	let full: string;
	let mounted = false;

	beforeAll(async () => {
		box = await makeSandbox();
		full = path.join(box.root, 'full-tmp');
		await mkdir(full);
		if (!asRoot) return;
		try {
			execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full], {stdio: 'ignore'});
			mounted = true;
		} catch {
			// The kernel refused the mount: the test below skips and says so.
			return;
		}

		try {
			execFileSync('dd', ['if=/dev/zero', `of=${path.join(full, '.fill')}`, 'bs=4k'], {stdio: 'ignore'});
		} catch {}
	});

	afterAll(async () => {
		if (mounted) execFileSync('umount', [full]);
		await box?.cleanup();
	});

	it('fails with "no space is left" naming the folder, and removes the build folder it made (skips where the kernel refuses the tmpfs mount)', async context => {
		if (!mounted) return context.skip();
		const before = process.env.TMPDIR;
		process.env.TMPDIR = full;
		context.onTestFinished(() => {
			if (before === undefined) delete process.env.TMPDIR;
			else process.env.TMPDIR = before;
		});
		const spec = {name: 'trainer', base_image: 'busybox', commands: ['echo a long enough command to need a data page '.repeat(200)]};
		const error = await buildAndPush(
			box.context(),
			{imageRef: '127.0.0.1:9/p/r/trainer:t', spec, contextDir: box.project, logFile: buildLogPath(box.platform, 'trainer', 't')},
			() => {},
		).then(
			() => undefined,
			(error: unknown) => error,
		);
		expect(error).toBeInstanceOf(StepError);
		expect(error).toMatchObject({reason: 'FILE_ENOSPC'});
		expect((error as StepError).message).toMatch(
			new RegExp(`^Cannot write the build context in ${full}/imagespec-gar-build-\\w+: no space is left on the device\\.$`),
		);
		expect(await readdir(full)).toEqual(['.fill']);
	});
});
