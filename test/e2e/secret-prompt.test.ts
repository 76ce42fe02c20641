import {existsSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {drive, spawnCli} from '../support/pty.js';
import {useRepositoryWorld, whereFlags} from '../support/repository-world.js';

/** Issue 16, point 3, for a person: warned, asked (default no), the value never on screen. */
describe('a secret-looking --env in the wizard', () => {
	const world = useRepositoryWorld();

	it('is said with the way out and asked; the default (no) writes nothing, exit 1', async () => {
		const {sandbox} = world();
		const args = [...whereFlags(), '--no-build', '--image', 'trainer', '--python-version', '3.11', '--env', 'HF_TOKEN=hf_live_0123456789'];
		const run = spawnCli(args, {cwd: sandbox.project, env: sandbox.env, cols: 120, rows: 50});
		try {
			await drive(run, {answers: [], until: /Write it into the module anyway\?/, unknown: 'enter'});
			const screen = (await run.history()).join(' ').replace(/\s+/g, ' ');
			expect(screen).toContain('--env HF_TOKEN looks like a secret: it would be written in plain text into image_specs.py (meant for git)');
			expect(screen).toContain('pip_secret_mounts');
			await drive(run, {answers: [], until: /not written: it would hold --env HF_TOKEN in plain text/, unknown: 'enter'});
			expect(await run.waitForExit(30_000)).toMatchObject({exitCode: 1});
			expect(run.output()).not.toContain('hf_live_0123456789');
			expect(existsSync(path.join(sandbox.project, 'image_specs.py'))).toBe(false);
		} finally {
			run.kill();
		}
	});
});
