import {execFile} from 'node:child_process';
import {readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import {promisify} from 'node:util';
import meow from 'meow';
import {describe, expect, it} from 'vitest';
import {HELP, helpScreen} from '../../source/help.js';
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

	it("decodes yoga's WebAssembly from the bundle, never through fetch (which would load undici before Ink's first frame)", async () => {
		const texts = await chunks();
		expect(texts.filter(text => text.includes('node_modules/yoga-layout/dist/binaries/yoga-wasm-base64-esm.js'))).toHaveLength(1);
		expect(texts.filter(text => text.includes('failed to load wasm binary file'))).toEqual([]);
	});

	it("keeps the answers with conf but leaves out conf's ajv, which serves only the schema option the store never passes", async () => {
		const modules = (await chunks()).flatMap(text => [...text.matchAll(/^\/\/ (node_modules\/\S+)$/gm)].map(match => match[1]!));
		expect(modules).toContain('node_modules/conf/dist/source/index.js');
		expect(modules.filter(module => /^node_modules\/ajv(-formats)?\//.test(module))).toEqual([]);
	});

	// Every module file the process loads, through a load hook (node --import), printed at exit.
	const LOADED =
		"import module from 'node:module'; const seen = []; " +
		'module.registerHooks({load(url, context, next) { seen.push(url); return next(url, context); }}); ' +
		"process.on('exit', () => process.stderr.write(JSON.stringify(seen)));";
	const loadedBy = async (args: string[]) => {
		const {stdout, stderr} = await promisify(execFile)(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(LOADED)}`, CLI_PATH, ...args]);
		return {stdout, loaded: (JSON.parse(stderr) as string[]).filter(url => url.startsWith('file:'))};
	};

	it('answers --version and --help from the entry alone: neither meow nor main loads (a bare node start)', async () => {
		const packageJson = JSON.parse(await readFile(path.join(dist, '..', 'package.json'), 'utf8')) as {version: string; description: string};
		const version = await loadedBy(['--version']);
		expect(version.stdout).toBe(`${packageJson.version}\n`);
		const help = await loadedBy(['--help']);
		// What meow itself prints (console.log of its help) for --help alone.
		expect(help.stdout).toBe(`${meow(HELP, {importMeta: import.meta, argv: []}).help}\n`);
		expect(help.stdout).toBe(`${helpScreen(packageJson.description)}\n`);
		for (const {loaded} of [version, help]) {
			expect(loaded.length).toBeLessThanOrEqual(4);
			expect(loaded.filter(url => /meow|\/main-/.test(url))).toEqual([]);
		}
	});
});
