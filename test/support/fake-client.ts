import {afterAll, afterEach, beforeAll} from 'vitest';
import {ENDPOINT_ENV, openArtifactRegistry, type ArtifactRegistry} from '../../source/services/artifact-registry.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from './fake-artifact-registry.js';

/**
 * For one test file: the fake Artifact Registry and the real client on it (short retries),
 * reset after each test and stopped at the end. `use` receives both once they run.
 */
export const withFakeArtifactRegistry = (use: (fake: FakeArtifactRegistry, registry: ArtifactRegistry) => void) => {
	let fake: FakeArtifactRegistry | undefined;
	let registry: ArtifactRegistry | undefined;

	beforeAll(async () => {
		fake = await startFakeArtifactRegistry();
		registry = await openArtifactRegistry(
			{platform: {os: 'linux', arch: 'x64', env: {[ENDPOINT_ENV]: fake.endpoint}, home: '/nonexistent'}},
			{retryDelaysMs: [1]},
		);
		use(fake, registry);
	});

	afterAll(async () => {
		await registry?.close();
		await fake?.stop();
	});

	afterEach(() => {
		fake?.reset();
	});
};
