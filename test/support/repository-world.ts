/**
 * What the interactive pty tests start from: the fake Artifact Registry holding
 * acme-ml/us-east1/union-images, and a sandbox logged in offline that points at it (docker's
 * host is a closed port: these runs never push).
 */
import {makeSandbox, type Sandbox} from './environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from './fake-artifact-registry.js';
import {loginOffline} from './gcloud.js';

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
