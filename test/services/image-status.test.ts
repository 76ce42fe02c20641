import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {openArtifactRegistry, type ArtifactRegistry, type RepositoryRef} from '../../source/services/artifact-registry.js';
import {imageStatuses, whatChanged} from '../../source/services/image-status.js';
import {computeTag, parseGarRegistry} from '../../source/services/imagespec.js';
import {readModuleImages} from '../../source/services/module-images.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';

const REGISTRY = 'us-east1-docker.pkg.dev/acme-ml/union-images';
const REPOSITORY = 'projects/acme-ml/locations/us-east1/repositories/union-images';
const platform = (endpoint: string) => ({os: 'linux' as const, arch: 'x64', env: {IMAGESPEC_GAR_API_ENDPOINT: endpoint}, home: '/nonexistent'});
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const whereOf = (registry: string): RepositoryRef | undefined => {
	const gar = parseGarRegistry(registry);
	return gar ? {project: gar.project, location: gar.location, repository: gar.repository} : undefined;
};

const MODULE = `# Managed by imagespec-gar
import union

trainer_image = union.ImageSpec(
    name="trainer",
    python_version="3.12",
    registry="${REGISTRY}",
    packages=["pandas"],
)

scorer_image = union.ImageSpec(
    name="scorer",
    python_version="3.12",
    registry="${REGISTRY}",
    requirements="requirements.txt",
)

fresh_image = union.ImageSpec(
    name="fresh",
    python_version="3.12",
    registry="${REGISTRY}",
)

shipped_image = union.ImageSpec(
    name="shipped",
    registry="${REGISTRY}",
    source_root=".",
    copy=["src"],
)

hub_image = union.ImageSpec(
    name="hub",
    registry="ghcr.io/acme",
)
`;

describe('imageStatuses: one row per declared image, from one listing of the repository', () => {
	let fake: FakeArtifactRegistry;
	let client: ArtifactRegistry;
	let folder: string;

	beforeAll(async () => {
		fake = await startFakeArtifactRegistry();
		fake.addRepository('acme-ml', 'us-east1', 'union-images');
		client = await openArtifactRegistry({platform: platform(fake.endpoint)}, {retryDelaysMs: [1]});
		folder = await mkdtemp(path.join(os.tmpdir(), 'image-status-'));
		await writeFile(path.join(folder, 'image_specs.py'), MODULE);
		await writeFile(path.join(folder, 'requirements.txt'), 'pandas==2.2.2\n');
	});

	afterAll(async () => {
		await client?.close();
		await fake?.stop();
		await rm(folder, {recursive: true, force: true});
	});

	const read = async () => readModuleImages({platform: platform(fake.endpoint)}, {moduleFile: path.join(folder, 'image_specs.py'), folder});

	it('says pushed, stale (with what changed), missing, cannot tell and not checked, paging through 2,500 images in 3 calls', async () => {
		const {specs} = await read();
		const tagOf = (name: string) => specs.find(image => image.spec.name === name)!.tag!;
		// 2,500 images of other names, then the trainer's current tag and an old tag of the scorer.
		fake.seedDockerImages(
			REPOSITORY,
			Array.from({length: 2500}, (_, n) => ({image: `other-${String(n).padStart(4, '0')}`, digest: digest(n + 10), tags: ['v1']})),
		);
		fake.seedDockerImages(REPOSITORY, [
			{image: 'trainer', digest: digest(1), tags: [tagOf('trainer'), 'latest'], sizeBytes: 1234, uploadTime: new Date('2026-11-30T10:00:00Z')},
			{image: 'scorer', digest: digest(2), tags: ['oldtag'], uploadTime: new Date('2026-11-29T10:00:00Z')},
		]);
		fake.calls.length = 0;

		const specFile = path.join(folder, 'image_specs.py');
		const saved = {scorer: {name: 'scorer', tag: 'oldtag', imageUri: '', specFile, pythonVersion: '3.12', requirements: 'requirements.txt', updatedAt: ''}};
		const rows = await imageStatuses(specs, {whereOf, registry: {open: async () => client}, saved});
		expect(fake.calls.map(call => call.method)).toEqual(['ListDockerImages', 'ListDockerImages', 'ListDockerImages']);
		expect(fake.calls.map(call => call.request.pageSize)).toEqual([1000, 1000, 1000]);

		const byName = Object.fromEntries(rows.map(row => [row.name, row]));
		expect(byName.trainer).toMatchObject({state: 'pushed', tag: tagOf('trainer'), digest: digest(1), sizeBytes: 1234, uploadTime: '2026-11-30T10:00:00.000Z'});
		expect(byName.scorer).toMatchObject({state: 'stale', otherTags: ['oldtag'], changed: 'requirements.txt changed since the last push'});
		expect(byName.fresh).toMatchObject({state: 'missing', tag: tagOf('fresh')});
		expect(byName.shipped).toMatchObject({state: 'cannot-tell', reason: 'TAG_DEPENDS_ON_REGISTER'});
		expect(byName.shipped!.detail).toContain('`union register` loads');
		expect(byName.hub).toMatchObject({state: 'not-checked', reason: 'NOT_ARTIFACT_REGISTRY'});
		expect(rows.map(row => row.variable)).toEqual(['trainer_image', 'scorer_image', 'fresh_image', 'shipped_image', 'hub_image']);
	});

	it('a listing refused (no permission) makes its images cannot tell, with the permission and the fix', async () => {
		const {specs} = await read();
		fake.deniedPermissions.add('artifactregistry.dockerimages.list');
		try {
			const rows = await imageStatuses(specs, {whereOf, registry: {open: async () => client}});
			const trainer = rows.find(row => row.name === 'trainer')!;
			expect(trainer).toMatchObject({state: 'cannot-tell', reason: 'IAM_PERMISSION_DENIED'});
			expect(trainer.detail).toContain('artifactregistry.dockerimages.list');
			expect(trainer.fix).toContain('Artifact Registry Reader');
			// Other registries are still listed, not checked.
			expect(rows.find(row => row.name === 'hub')!.state).toBe('not-checked');
		} finally {
			fake.deniedPermissions.clear();
		}
	});

	it('a requirements file that cannot be read is a cannot-tell row, not a failure of the whole status', async () => {
		await rm(path.join(folder, 'requirements.txt'));
		try {
			const {specs} = await read();
			const rows = await imageStatuses(specs, {whereOf, registry: {open: async () => client}});
			expect(rows.find(row => row.name === 'scorer')).toMatchObject({state: 'cannot-tell', reason: 'REQUIREMENTS_UNREADABLE'});
			expect(rows.find(row => row.name === 'fresh')!.state).not.toBe('cannot-tell');
		} finally {
			await writeFile(path.join(folder, 'requirements.txt'), 'pandas==2.2.2\n');
		}
	});

	it('names the changed fields of the declaration when the saved answers know the last push', async () => {
		const spec = {name: 'trainer', python_version: '3.12', registry: REGISTRY, packages: ['pandas', 'numpy']};
		const tag = await computeTag(spec, {baseDir: folder});
		const saved = {name: 'trainer', tag: 'before', imageUri: '', specFile: '/x/image_specs.py', pythonVersion: '3.11', packages: ['pandas'], updatedAt: ''};
		expect(whatChanged({variable: 'trainer_image', spec, tag}, saved, ['before'])).toBe('image_specs.py changed since the last push: python_version, packages');
		// The last push's tag is gone from the repository: the tool cannot tell what changed.
		expect(whatChanged({variable: 'trainer_image', spec, tag}, saved, ['another'])).toBeUndefined();
	});
});
