import {execFileSync} from 'node:child_process';
import {mkdtemp, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {detectSdk, pinnedFlyteVersion} from '../../source/services/sdk.js';

const project = async (files: Record<string, string>) => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'isg-sdk-'));
	await Promise.all(Object.entries(files).map(async ([name, content]) => writeFile(path.join(dir, name), content)));
	return dir;
};

describe('detectSdk', () => {
	it('is union for an empty project and for one that uses union', async () => {
		expect(await detectSdk(await project({}))).toBe('union');
		expect(await detectSdk(await project({'requirements.txt': 'union==0.1.180\nflytekit>=1.16\n'}))).toBe('union');
	});

	it('is flytekit when the project depends on flytekit without union', async () => {
		expect(await detectSdk(await project({'requirements.txt': '# deps\nFlytekit >= 1.16  # pinned\npandas\n'}))).toBe('flytekit');
		expect(await detectSdk(await project({'pyproject.toml': '[project]\ndependencies = [\n  "flytekit>=1.16",\n  "pandas",\n]\n'}))).toBe('flytekit');
	});

	it('is not fooled by names that only contain the word', async () => {
		expect(await detectSdk(await project({'requirements.txt': 'flytekitplugins-pandera\n'}))).toBe('union');
		expect(await detectSdk(await project({'requirements.txt': 'flytekit\nunionml\n'}))).toBe('flytekit');
	});
});

describe('detectSdk: Flyte 2', () => {
	it('is flyte when the project depends on flyte and not on union or flytekit', async () => {
		expect(await detectSdk(await project({'requirements.txt': 'flyte==2.6.5\npandas\n'}))).toBe('flyte');
		expect(await detectSdk(await project({'pyproject.toml': '[project]\ndependencies = ["flyte>=2.0", "pandas"]\n'}))).toBe('flyte');
		expect(await detectSdk(await project({'requirements.txt': 'flyte\nunion\n'}))).toBe('union');
	});

	it('is flyte when no dependency names an SDK and the Python files import only flyte', async () => {
		expect(await detectSdk(await project({'main.py': 'import flyte\n\nenv = flyte.TaskEnvironment(name="x")\n'}))).toBe('flyte');
		expect(await detectSdk(await project({'main.py': 'from flyte.io import File\n'}))).toBe('flyte');
		expect(await detectSdk(await project({'a.py': 'import flyte\n', 'b.py': 'from flytekit import task\n'}))).toBe('union');
		expect(await detectSdk(await project({'a.py': 'import flytekitplugins\nimport flyteidl\n'}))).toBe('union');
	});
});

describe('pinnedFlyteVersion', () => {
	it('is the version the project pins exactly, else undefined', async () => {
		expect(await pinnedFlyteVersion(await project({'requirements.txt': 'pandas\nflyte == 2.6.5  # pinned\n'}))).toBe('2.6.5');
		expect(await pinnedFlyteVersion(await project({'pyproject.toml': '[project]\ndependencies = ["flyte==2.1.0"]\n'}))).toBe('2.1.0');
		expect(await pinnedFlyteVersion(await project({'requirements.txt': 'flyte>=2.6\n'}))).toBeUndefined();
		expect(await pinnedFlyteVersion(await project({'requirements.txt': 'flytekit==1.16.0\n'}))).toBeUndefined();
	});
});

describe('detectSdk: files that are not regular files', () => {
	it('a FIFO named like a module or a requirements file is skipped, never waited on', async () => {
		const folder = await mkdtemp(path.join(os.tmpdir(), 'isg-sdk-fifo-'));
		execFileSync('mkfifo', [path.join(folder, 'image_specs.py')]);
		execFileSync('mkfifo', [path.join(folder, 'requirements.txt')]);
		await writeFile(path.join(folder, 'workflows.py'), 'import flyte\n');
		// Opening a FIFO for reading blocks until a writer comes: none will, so a read would never end.
		expect(await detectSdk(folder)).toBe('flyte');
	}, 10_000);
});
