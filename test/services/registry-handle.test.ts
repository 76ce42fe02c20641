import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {CancelledError, StepError} from '../../source/services/errors.js';
import {registryHandle} from '../../source/services/registry-handle.js';
import {prestartRegistryThread, startRegistryThread, takePrestartedThread} from '../../source/services/registry-thread.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {loginOffline} from '../support/gcloud.js';
import {REPO_ROOT} from '../support/repo-root.js';

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

// The worker as the CLI runs it: the bundle's (`npm test` builds dist/ before the suite runs).
const WORKER = pathToFileURL(path.join(REPO_ROOT, 'dist', 'registry-worker.js'));
const where = {project: 'acme-ml', location: 'us-east1', repository: 'images'};

const open = async (signal?: AbortSignal) => {
	const thread = startRegistryThread({...sandbox.context(signal), signal}, WORKER, {retryDelaysMs: [10], operationPollDelaysMs: [10]});
	return {thread, registry: await thread.opened};
};

describe('the Artifact Registry client on its worker thread', () => {
	it('answers as the client does: values, pages, callbacks, NOT_FOUND as undefined; closed, it answers no more', async () => {
		fake.reset();
		for (let index = 0; index < 5; index++) fake.addRepository('acme-ml', 'us-east1', `team-${index}`);
		fake.createOperation = {polls: 2};
		const {registry} = await open();
		const pages: string[][] = [];
		for await (const page of registry.listRepositoryPages('acme-ml', 'us-east1', {pageSize: 2})) pages.push(page.map(repository => repository.id));
		expect(pages).toEqual([['team-0', 'team-1'], ['team-2', 'team-3'], ['team-4']]);
		expect(await registry.getRepository(where)).toBeUndefined();
		const pending: string[] = [];
		const {repository, created} = await registry.createDockerRepository(where, {description: 'Images', onPending: operation => pending.push(operation)});
		expect({id: repository.id, created, description: repository.description}).toEqual({id: 'images', created: true, description: 'Images'});
		expect(pending.length).toBeGreaterThan(0);
		expect(await registry.getRepository(where)).toMatchObject({id: 'images', format: 'DOCKER'});
		const policy = await registry.getIamPolicy(where);
		expect(policy.etag).toBeInstanceOf(Uint8Array);
		await registry.close();
		await expect(registry.getRepository(where)).rejects.toThrow();
	});

	it('a reader that stops early stops the pages: no further call is made', async () => {
		fake.reset();
		for (let index = 0; index < 5; index++) fake.addRepository('acme-ml', 'us-east1', `team-${index}`);
		const {registry} = await open();
		for await (const page of registry.listRepositoryPages('acme-ml', 'us-east1', {pageSize: 2})) {
			expect(page).toHaveLength(2);
			break;
		}
		await new Promise(resolve => setTimeout(resolve, 200));
		expect(fake.calls.filter(call => call.method === 'ListRepositories')).toHaveLength(1);
		await registry.close();
	});

	it('throws the same typed errors: a StepError with its reason and fix, and its cause', async () => {
		fake.reset();
		fake.disabledProjects.add('acme-ml');
		const {registry} = await open();
		const error = await registry.getRepository(where).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(StepError);
		expect(error).toMatchObject({reason: 'SERVICE_DISABLED', fix: expect.stringContaining('gcloud services enable artifactregistry.googleapis.com')});
		expect((error as StepError).cause).toMatchObject({code: 7});
		await registry.close();
	});

	it('a call whose signal aborts rejects with CancelledError at once, even with the server silent', async () => {
		fake.reset();
		const {registry} = await open();
		fake.silent = true;
		const controller = new AbortController();
		const call = registry.getRepository(where, controller.signal);
		setTimeout(() => {
			controller.abort();
		}, 100);
		const started = Date.now();
		await expect(call).rejects.toBeInstanceOf(CancelledError);
		expect(Date.now() - started).toBeLessThan(1000);
		fake.silent = false;
		// The client goes on answering other calls.
		expect(await registry.getRepository(where)).toBeUndefined();
		await registry.close();
	});

	it("the run's cancellation rejects every waiting call, and the open itself when it comes first", async () => {
		fake.reset();
		const run = new AbortController();
		const {registry} = await open(run.signal);
		fake.silent = true;
		const call = registry.listLocations('acme-ml');
		run.abort();
		await expect(call).rejects.toBeInstanceOf(CancelledError);
		fake.silent = false;
		await registry.close();

		const early = new AbortController();
		early.abort();
		const thread = startRegistryThread(sandbox.context(early.signal), WORKER);
		await expect(thread.opened).rejects.toBeInstanceOf(CancelledError);
		await thread.terminate();
	});

	it('a client that cannot open fails as it would here: NO_ADC for a credentials file that is not there', async () => {
		const bare = await makeSandbox({env: {GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/missing-key.json'}});
		try {
			const thread = startRegistryThread(bare.context(), WORKER);
			const error = await thread.opened.catch((caught: unknown) => caught);
			expect(error).toBeInstanceOf(StepError);
			expect(error).toMatchObject({reason: 'NO_ADC', message: expect.stringContaining('missing-key.json')});
			await thread.terminate();
		} finally {
			await bare.cleanup();
		}
	});

	it('a thread started before the run (by the entry) goes to the first taker, then answers to its run signal', async () => {
		fake.reset();
		prestartRegistryThread(sandbox.platform, WORKER);
		const run = new AbortController();
		const thread = takePrestartedThread(sandbox.context(run.signal));
		expect(thread).toBeDefined();
		expect(takePrestartedThread(sandbox.context())).toBeUndefined();
		const registry = await thread!.opened;
		expect(await registry.getRepository(where)).toBeUndefined();
		fake.silent = true;
		const call = registry.getRepository(where);
		run.abort();
		await expect(call).rejects.toBeInstanceOf(CancelledError);
		fake.silent = false;
		await thread!.terminate();
	});
});
