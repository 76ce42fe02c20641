import {mkdtemp, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {computeFlyteUri, type FlyteImage} from '../../source/services/flyte-image.js';
import {readFlyteModuleImages} from '../../source/services/flyte-images.js';
import {renderFlyteModule} from '../../source/services/flyte-module.js';
import {currentPlatform} from '../../source/services/platform.js';
import {withEnv} from '../support/environment.js';

const REGISTRY = 'us-east1-docker.pkg.dev/acme-ml/union-images';
// No registry=: flyte pushes it to image.registry of its config.
const TRAINER: FlyteImage = {
	name: 'trainer',
	platform: ['linux/amd64'],
	base: {kind: 'debian', pythonVersion: [3, 12]},
	layers: [{kind: 'pip_packages', packages: ['pandas']}],
};

/**
 * What status and build read of a Flyte 2 module whose declarations name no registry: the
 * registry flyte's config gives them. flyte cannot be installed here: with Python, the recording
 * stand-in plays it; without Python, the tool's own declarations are read as written.
 */
describe("readFlyteModuleImages: a declaration without registry= takes flyte's image.registry", () => {
	const project = async () => {
		const folder = await mkdtemp(path.join(os.tmpdir(), 'isg-flyte-images-'));
		await writeFile(path.join(folder, 'requirements.txt'), 'flyte==2.6.5\n');
		await writeFile(path.join(folder, 'flyte_images.py'), renderFlyteModule([TRAINER]));
		await writeFile(path.join(folder, 'config.yaml'), `# team\nimage:\n  registry: ${REGISTRY}\n  builder: local\n`);
		return folder;
	};

	for (const [how, env] of [
		['with Python (the stand-in plays flyte)', {PYTHONPATH: undefined}],
		['without Python (read as written)', {PATH: '/nonexistent'}],
	] as const) {
		it(how, async () => {
			const folder = await project();
			const platform = withEnv(currentPlatform({...process.env, HOME: folder, FLYTE_IMAGE_REGISTRY: undefined}), env);
			const {specs} = await readFlyteModuleImages({platform}, {moduleFile: path.join(folder, 'flyte_images.py'), folder, pinnedFlyte: '2.6.5'});
			const expected = await computeFlyteUri({...TRAINER, registry: REGISTRY}, {folder, installedFlyte: '2.6.5'});
			expect(expected.known && expected.uri.startsWith(`${REGISTRY}/trainer:`)).toBe(true);
			expect(specs).toEqual([
				expect.objectContaining({
					variable: 'trainer_image',
					spec: expect.objectContaining({name: 'trainer', registry: REGISTRY}),
					uri: expected.known && expected.uri,
					flyte: {image: {...TRAINER, registry: REGISTRY}, environment: 'trainer_env'},
				}),
			]);

			// FLYTE_IMAGE_REGISTRY wins over the file, as in flyte.
			const other = 'europe-west4-docker.pkg.dev/acme-ml/eu-images';
			const overridden = await readFlyteModuleImages(
				{platform: withEnv(platform, {FLYTE_IMAGE_REGISTRY: other})},
				{moduleFile: path.join(folder, 'flyte_images.py'), folder, pinnedFlyte: '2.6.5'},
			);
			expect(overridden.specs[0]?.uri).toMatch(new RegExp(`^${other}/trainer:[a-f\\d]{32}$`));
		});
	}
});
