import {readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {CLI_PATH} from '../support/cli.js';

// `npm test` builds dist/ before the suite runs.
const dist = path.dirname(CLI_PATH);
const chunks = async () => {
	const files = (await readdir(path.join(dist, 'chunks'))).filter(name => name.endsWith('.js'));
	return Promise.all(files.map(async name => readFile(path.join(dist, 'chunks', name), 'utf8')));
};

describe('the built CLI (rolldown bundle)', () => {
	it('is a few files, not a tree of modules: the entry loads only small ones before the header', async () => {
		const entry = await readFile(CLI_PATH, 'utf8');
		const staticImports = [...entry.matchAll(/^import .* from "(\.[^"]+)";?$/gm)].map(match => match[1]!);
		expect(staticImports).toContainEqual(expect.stringMatching(/^\.\/chunks\/header-[\w-]+\.js$/));
		for (const target of staticImports) expect((await readFile(path.join(dist, target), 'utf8')).length, target).toBeLessThan(20_000);
		expect((await chunks()).length).toBeLessThan(60);
	});

	it("carries React's production build, never the development one Node would pick without NODE_ENV", async () => {
		const modules = (await chunks()).flatMap(text => [...text.matchAll(/^\/\/ (node_modules\/\S+)$/gm)].map(match => match[1]!));
		expect(modules).toContain('node_modules/react-reconciler/cjs/react-reconciler.production.js');
		expect(modules.filter(module => module.endsWith('.development.js'))).toEqual([]);
	});
});
