import {mkdtemp, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {computeFlyteUri, debianBaseImage} from '../../source/services/flyte-image.js';
import {FLYTE_URI_VECTORS, GAR} from '../fixtures/flyte-uri-vectors.js';

const folderWith = async (files: Record<string, string>): Promise<string> => {
	const folder = await mkdtemp(path.join(os.tmpdir(), 'isg-flyte-uri-'));
	await Promise.all(Object.entries(files).map(async ([name, text]) => writeFile(path.join(folder, name), text)));
	return folder;
};

describe('computeFlyteUri', () => {
	// The real flyte SDK cannot be installed here: the vectors come from flyte-sdk's own _image.py (see the fixture).
	it.each(FLYTE_URI_VECTORS.map(vector => [vector.id, vector] as const))('%s: the URI flyte computes', async (_id, vector) => {
		const folder = await folderWith(vector.files);
		const result = await computeFlyteUri(vector.image, {folder, installedFlyte: vector.flyteVersion, configRegistry: vector.env.FLYTE_IMAGE_REGISTRY});
		expect(result).toEqual({known: true, uri: vector.uri, tag: vector.uri.split(':').at(-1), baseImage: vector.baseImage});
	});

	it('covers every layer kind the wizard writes', () => {
		const kinds = new Set(FLYTE_URI_VECTORS.flatMap(vector => vector.image.layers.map(layer => layer.kind)));
		expect([...kinds].sort()).toEqual(['apt_packages', 'commands', 'env_vars', 'pip_packages', 'requirements']);
	});

	it('says plainly when the flyte version is unknown or a dev build, instead of a guess', async () => {
		const image = FLYTE_URI_VECTORS[0]!.image;
		const unknown = await computeFlyteUri(image, {folder: os.tmpdir()});
		expect(unknown).toEqual({known: false, reason: expect.stringContaining('neither importable nor pinned exactly')});
		const dev = await computeFlyteUri(image, {folder: os.tmpdir(), installedFlyte: '2.7.0.dev3+g1234'});
		expect(dev).toEqual({known: false, reason: expect.stringContaining('development build')});
		// A declaration that pins flyte_version does not depend on the installed one.
		expect(debianBaseImage({kind: 'debian', pythonVersion: [3, 12], flyteVersion: '2.1.0'}, '2.7.0.dev3')).toBe('ghcr.io/flyteorg/flyte:py3.12-v2.1.0');
	});

	it('says so when a requirements file cannot be read', async () => {
		const image = {name: 'x', registry: GAR, base: {kind: 'base' as const, uri: 'python:3.12'}, layers: [{kind: 'requirements' as const, file: 'missing.txt'}]};
		const result = await computeFlyteUri(image, {folder: await folderWith({})});
		expect(result).toEqual({known: false, reason: expect.stringContaining('missing.txt cannot be read')});
	});
});
