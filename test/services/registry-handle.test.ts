import {CancelledError} from '../../source/services/errors.js';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {registryHandle} from '../../source/services/registry-handle.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';

let fake: FakeArtifactRegistry;
let sandbox: Sandbox;

beforeAll(async () => {
	fake = await startFakeArtifactRegistry();
	sandbox = await makeSandbox({env: {IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint}});
	await loginOffline(sandbox);
});

afterAll(async () => {
	await fake?.stop();
	await sandbox?.cleanup();
});

describe('the one Artifact Registry client a command owns', () => {
	it('opens once, after `after`, for every user; closed, it answers no more', async () => {
		let release!: () => void;
		const after = new Promise<void>(resolve => {
			release = resolve;
		});
		let wrapped = 0;
		const handle = registryHandle(sandbox.context(), {
			after,
			wrap(client) {
				wrapped++;
				return client;
			},
		});
		const first = handle.open();
		const second = handle.open();
		// Nothing is loaded before the first frame: the two opens wait on it, together.
		await new Promise(resolve => setTimeout(resolve, 50));
		expect(wrapped).toBe(0);
		release();
		const [a, b] = await Promise.all([first, second]);
		expect(a).toBe(b);
		expect(wrapped).toBe(1);
		fake.addRepository('acme-ml', 'us-east1', 'images');
		expect(await a.getRepository({project: 'acme-ml', location: 'us-east1', repository: 'images'})).toMatchObject({id: 'images'});
		await handle.close();
		await expect(a.getRepository({project: 'acme-ml', location: 'us-east1', repository: 'images'})).rejects.toThrow();
	});

	it('close never waits for a client still opening', async () => {
		const never = new Promise<void>(() => undefined);
		const handle = registryHandle(sandbox.context(), {after: never});
		void handle.open().catch(() => undefined);
		const started = Date.now();
		await handle.close();
		expect(Date.now() - started).toBeLessThan(1000);
	});

	it('once closed, never opens again: a check still running when the run ends starts no client', async () => {
		const handle = registryHandle(sandbox.context());
		await handle.close();
		await expect(handle.open()).rejects.toBeInstanceOf(CancelledError);
	});
});
