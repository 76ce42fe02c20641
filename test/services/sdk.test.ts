import {mkdtemp, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {detectSdk} from '../../source/services/sdk.js';

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
