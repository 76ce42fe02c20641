import {mkdir, mkdtemp, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {findFlyteConfig, readFlyteImageConfig, setConfigRegistry} from '../../source/services/flyte-config.js';

const tree = async (files: Record<string, string>) => {
	const root = await mkdtemp(path.join(os.tmpdir(), 'flyte-config-'));
	for (const [file, text] of Object.entries(files)) {
		await mkdir(path.dirname(path.join(root, file)), {recursive: true});
		await writeFile(path.join(root, file), text);
	}
	return root;
};

const GAR = 'us-east1-docker.pkg.dev/acme-ml/union-images';

describe("flyte's config.yaml", () => {
	it("is found in flyte's order: ./config.yaml, ./.flyte, the git root's .flyte, UCTL_CONFIG, FLYTECTL_CONFIG, ~/.union, ~/.flyte", async () => {
		const root = await tree({
			'repo/.git/HEAD': '',
			'repo/.flyte/config.yaml': 'a: 1\n',
			'repo/app/x.py': '',
			'home/.flyte/config.yaml': '',
			'home/.union/config.yaml': '',
		});
		const app = path.join(root, 'repo', 'app');
		const home = path.join(root, 'home');
		expect(findFlyteConfig(app, {}, home)).toBe(path.join(root, 'repo', '.flyte', 'config.yaml'));
		await writeFile(path.join(app, 'config.yaml'), '');
		expect(findFlyteConfig(app, {}, home)).toBe(path.join(app, 'config.yaml'));
		expect(findFlyteConfig(root, {FLYTECTL_CONFIG: '/etc/f.yaml'}, home)).toBe('/etc/f.yaml');
		expect(findFlyteConfig(root, {}, home)).toBe(path.join(home, '.union', 'config.yaml'));
	});

	it('image.registry from the file, FLYTE_IMAGE_REGISTRY winning over it; a broken file is one clear line', async () => {
		const root = await tree({'config.yaml': `admin:\n  endpoint: dns:///acme.union.ai\nimage:\n  builder: remote\n  registry: ${GAR}\n`});
		expect(await readFlyteImageConfig(root, {}, root)).toEqual({file: path.join(root, 'config.yaml'), registry: GAR, registryFrom: 'file', builder: 'remote'});
		expect(await readFlyteImageConfig(root, {FLYTE_IMAGE_REGISTRY: 'ghcr.io/acme'}, root)).toMatchObject({
			registry: 'ghcr.io/acme',
			registryFrom: 'FLYTE_IMAGE_REGISTRY',
		});
		const broken = await tree({'config.yaml': 'image: [\n'});
		await expect(readFlyteImageConfig(broken, {}, broken)).rejects.toMatchObject({
			reason: 'FLYTE_CONFIG_INVALID',
			message: expect.stringMatching(/config\.yaml is not valid YAML: /),
		});
	});

	it('image.registry is set with every other line and comment kept', () => {
		const before = '# team settings\nadmin:\n  endpoint: dns:///acme.union.ai  # prod\nimage:\n  builder: local\n';
		expect(setConfigRegistry(before, GAR, 'config.yaml')).toBe(`${before}  registry: ${GAR}\n`);
		const replaced = setConfigRegistry(`${before}  registry: ghcr.io/old\n`, GAR, 'config.yaml');
		expect(replaced).toBe(`${before}  registry: ${GAR}\n`);
		expect(setConfigRegistry(undefined, GAR, 'config.yaml')).toBe(`image:\n  registry: ${GAR}\n`);
		expect(setConfigRegistry('admin: {}\r\n', GAR, 'config.yaml')).toBe(`admin: {}\r\nimage:\r\n  registry: ${GAR}\r\n`);
		expect(() => setConfigRegistry('- a\n- b\n', GAR, 'config.yaml')).toThrow(/not a YAML mapping/);
		expect(() => setConfigRegistry('image: {builder: local}\n', GAR, 'config.yaml')).toThrow(/not a block mapping/);
	});
});
