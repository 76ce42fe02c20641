import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';
import {KEY, choose, sgrCodes, spawnCli} from '../support/pty.js';

/**
 * --plain in a real terminal: @inquirer/prompts line by line, statuses in words, no animation,
 * and with NO_COLOR no colour at all. No docker needed: the image is not built (--no-build).
 */
describe('--plain, for screen readers and dumb terminals', () => {
	let fake: FakeArtifactRegistry;
	let sandbox: Sandbox;

	beforeAll(async () => {
		fake = await startFakeArtifactRegistry();
		fake.addRepository('acme-ml', 'us-east1', 'union-images', {description: 'team images'});
		sandbox = await makeSandbox({env: {IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: '127.0.0.1:9', NO_COLOR: '1'}});
		await loginOffline(sandbox);
	});

	afterAll(async () => {
		await fake?.stop();
		await sandbox?.cleanup();
	});

	it('asks line by line, says every status in words, and draws no colour or spinner', async () => {
		const run = spawnCli(['--plain', '--no-build', '--project', 'acme-ml', '--location', 'us-east1'], {
			cwd: sandbox.project,
			env: sandbox.env,
			cols: 100,
			rows: 40,
		});
		try {
			await run.waitFor('Docker repository in', {timeout: 30_000});
			await choose(run, 'union-images');
			// Same project as the repository (the default): nothing to grant.
			await run.waitFor('? Does your Union data plane run in project acme-ml too?');
			await run.press(KEY.enter);
			await run.waitFor('? Image name');
			await run.type('trainer');
			await run.press(KEY.enter);
			for (const question of ['? Python version', '? Base image', '? Python packages', '? Set more options', '? Write image_specs.py']) {
				// one question after the other
				await run.waitFor(question);
				await run.press(KEY.enter);
			}

			expect(await run.waitForExit(30_000)).toMatchObject({exitCode: 0});
			const history = (await run.history()).join('\n');
			expect(history).toContain('Prerequisites: started');
			expect(history).toMatch(/\[ok\] gcloud account: ci-bot@acme-ml\.iam\.gserviceaccount\.com/);
			expect(history).toMatch(/\[warning\] Application Default Credentials/);
			expect(history).toContain('Repository: done — union-images');
			expect(history).toContain('Build and push: skipped — --no-build');
			expect(history).toContain('Done: the ImageSpec is ready.');
			// Answers stay on screen as lines a screen reader reads in order.
			expect(history).toContain('✔ Image name (e.g. trainer, team/trainer): trainer');
			// No Ink screen: no spinner frames and no live step line.
			expect(run.output()).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
			expect(history).not.toMatch(/step \d of \d/);
			expect(sgrCodes(run.output())).toEqual([]);
			expect(await readFile(path.join(sandbox.project, 'image_specs.py'), 'utf8')).toContain('name="trainer"');
		} finally {
			run.kill();
		}
	});
});
