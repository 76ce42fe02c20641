import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {readDeclaredSpecs} from '../../source/services/spec-module.js';
import {imagespecGar} from '../support/cli.js';
import {KEY, drive, spawnCli} from '../support/pty.js';
import {useRepositoryWorld, whereFlags} from '../support/repository-world.js';

/**
 * Two real processes on one module: a person waits at "Write image_specs.py?" while a script
 * adds another image. No docker needed (--no-build).
 */
describe('two runs writing image_specs.py at once', () => {
	const where = [...whereFlags(), '--no-build', '--python-version', '3.11'];

	const world = useRepositoryWorld();

	it('the run that waited keeps the declaration the other run added meanwhile, and says so', async () => {
		const {sandbox} = world();
		const moduleFile = path.join(sandbox.project, 'image_specs.py');
		const person = spawnCli([...where, '--image', 'trainer', '--packages', 'pandas'], {cwd: sandbox.project, env: sandbox.env, cols: 120, rows: 50});
		try {
			await drive(person, {answers: [], until: /Write image_specs\.py\?/, unknown: 'enter'});

			const script = await imagespecGar([...where, '--image', 'evaluator', '--packages', 'numpy', '--yes'], {
				cwd: sandbox.project,
				env: {...sandbox.env, CI: 'true'},
			});
			expect(script.code, script.stderr).toBe(0);
			expect(readDeclaredSpecs(await readFile(moduleFile, 'utf8')).map(spec => spec.name)).toEqual(['evaluator']);

			await person.press(KEY.enter);
			expect(await person.waitForExit(60_000)).toMatchObject({exitCode: 0});
			const specs = readDeclaredSpecs(await readFile(moduleFile, 'utf8'));
			expect(specs.map(spec => [spec.name, spec.packages])).toEqual([
				['evaluator', ['numpy']],
				['trainer', ['pandas']],
			]);
			expect((await person.history()).join(' ').replace(/\s+/g, ' ')).toMatch(
				/image_specs\.py changed while you were deciding .*your declaration was added to its new content/,
			);
		} finally {
			person.kill();
		}
	});

	it('when the other run changed the same image meanwhile, nothing is written and the reason is given', async () => {
		const {sandbox} = world();
		const moduleFile = path.join(sandbox.project, 'image_specs.py');
		const person = spawnCli([...where, '--image', 'evaluator', '--packages', 'scipy'], {cwd: sandbox.project, env: sandbox.env, cols: 120, rows: 50});
		try {
			await drive(person, {answers: [], until: /Write image_specs\.py\?/, unknown: 'enter'});
			const script = await imagespecGar([...where, '--image', 'evaluator', '--packages', 'numpy,polars', '--yes'], {
				cwd: sandbox.project,
				env: {...sandbox.env, CI: 'true'},
			});
			expect(script.code, script.stderr).toBe(0);

			await person.press(KEY.enter);
			expect(await person.waitForExit(60_000)).toMatchObject({exitCode: 1});
			const specs = readDeclaredSpecs(await readFile(moduleFile, 'utf8'));
			expect(specs.map(spec => [spec.name, spec.packages])).toEqual([
				['evaluator', ['numpy', 'polars']],
				['trainer', ['pandas']],
			]);
			expect((await person.history()).join(' ').replace(/\s+/g, ' ')).toMatch(
				/changed after it was shown to you, and nothing was written: its declaration of evaluator was changed meanwhile/,
			);
		} finally {
			person.kill();
		}
	});
});
