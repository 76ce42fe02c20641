import {mkdtemp, readFile, stat, writeFile, mkdir} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {openStore, projectFolder, SCHEMA_VERSION} from '../../source/services/store.js';
import {currentPlatform} from '../../source/services/platform.js';

const sandbox = async () => {
	const root = await mkdtemp(path.join(os.tmpdir(), 'isg-store-'));
	const platform = {...currentPlatform({XDG_CONFIG_HOME: path.join(root, 'xdg'), HOME: path.join(root, 'home')}), os: 'linux' as const};
	return {root, platform};
};

describe('saved answers', () => {
	it('keys answers by the project folder, dots and all, in a 0600 file', async () => {
		const {root, platform} = await sandbox();
		const store = await openStore({folder: '/home/me/my.app', platform});
		store.save(answers => ({...answers, project: 'acme-ml', location: 'us-east1'}));
		const other = await openStore({folder: '/home/me/other', platform});
		expect(other.load()).toEqual({});
		expect((await openStore({folder: '/home/me/my.app', platform})).load()).toEqual({project: 'acme-ml', location: 'us-east1'});

		expect(store.path).toBe(path.join(root, 'xdg', 'imagespec-gar-nodejs', 'config.json'));
		const saved = JSON.parse(await readFile(store.path, 'utf8'));
		expect(saved.schemaVersion).toBe(SCHEMA_VERSION);
		expect(Object.keys(saved.projects)).toEqual(['/home/me/my.app']);
		expect((await stat(store.path)).mode & 0o777).toBe(0o600);
	});

	it('reports a corrupt file with its path, goes on from defaults and never rewrites it', async () => {
		const {root, platform} = await sandbox();
		const file = path.join(root, 'xdg', 'imagespec-gar-nodejs', 'config.json');
		await mkdir(path.dirname(file), {recursive: true});
		await writeFile(file, '{"projects": {oops');
		const store = await openStore({folder: '/p', platform});
		expect(store.path).toBe(file);
		expect(store.problem).toBeTruthy();
		expect(store.load()).toEqual({});
		store.save(answers => ({...answers, project: 'acme-ml'}));
		expect(await readFile(file, 'utf8')).toBe('{"projects": {oops');
	});

	it('keeps the answers another run saved for another folder since this one opened', async () => {
		const {platform} = await sandbox();
		const first = await openStore({folder: '/a', platform});
		const second = await openStore({folder: '/b', platform});
		first.save(answers => ({...answers, project: 'acme-a'}));
		second.save(answers => ({...answers, project: 'acme-b'}));
		const saved = JSON.parse(await readFile(first.path, 'utf8'));
		expect(saved.projects).toEqual({'/a': {project: 'acme-a'}, '/b': {project: 'acme-b'}});
	});

	it('names where a file of the wrong shape goes wrong', async () => {
		const {root, platform} = await sandbox();
		const file = path.join(root, 'xdg', 'imagespec-gar-nodejs', 'config.json');
		await mkdir(path.dirname(file), {recursive: true});
		const text = JSON.stringify({schemaVersion: 1, projects: {'/p': {images: {x: {name: 'x', specFile: 5}}}}});
		await writeFile(file, text);
		const store = await openStore({folder: '/p', platform});
		expect(store.problem).toBe('its shape is wrong: projects › /p › images › x › specFile must be a string');
		expect(store.load()).toEqual({});
		store.save(answers => ({...answers, project: 'acme-ml'}));
		expect(await readFile(file, 'utf8')).toBe(text);
	});

	it('finds the git root above the current folder, else uses the folder itself', async () => {
		const {root} = await sandbox();
		const repo = path.join(root, 'repo');
		await mkdir(path.join(repo, '.git'), {recursive: true});
		await mkdir(path.join(repo, 'a', 'b'), {recursive: true});
		expect(projectFolder(path.join(repo, 'a', 'b'))).toBe(repo);
		const loose = path.join(root, 'loose');
		await mkdir(loose);
		expect(projectFolder(loose)).toBe(loose);
	});
});

describe('opening the store', () => {
	it('writes no file until there is an answer to save', async () => {
		const {root, platform} = await sandbox();
		const store = await openStore({folder: '/p', platform});
		expect(store.load()).toEqual({});
		await expect(stat(path.join(root, 'xdg', 'imagespec-gar-nodejs', 'config.json'))).rejects.toThrow();
	});
});

describe('schema versions', () => {
	it('migrates a v0 file (images as a list) to v1 and keeps every answer', async () => {
		const {root, platform} = await sandbox();
		const file = path.join(root, 'xdg', 'imagespec-gar-nodejs', 'config.json');
		await mkdir(path.dirname(file), {recursive: true});
		const image = {name: 'trainer', tag: 't1', imageUri: 'u', specFile: '/p/image_specs.py', updatedAt: 'x'};
		await writeFile(file, JSON.stringify({projects: {'/p': {project: 'acme-ml', location: 'us-east1', repository: 'r', images: [image]}}}));
		const store = await openStore({folder: '/p', platform});
		expect(store.problem).toBeUndefined();
		expect(store.load()).toEqual({project: 'acme-ml', location: 'us-east1', repository: 'r', images: {trainer: image}});
		expect(JSON.parse(await readFile(file, 'utf8')).schemaVersion).toBe(SCHEMA_VERSION);
	});

	it('refuses to write over a file from a newer version', async () => {
		const {root, platform} = await sandbox();
		const file = path.join(root, 'xdg', 'imagespec-gar-nodejs', 'config.json');
		await mkdir(path.dirname(file), {recursive: true});
		const newer = JSON.stringify({schemaVersion: SCHEMA_VERSION + 1, projects: {'/p': {project: 'acme-ml'}}});
		await writeFile(file, newer);
		const store = await openStore({folder: '/p', platform});
		expect(store.problem).toContain(`schemaVersion ${SCHEMA_VERSION + 1}`);
		store.save(answers => ({...answers, project: 'other'}));
		expect(await readFile(file, 'utf8')).toBe(newer);
	});
});
