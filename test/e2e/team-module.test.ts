import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {computeTag, imageUri, type ImageSpec} from '../../source/services/imagespec.js';
import {imagespecGar} from '../support/cli.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';

const HOST = '127.0.0.1:5999';
const REGISTRY = `${HOST}/acme-ml/union-images`;

// A team's module as people write it: not written by the tool, names bound to values, a nested
// base, fields the wizard never asks about, a uv.lock and a copied file.
const MODULE = `from union import ImageSpec

REGISTRY = "${REGISTRY}"
PACKAGES = ["pandas==2.2.2", "pyarrow"]

base_image = ImageSpec(name="base", registry=REGISTRY, python_version="3.11", conda_packages=["numpy"], conda_channels=["conda-forge"])

trainer_image = ImageSpec(
    name="trainer", registry=REGISTRY, base_image=base_image,
    packages=PACKAGES + ["torch"], pip_extra_args="--no-cache-dir",
    cuda="12.1", cudnn="8", entrypoint=["python"], copy=["config.yaml"],
    builder_options={"cache": True, "ratio": 0.5},
)

serving_image = ImageSpec(name="serving", registry=REGISTRY, requirements="uv.lock", apt_packages=["git"])
`;

describe('a team module, read as Python reads it, through the CLI', () => {
	let sandbox: Sandbox;
	let fake: FakeArtifactRegistry;
	let env: NodeJS.ProcessEnv;

	beforeAll(async () => {
		[sandbox, fake] = await Promise.all([makeSandbox({ci: 'true'}), startFakeArtifactRegistry()]);
		await loginOffline(sandbox);
		env = {...sandbox.env, IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: HOST};
		await writeFile(path.join(sandbox.project, 'image_specs.py'), MODULE);
		await writeFile(path.join(sandbox.project, 'config.yaml'), 'lr: 0.1\n');
		await writeFile(path.join(sandbox.project, 'uv.lock'), 'version = 1\n[[package]]\nname = "fastapi"\n');
	});

	afterAll(async () => {
		await fake?.stop();
		await sandbox?.cleanup();
	});

	const rerun = async (image: string) => {
		const result = await imagespecGar(
			['--project', 'acme-ml', '--location', 'us-east1', '--repository', 'union-images', '--image', image, '--yes', '--no-build', '--json'],
			{
				cwd: sandbox.project,
				env,
			},
		);
		expect(result.stderr).not.toMatch(/Unexpected error|Traceback/);
		expect(result.code, result.stderr).toBe(0);
		return JSON.parse(result.stdout) as {tag: string; imageUri: string; specFile?: string};
	};

	it('--yes --no-build --image NAME reports the tag flytekit computes and leaves the file unchanged', async () => {
		const base: ImageSpec = {name: 'base', registry: REGISTRY, python_version: '3.11', conda_packages: ['numpy'], conda_channels: ['conda-forge']};
		const baseUri = imageUri(base, await computeTag(base, {baseDir: sandbox.project}));
		const trainer: ImageSpec = {
			name: 'trainer',
			registry: REGISTRY,
			packages: ['pandas==2.2.2', 'pyarrow', 'torch'],
			cuda: '12.1',
			cudnn: '8',
			base_image: baseUri,
			pip_extra_args: '--no-cache-dir',
			entrypoint: ['python'],
			copy: ['config.yaml'],
			builder_options: {cache: true, ratio: 0.5},
		};
		const trainerTag = await computeTag(trainer, {baseDir: sandbox.project});
		expect(await rerun('trainer')).toMatchObject({tag: trainerTag, imageUri: imageUri(trainer, trainerTag)});

		const serving: ImageSpec = {name: 'serving', registry: REGISTRY, requirements: 'uv.lock', apt_packages: ['git']};
		const servingTag = await computeTag(serving, {baseDir: sandbox.project});
		expect((await rerun('serving')).tag).toBe(servingTag);
		expect(await readFile(path.join(sandbox.project, 'image_specs.py'), 'utf8')).toBe(MODULE);
	});
});
