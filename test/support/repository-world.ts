/**
 * What the interactive pty tests start from: the fake Artifact Registry holding
 * acme-ml/us-east1/union-images, and a sandbox logged in offline that points at it (docker's
 * host is a closed port: these runs never push).
 */
import {afterAll, beforeAll} from 'vitest';
import {makeSandbox, type Sandbox} from './environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from './fake-artifact-registry.js';
import {loginOffline} from './gcloud.js';

/** Where the tests' images live, as flags: acme-ml/us-east1 and a repository (the fake's, by default). */
export const whereFlags = (repository = 'union-images'): string[] => ['--project', 'acme-ml', '--location', 'us-east1', '--repository', repository];

/** A world for one describe block: started before its tests, stopped after them. */
export const useRepositoryWorld = (): (() => RepositoryWorld) => {
	let world: RepositoryWorld | undefined;
	beforeAll(async () => {
		world = await startRepositoryWorld();
	});
	afterAll(async () => world?.stop());
	return () => world!;
};

export type RepositoryWorld = {fake: FakeArtifactRegistry; sandbox: Sandbox; stop: () => Promise<void>};

export const startRepositoryWorld = async (): Promise<RepositoryWorld> => {
	const fake = await startFakeArtifactRegistry();
	fake.addRepository('acme-ml', 'us-east1', 'union-images');
	const sandbox = await makeSandbox({env: {IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint, IMAGESPEC_GAR_REGISTRY_HOST: '127.0.0.1:9'}});
	await loginOffline(sandbox);
	return {
		fake,
		sandbox,
		async stop() {
			await fake.stop();
			await sandbox.cleanup();
		},
	};
};
