import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from 'vitest';
import {
	ENDPOINT_ENV,
	openArtifactRegistry,
	repositoryName,
	repositoryParent,
	validateRepositoryId,
	type ArtifactRegistry,
	type OpenArtifactRegistryOptions,
	type Repository,
} from '../../source/services/artifact-registry.js';
import type {ServiceContext} from '../../source/services/context.js';
import {KNOWN_LOCATIONS} from '../../source/services/locations.js';
import {CancelledError, StepError} from '../../source/services/errors.js';
import {startFakeArtifactRegistry, type FakeArtifactRegistry} from '../support/fake-artifact-registry.js';

const PROJECT = 'acme-dev';
const LOCATION = 'us-central1';
const FAST_RETRIES = [1, 1, 1];

const tempDirs: string[] = [];
const tempDir = (): string => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gar-test-'));
	tempDirs.push(dir);
	return dir;
};

const contextFor = (env: NodeJS.ProcessEnv, signal?: AbortSignal): ServiceContext => ({
	platform: {os: 'linux', arch: 'x64', env, home: tempDir()},
	...(signal ? {signal} : {}),
});

let fake: FakeArtifactRegistry;
const FAST_POLLS = [5, 10, 20];
const open = async (signal?: AbortSignal, options: OpenArtifactRegistryOptions = {}): Promise<ArtifactRegistry> =>
	openArtifactRegistry(contextFor({[ENDPOINT_ENV]: fake.endpoint}, signal), {retryDelaysMs: FAST_RETRIES, operationPollDelaysMs: FAST_POLLS, ...options});

const methods = () => fake.calls.map(call => call.method);

const caught = async (promise: Promise<unknown>): Promise<unknown> =>
	promise.then(
		value => {
			throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
		},
		(error: unknown) => error,
	);

const collect = async (pages: AsyncIterable<Repository[]>): Promise<Repository[][]> => {
	const all: Repository[][] = [];
	for await (const page of pages) all.push(page);
	return all;
};

// Every warning or stderr write while this file runs, to prove the library stays quiet. Plain
// wrappers, not vi.spyOn: vitest 5 clears mock calls before each test (clearMocks defaults on).
const emitted: unknown[][] = [];
const written: string[] = [];
const warningEvents: Error[] = [];
const onWarning = (warning: Error) => warningEvents.push(warning);
const DELIBERATE = 'imagespec-gar deliberate test warning';
let muteStderr = false;
let unwrap = () => {};

beforeAll(async () => {
	fake = await startFakeArtifactRegistry();
	// Opening once installs our warning filter; wrapping after it sees what the library emits raw.
	await (await open()).close();
	const emitWarning = process.emitWarning;
	const write = process.stderr.write;
	process.emitWarning = function (this: unknown, ...args: unknown[]) {
		emitted.push(args);
		return (emitWarning as (...args: unknown[]) => void).apply(process, args);
	} as typeof process.emitWarning;
	process.stderr.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
		written.push(String(chunk));
		if (muteStderr) return true;
		return (write as (...args: unknown[]) => boolean).apply(this, [chunk, ...rest]);
	} as typeof process.stderr.write;
	process.on('warning', onWarning);
	unwrap = () => {
		process.emitWarning = emitWarning;
		process.stderr.write = write;
		process.off('warning', onWarning);
	};
});

afterAll(async () => {
	unwrap();
	await fake.stop();
	for (const dir of tempDirs) fs.rmSync(dir, {recursive: true, force: true});
	// Failing here fails the file: nothing from the library may reach stderr in any test.
	expect(emitted.filter(([warning]) => !String(warning).includes(DELIBERATE))).toEqual([]);
	expect(written.filter(chunk => !chunk.includes(DELIBERATE) && !chunk.includes('--trace-warnings'))).toEqual([]);
	expect(warningEvents).toEqual([]);
});

afterEach(() => {
	fake.reset();
});

describe('listRepositoryPages', () => {
	it('pages lazily: 250 repositories at pageSize 100 arrive as 100, 100, 50, one call per page', async () => {
		for (let index = 0; index < 250; index++) fake.addRepository(PROJECT, LOCATION, `repo-${String(index).padStart(3, '0')}`);
		fake.addRepository(PROJECT, 'europe-west1', 'elsewhere');
		fake.addRepository('other-project', LOCATION, 'not-mine');
		const registry = await open();
		try {
			const iterator = registry.listRepositoryPages(PROJECT, LOCATION, {pageSize: 100})[Symbol.asyncIterator]();
			const first = await iterator.next();
			expect(first.done).toBe(false);
			expect(first.value).toHaveLength(100);
			// The first page is in hand before the second is even asked for.
			expect(methods()).toEqual(['ListRepositories']);

			const rest: Repository[][] = [];
			for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest.push(next.value);
			expect(rest.map(page => page.length)).toEqual([100, 50]);
			expect(methods()).toEqual(['ListRepositories', 'ListRepositories', 'ListRepositories']);

			const requests = fake.calls.map(call => call.request as {parent: string; pageSize: number; pageToken?: string});
			expect(requests.map(request => request.parent)).toEqual(Array(3).fill(repositoryParent(PROJECT, LOCATION)));
			expect(requests.map(request => request.pageSize)).toEqual([100, 100, 100]);
			expect(requests[0]!.pageToken ?? '').toBe('');
			expect(requests[1]!.pageToken).not.toBe('');

			const ids = [first.value as Repository[], ...rest].flat().map(repository => repository.id);
			expect(new Set(ids).size).toBe(250);
			expect(ids).not.toContain('elsewhere');
			expect(ids).not.toContain('not-mine');
		} finally {
			await registry.close();
		}
	});

	it('asks for a small first page, then bigger ones', async () => {
		for (let index = 0; index < 350; index++) fake.addRepository(PROJECT, LOCATION, `repo-${String(index).padStart(3, '0')}`);
		const registry = await open();
		try {
			const pages = await collect(registry.listRepositoryPages(PROJECT, LOCATION, {firstPageSize: 50, pageSize: 200}));
			expect(pages.map(page => page.length)).toEqual([50, 200, 100]);
			expect(fake.calls.map(call => (call.request as {pageSize: number}).pageSize)).toEqual([50, 200, 200]);
			expect(new Set(pages.flat().map(repository => repository.id)).size).toBe(350);
		} finally {
			await registry.close();
		}
	});

	it('maps each repository to a plain Repository', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images', {description: 'team images', sizeBytes: 123_456_789});
		fake.addRepository(PROJECT, LOCATION, 'jars', {format: 'MAVEN'});
		const registry = await open();
		try {
			const [page] = await collect(registry.listRepositoryPages(PROJECT, LOCATION));
			expect(page).toHaveLength(2);
			const images = page!.find(repository => repository.id === 'images');
			expect(images).toMatchObject({
				name: `projects/${PROJECT}/locations/${LOCATION}/repositories/images`,
				id: 'images',
				project: PROJECT,
				location: LOCATION,
				format: 'DOCKER',
				description: 'team images',
				sizeBytes: 123_456_789,
				labels: {},
			});
			expect(images!.createTime).toMatch(/^\d{4}-\d\d-\d\dT/);
			expect(page!.find(repository => repository.id === 'jars')?.format).toBe('MAVEN');
			// Without a page size it asks for 100 at a time.
			expect((fake.calls[0]!.request as {pageSize: number}).pageSize).toBe(100);
		} finally {
			await registry.close();
		}
	});

	it('filters by name prefix on the server', async () => {
		for (const id of ['team-a-base', 'team-a-gpu', 'team-b-base']) fake.addRepository(PROJECT, LOCATION, id);
		const registry = await open();
		try {
			const pages = await collect(registry.listRepositoryPages(PROJECT, LOCATION, {prefix: 'team-a'}));
			expect(pages.flat().map(repository => repository.id)).toEqual(['team-a-base', 'team-a-gpu']);
			expect((fake.calls[0]!.request as {filter: string}).filter).toBe(`name="projects/${PROJECT}/locations/${LOCATION}/repositories/team-a*"`);
		} finally {
			await registry.close();
		}
	});

	it('yields one empty page when there is nothing', async () => {
		const registry = await open();
		try {
			expect(await collect(registry.listRepositoryPages(PROJECT, LOCATION))).toEqual([[]]);
		} finally {
			await registry.close();
		}
	});

	it('retries UNAVAILABLE and then succeeds', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.failNext('ListRepositories', {code: 14, message: 'Connection reset by peer'}, 2);
		const registry = await open();
		try {
			const pages = await collect(registry.listRepositoryPages(PROJECT, LOCATION));
			expect(pages.flat().map(repository => repository.id)).toEqual(['images']);
			expect(methods()).toEqual(['ListRepositories', 'ListRepositories', 'ListRepositories']);
		} finally {
			await registry.close();
		}
	});

	it('gives up after the retries with a network StepError', async () => {
		fake.failNext('ListRepositories', {code: 4, message: 'Deadline exceeded'}, 10);
		const registry = await open();
		try {
			const error = await caught(collect(registry.listRepositoryPages(PROJECT, LOCATION)));
			expect(error).toBeInstanceOf(StepError);
			expect(error).toMatchObject({reason: 'DEADLINE_EXCEEDED'});
			expect((error as StepError).message).toMatch(/Could not reach Artifact Registry to list repositories in us-central1/);
			expect((error as StepError).fix).toMatch(/network/);
			// One try plus one per retry delay.
			expect(methods()).toHaveLength(1 + FAST_RETRIES.length);
		} finally {
			await registry.close();
		}
	});

	it('is cancelled by its AbortSignal while waiting to retry', async () => {
		fake.failNext('ListRepositories', {code: 14, message: 'unavailable'}, 5);
		const registry = await openArtifactRegistry(contextFor({[ENDPOINT_ENV]: fake.endpoint}), {retryDelaysMs: [30_000]});
		try {
			const controller = new AbortController();
			const started = Date.now();
			const pending = caught(collect(registry.listRepositoryPages(PROJECT, LOCATION, {signal: controller.signal})));
			await vi.waitFor(() => expect(methods()).toEqual(['ListRepositories']));
			controller.abort();
			expect(await pending).toBeInstanceOf(CancelledError);
			expect(Date.now() - started).toBeLessThan(10_000);
		} finally {
			await registry.close();
		}
	});
});

describe('getRepository', () => {
	it('returns the repository when it exists', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images', {description: 'x'});
		const registry = await open();
		try {
			const repository = await registry.getRepository({project: PROJECT, location: LOCATION, repository: 'images'});
			expect(repository).toMatchObject({id: 'images', format: 'DOCKER', description: 'x', project: PROJECT, location: LOCATION});
			expect(fake.calls).toEqual([{method: 'GetRepository', request: {name: `projects/${PROJECT}/locations/${LOCATION}/repositories/images`}}]);
		} finally {
			await registry.close();
		}
	});

	it('returns undefined on NOT_FOUND', async () => {
		const registry = await open();
		try {
			expect(await registry.getRepository({project: PROJECT, location: LOCATION, repository: 'missing'})).toBeUndefined();
		} finally {
			await registry.close();
		}
	});

	it('says "does not exist or you cannot see it" on PERMISSION_DENIED', async () => {
		fake.failNext('GetRepository', {
			code: 7,
			message:
				`Permission 'artifactregistry.repositories.get' denied on resource ` +
				`'//artifactregistry.googleapis.com/projects/${PROJECT}/locations/${LOCATION}/repositories/hidden' (or it may not exist).`,
		});
		const registry = await open();
		try {
			const error = await caught(registry.getRepository({project: PROJECT, location: LOCATION, repository: 'hidden'}));
			expect(error).toBeInstanceOf(StepError);
			expect((error as StepError).message).toMatch(/does not exist or you cannot see it/);
			expect((error as StepError).reason).toBe('NOT_FOUND');
		} finally {
			await registry.close();
		}
	});

	it('throws CancelledError when the signal is already aborted, without calling the API', async () => {
		const registry = await open();
		try {
			const error = await caught(registry.getRepository({project: PROJECT, location: LOCATION, repository: 'images'}, AbortSignal.abort()));
			expect(error).toBeInstanceOf(CancelledError);
			expect(fake.calls).toEqual([]);
		} finally {
			await registry.close();
		}
	});
});

describe('createDockerRepository', () => {
	it('creates a Docker repository labelled managed-by imagespec-gar and waits for it', async () => {
		const registry = await open();
		try {
			const result = await registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'}, {description: 'ImageSpec images'});
			expect(result.created).toBe(true);
			expect(result.repository).toMatchObject({
				name: `projects/${PROJECT}/locations/${LOCATION}/repositories/images`,
				id: 'images',
				format: 'DOCKER',
				description: 'ImageSpec images',
				labels: {'managed-by': 'imagespec-gar'},
				sizeBytes: 0,
			});
			expect(result.repository.createTime).toMatch(/^\d{4}-\d\d-\d\dT/);

			const stored = fake.repositories.get(`projects/${PROJECT}/locations/${LOCATION}/repositories/images`);
			expect(stored).toMatchObject({format: 'DOCKER', mode: 'STANDARD_REPOSITORY', labels: {'managed-by': 'imagespec-gar'}});
			expect(fake.calls).toEqual([
				{
					method: 'CreateRepository',
					request: expect.objectContaining({
						parent: `projects/${PROJECT}/locations/${LOCATION}`,
						repositoryId: 'images',
						repository: expect.objectContaining({format: 'DOCKER', mode: 'STANDARD_REPOSITORY'}),
					}),
				},
			]);
		} finally {
			await registry.close();
		}
	});

	it('treats an existing Docker repository as success (created: false)', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images', {description: 'made by a teammate'});
		const registry = await open();
		try {
			const result = await registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'});
			expect(result.created).toBe(false);
			expect(result.repository).toMatchObject({id: 'images', format: 'DOCKER', description: 'made by a teammate'});
			expect(methods()).toEqual(['CreateRepository', 'GetRepository']);
		} finally {
			await registry.close();
		}
	});

	it('refuses an existing repository of another format', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images', {format: 'MAVEN'});
		const registry = await open();
		try {
			const error = await caught(registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'}));
			expect(error).toBeInstanceOf(StepError);
			expect((error as StepError).message).toMatch(/already exists.*format MAVEN/);
			expect((error as StepError).reason).toBe('WRONG_FORMAT');
		} finally {
			await registry.close();
		}
	});

	it('rejects an invalid id before calling the API', async () => {
		const registry = await open();
		try {
			const error = await caught(registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'My_Repo'}));
			expect(error).toBeInstanceOf(StepError);
			expect((error as StepError).message).toMatch(/lowercase letters, numbers, and hyphens/);
			expect(fake.calls).toEqual([]);
		} finally {
			await registry.close();
		}
	});

	it('maps SERVICE_DISABLED to the enable command and the activation URL', async () => {
		const activationUrl = 'https://console.developers.google.com/apis/api/artifactregistry.googleapis.com/overview?project=123456';
		fake.failNext('CreateRepository', {
			code: 7,
			message: `Artifact Registry API has not been used in project 123456 before or it is disabled. Enable it by visiting ${activationUrl} then retry.`,
			reason: 'SERVICE_DISABLED',
			domain: 'googleapis.com',
			metadata: {activationUrl, consumer: 'projects/123456', service: 'artifactregistry.googleapis.com'},
		});
		const registry = await open();
		try {
			const error = await caught(registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'}));
			expect(error).toBeInstanceOf(StepError);
			expect(error).toMatchObject({reason: 'SERVICE_DISABLED', message: `Artifact Registry API is disabled in project ${PROJECT}.`});
			expect((error as StepError).fix).toContain(`gcloud services enable artifactregistry.googleapis.com --project ${PROJECT}`);
			expect((error as StepError).fix).toContain(activationUrl);
			expect(fake.repositories.size).toBe(0);
		} finally {
			await registry.close();
		}
	});

	it('maps IAM_PERMISSION_DENIED to the permission and the Administrator role', async () => {
		fake.failNext('CreateRepository', {
			code: 7,
			message:
				`Permission 'artifactregistry.repositories.create' denied on resource ` +
				`'//artifactregistry.googleapis.com/projects/${PROJECT}/locations/${LOCATION}' (or it may not exist).`,
			reason: 'IAM_PERMISSION_DENIED',
			domain: 'artifactregistry.googleapis.com',
			metadata: {permission: 'artifactregistry.repositories.create', resource: `projects/${PROJECT}/locations/${LOCATION}`},
		});
		const registry = await open();
		try {
			const error = await caught(registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'}));
			expect(error).toBeInstanceOf(StepError);
			expect((error as StepError).reason).toBe('IAM_PERMISSION_DENIED');
			expect((error as StepError).message).toContain('artifactregistry.repositories.create');
			expect((error as StepError).message).toContain(`project ${PROJECT}`);
			expect((error as StepError).fix).toContain('Artifact Registry Administrator (roles/artifactregistry.admin)');
			expect((error as StepError).fix).toMatch(/pick an existing repository/);
		} finally {
			await registry.close();
		}
	});

	it('retries UNAVAILABLE and then creates', async () => {
		fake.failNext('CreateRepository', {code: 14, message: 'upstream connect error'});
		const registry = await open();
		try {
			const result = await registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'});
			expect(result.created).toBe(true);
			expect(methods()).toEqual(['CreateRepository', 'CreateRepository']);
		} finally {
			await registry.close();
		}
	});

	it('does not retry errors that are not transient', async () => {
		fake.failNext('CreateRepository', {code: 16, message: 'Request had invalid authentication credentials.'}, 3);
		const registry = await open();
		try {
			const error = await caught(registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'}));
			expect(error).toMatchObject({reason: 'UNAUTHENTICATED', fix: 'gcloud auth application-default login'});
			expect(methods()).toEqual(['CreateRepository']);
		} finally {
			await registry.close();
		}
	});
});

describe('listLocations', () => {
	it('returns the live list, multi-regions first', async () => {
		const registry = await open();
		try {
			expect(await registry.listLocations(PROJECT)).toEqual(['asia', 'europe', 'us', 'europe-west1', 'us-central1', 'us-east1']);
			expect(fake.calls).toEqual([{method: 'ListLocations', request: expect.objectContaining({name: `projects/${PROJECT}`})}]);
		} finally {
			await registry.close();
		}
	});

	it('falls back to the known locations when the API fails', async () => {
		fake.failNext('ListLocations', {code: 7, message: 'denied', reason: 'SERVICE_DISABLED'});
		const registry = await open();
		try {
			expect(await registry.listLocations(PROJECT)).toEqual([...KNOWN_LOCATIONS]);
			expect(methods()).toEqual(['ListLocations']);
		} finally {
			await registry.close();
		}
	});
});

describe('openArtifactRegistry without the endpoint override', () => {
	const noAdcEnv = (withKeyVariable: boolean): NodeJS.ProcessEnv => {
		const home = tempDir();
		return {
			HOME: home,
			CLOUDSDK_CONFIG: tempDir(),
			METADATA_SERVER_DETECTION: 'none',
			...(withKeyVariable ? {GOOGLE_APPLICATION_CREDENTIALS: path.join(home, 'missing-key.json')} : {}),
		};
	};

	// The library reads process.env itself, so both the platform and the process get the same env.
	const expectNoAdc = async (env: NodeJS.ProcessEnv) => {
		for (const name of ['GOOGLE_APPLICATION_CREDENTIALS', 'GCE_METADATA_HOST', 'GCE_METADATA_IP', ENDPOINT_ENV]) vi.stubEnv(name, undefined);
		for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
		const rejections: unknown[] = [];
		const onRejection = (reason: unknown) => rejections.push(reason);
		process.on('unhandledRejection', onRejection);
		try {
			const started = Date.now();
			const result = await Promise.race([
				caught(openArtifactRegistry({platform: {os: 'linux', arch: 'x64', env, home: env.HOME!}}, {retryDelaysMs: FAST_RETRIES})),
				new Promise(resolve => setTimeout(() => resolve('hung'), 10_000)),
			]);
			expect(result).toBeInstanceOf(StepError);
			expect(result).toMatchObject({reason: 'NO_ADC', fix: expect.stringContaining('gcloud auth application-default login')});
			expect(Date.now() - started).toBeLessThan(5000);
			// Give a stray rejection from the library's own initialize() time to surface.
			await new Promise(resolve => setTimeout(resolve, 200));
			expect(rejections).toEqual([]);
			return result as StepError;
		} finally {
			process.off('unhandledRejection', onRejection);
			vi.unstubAllEnvs();
		}
	};

	it('names GOOGLE_APPLICATION_CREDENTIALS when it points at a missing file', async () => {
		const error = await expectNoAdc(noAdcEnv(true));
		expect(error.message).toContain('missing-key.json');
	});

	it('turns "Could not load the default credentials" into NO_ADC, not an unhandled rejection', async () => {
		const error = await expectNoAdc(noAdcEnv(false));
		expect(error.message).toMatch(/Application Default Credentials/);
		expect((error.cause as Error).message).toMatch(/Could not load the default credentials/);
	});

	it('rejects a malformed endpoint override', async () => {
		const error = await caught(openArtifactRegistry(contextFor({[ENDPOINT_ENV]: 'localhost'})));
		expect(error).toMatchObject({reason: 'BAD_ENDPOINT'});
	});
});

describe('validateRepositoryId', () => {
	it.each(['images', 'a', 'my-repo-1', 'a'.repeat(63)])('accepts %s', id => {
		expect(validateRepositoryId(id)).toBeUndefined();
	});

	it.each(['Images', '1images', 'images-', 'my_repo', 'my.repo', '-images', 'imäges'])('rejects %s with gcloud’s wording', id => {
		expect(validateRepositoryId(id)).toBe(
			'Names may only contain lowercase letters, numbers, and hyphens, and must begin with a letter and end with a letter or number.',
		);
	});

	it('requires a name and caps it at 63 characters', () => {
		expect(validateRepositoryId('')).toMatch(/is required/);
		expect(validateRepositoryId('a'.repeat(64))).toMatch(/at most 63 characters/);
	});
});

describe('quiet library', () => {
	it('drops a MetadataLookupWarning before Node prints it', async () => {
		// Keep the unrelated warning Node does print out of the test output.
		muteStderr = true;
		try {
			process.emitWarning(DELIBERATE, 'MetadataLookupWarning');
			process.emitWarning(`${DELIBERATE} (kept)`, 'SomeOtherWarning');
			expect(emitted.map(([warning]) => warning)).toContain(DELIBERATE);
			// Node emits 'warning' on the next tick; only the unrelated one may get there.
			await new Promise(resolve => setImmediate(resolve));
			await new Promise(resolve => setImmediate(resolve));
		} finally {
			muteStderr = false;
		}
		expect(warningEvents.map(warning => warning.name)).toEqual(['SomeOtherWarning']);
		warningEvents.length = 0;
	});
});

describe('createDockerRepository settings and its long-running operation', () => {
	const NAME = `projects/${PROJECT}/locations/${LOCATION}/repositories/images`;

	it('sends description, labels (managed-by always), immutable tags and a keep-N cleanup policy', async () => {
		const registry = await open();
		try {
			const result = await registry.createDockerRepository(
				{project: PROJECT, location: LOCATION, repository: 'images'},
				{
					description: 'team images',
					labels: {team: 'ml'},
					immutableTags: true,
					cleanup: {kind: 'keep', count: 5},
				},
			);
			expect(result.created).toBe(true);
			expect(result.repository.labels).toEqual({team: 'ml', 'managed-by': 'imagespec-gar'});
			const stored = fake.repositories.get(NAME)!;
			expect(stored).toMatchObject({
				format: 'DOCKER',
				description: 'team images',
				labels: {team: 'ml', 'managed-by': 'imagespec-gar'},
				dockerConfig: {immutableTags: true},
			});
			// A keep policy only exempts versions from a delete policy: both are sent.
			// toMatchObject: proto-loader adds its oneof markers (conditionType, _keepCount) to what it decodes.
			expect(Object.keys(stored.cleanupPolicies as object).sort()).toEqual(['imagespec-gar-delete-old', 'imagespec-gar-keep-recent']);
			expect(stored.cleanupPolicies).toMatchObject({
				'imagespec-gar-delete-old': {id: 'imagespec-gar-delete-old', action: 'DELETE', condition: {tagState: 'ANY'}},
				'imagespec-gar-keep-recent': {id: 'imagespec-gar-keep-recent', action: 'KEEP', mostRecentVersions: {keepCount: 5}},
			});
			expect(stored.cleanupPolicyDryRun).toBeFalsy();
		} finally {
			await registry.close();
		}
	});

	it('sends delete-untagged:Dd as an UNTAGGED delete policy older than D days, and no policy for none', async () => {
		const registry = await open();
		try {
			await registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'}, {cleanup: {kind: 'delete-untagged', days: 30}});
			expect(Object.keys(fake.repositories.get(NAME)!.cleanupPolicies as object)).toEqual(['imagespec-gar-delete-untagged']);
			expect(fake.repositories.get(NAME)!.cleanupPolicies).toMatchObject({
				'imagespec-gar-delete-untagged': {
					id: 'imagespec-gar-delete-untagged',
					action: 'DELETE',
					condition: {tagState: 'UNTAGGED', olderThan: {seconds: String(30 * 86_400)}},
				},
			});
			await registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'plain'}, {cleanup: {kind: 'none'}});
			const plain = fake.repositories.get(`projects/${PROJECT}/locations/${LOCATION}/repositories/plain`)!;
			expect(plain.cleanupPolicies ?? {}).toEqual({});
			expect((plain.dockerConfig as {immutableTags?: boolean} | undefined)?.immutableTags ?? false).toBe(false);
		} finally {
			await registry.close();
		}
	});

	it('polls GetOperation while the operation is pending, then returns the repository', async () => {
		fake.createOperation = {polls: 3};
		const registry = await open();
		try {
			const pending: string[] = [];
			const result = await registry.createDockerRepository(
				{project: PROJECT, location: LOCATION, repository: 'images'},
				{onPending: name => pending.push(name)},
			);
			expect(result).toMatchObject({created: true, repository: {id: 'images', format: 'DOCKER', labels: {'managed-by': 'imagespec-gar'}}});
			expect(methods()).toEqual(['CreateRepository', 'GetOperation', 'GetOperation', 'GetOperation']);
			expect(pending).toHaveLength(1);
			expect(pending[0]).toMatch(new RegExp(`^${repositoryParent(PROJECT, LOCATION)}/operations/`));
			expect(fake.calls[1]!.request).toEqual({name: pending[0]});
		} finally {
			await registry.close();
		}
	});

	it('turns an operation that fails into a StepError, and leaves no repository', async () => {
		fake.createOperation = {polls: 1, error: {code: 9, message: 'Cleanup policy is invalid for this repository'}};
		const registry = await open();
		try {
			const error = await caught(registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'}));
			expect(error).toBeInstanceOf(StepError);
			expect(error).toMatchObject({
				reason: 'FAILED_PRECONDITION',
				message: 'Could not create repository images in us-central1: Cleanup policy is invalid for this repository',
			});
			expect(fake.repositories.has(NAME)).toBe(false);
		} finally {
			await registry.close();
		}
	});

	it('stops waiting after its time limit and says a rerun finds the repository', async () => {
		fake.createOperation = {polls: 1_000_000};
		const registry = await open(undefined, {operationTimeoutMs: 60});
		try {
			const error = await caught(registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'}));
			expect(error).toMatchObject({reason: 'OPERATION_PENDING'});
			expect((error as StepError).fix).toMatch(/rerun imagespec-gar.*finds the repository/);
		} finally {
			await registry.close();
		}
	});

	it('is cancelled while the operation is pending, and polls no more afterwards', async () => {
		fake.createOperation = {polls: 1_000_000};
		const registry = await open(undefined, {operationPollDelaysMs: [20]});
		try {
			const controller = new AbortController();
			const pending = caught(registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'}, {signal: controller.signal}));
			await vi.waitFor(() => expect(methods().filter(method => method === 'GetOperation').length).toBeGreaterThanOrEqual(2));
			controller.abort();
			expect(await pending).toBeInstanceOf(CancelledError);
			// A poll sent just before the abort may still reach the server: count after it lands.
			await new Promise(resolve => setTimeout(resolve, 50));
			const polls = methods().length;
			await new Promise(resolve => setTimeout(resolve, 150));
			expect(methods()).toHaveLength(polls);
		} finally {
			await registry.close();
		}
	});

	it('retries an UNAVAILABLE poll', async () => {
		fake.createOperation = {polls: 1};
		fake.failNext('GetOperation', {code: 14, message: 'connection reset'});
		const registry = await open();
		try {
			expect((await registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'})).created).toBe(true);
			expect(methods()).toEqual(['CreateRepository', 'GetOperation', 'GetOperation']);
		} finally {
			await registry.close();
		}
	});
});

describe('errors as the fake server answers them', () => {
	it('SERVICE_DISABLED in the project: the enable command with the project id, and the activation URL', async () => {
		fake.disabledProjects.add(PROJECT);
		const registry = await open();
		try {
			const error = await caught(collect(registry.listRepositoryPages(PROJECT, LOCATION)));
			expect(error).toMatchObject({reason: 'SERVICE_DISABLED', message: `Artifact Registry API is disabled in project ${PROJECT}.`});
			expect((error as StepError).fix).toMatch(
				new RegExp(
					`^gcloud services enable artifactregistry\\.googleapis\\.com --project ${PROJECT}\\nor enable it at ` +
						`https://console\\.developers\\.google\\.com/apis/api/artifactregistry\\.googleapis\\.com/overview\\?project=\\d+$`,
				),
			);
			// Not a transient error: asked once.
			expect(methods()).toEqual(['ListRepositories']);
		} finally {
			await registry.close();
		}
	});

	it('IAM_PERMISSION_DENIED on get: "does not exist or you cannot see it", with both fixes', async () => {
		fake.deniedPermissions.add('artifactregistry.repositories.get');
		const registry = await open();
		try {
			const error = await caught(registry.getRepository({project: PROJECT, location: LOCATION, repository: 'hidden'}));
			expect(error).toBeInstanceOf(StepError);
			expect(error).toMatchObject({
				reason: 'NOT_FOUND',
				message: `Cannot get repository hidden in ${LOCATION}: it does not exist or you cannot see it in project ${PROJECT}.`,
			});
			const fix = (error as StepError).fix!.split('\n');
			expect(fix).toEqual([
				`If it exists: ask for Artifact Registry Reader (roles/artifactregistry.reader) on ` +
					`it, and check that project ${PROJECT} is the one you mean (gcloud config get project).`,
				'If it does not: choose another repository, or create it (needs Artifact Registry Administrator (roles/artifactregistry.admin)).',
			]);
		} finally {
			await registry.close();
		}
	});

	it('IAM_PERMISSION_DENIED on create names the permission, the role, and the way out', async () => {
		fake.deniedPermissions.add('artifactregistry.repositories.create');
		const registry = await open();
		try {
			const error = await caught(registry.createDockerRepository({project: PROJECT, location: LOCATION, repository: 'images'}));
			expect(error).toMatchObject({
				reason: 'IAM_PERMISSION_DENIED',
				message:
					`You do not have permission artifactregistry.repositories.create in project ` +
					`${PROJECT}, which is needed to create repository images in ${LOCATION}.`,
				fix:
					`Ask a project owner to grant you Artifact Registry Administrator ` +
					`(roles/artifactregistry.admin) on project ${PROJECT}, or pick an existing repository.`,
			});
		} finally {
			await registry.close();
		}
	});

	it('retries UNAVAILABLE on get, then gives a clear message', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		fake.failNext('GetRepository', {code: 14, message: 'upstream connect error'}, 2);
		const registry = await open();
		try {
			expect(await registry.getRepository({project: PROJECT, location: LOCATION, repository: 'images'})).toMatchObject({id: 'images'});
			expect(methods()).toEqual(['GetRepository', 'GetRepository', 'GetRepository']);
			fake.failNext('GetRepository', {code: 14, message: 'upstream connect error'}, 10);
			const error = await caught(registry.getRepository({project: PROJECT, location: LOCATION, repository: 'images'}));
			expect(error).toMatchObject({
				reason: 'UNAVAILABLE',
				message: 'Could not reach Artifact Registry to get repository images in us-central1 (UNAVAILABLE): upstream connect error',
			});
		} finally {
			await registry.close();
		}
	});
});

describe('IAM on a repository', () => {
	const UPLOAD = 'artifactregistry.repositories.uploadArtifacts';

	it('testIamPermissions answers which permissions the caller holds', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		const registry = await open();
		try {
			expect(
				await registry.testIamPermissions({project: PROJECT, location: LOCATION, repository: 'images'}, [
					UPLOAD,
					'artifactregistry.repositories.downloadArtifacts',
				]),
			).toEqual([UPLOAD, 'artifactregistry.repositories.downloadArtifacts']);
			fake.deniedPermissions.add(UPLOAD);
			expect(await registry.testIamPermissions({project: PROJECT, location: LOCATION, repository: 'images'}, [UPLOAD])).toEqual([]);
			expect(fake.calls.at(-1)).toEqual({
				method: 'TestIamPermissions',
				request: {resource: repositoryName({project: PROJECT, location: LOCATION, repository: 'images'}), permissions: [UPLOAD]},
			});
		} finally {
			await registry.close();
		}
	});

	it('reads a policy with its etag and writes it back; a stale etag is ABORTED', async () => {
		fake.addRepository(PROJECT, LOCATION, 'images');
		const resource = repositoryName({project: PROJECT, location: LOCATION, repository: 'images'});
		fake.setPolicy(resource, [{role: 'roles/artifactregistry.writer', members: ['user:ana@example.com']}]);
		const registry = await open();
		try {
			const policy = await registry.getIamPolicy({project: PROJECT, location: LOCATION, repository: 'images'});
			expect(policy.bindings).toEqual([{role: 'roles/artifactregistry.writer', members: ['user:ana@example.com']}]);
			expect(Buffer.from(policy.etag!).equals(fake.policies.get(resource)!.etag)).toBe(true);
			const written = await registry.setIamPolicy(
				{project: PROJECT, location: LOCATION, repository: 'images'},
				{
					...policy,
					bindings: [...policy.bindings, {role: 'roles/artifactregistry.reader', members: ['serviceAccount:x@y.iam.gserviceaccount.com']}],
				},
			);
			expect(fake.policies.get(resource)!.bindings).toHaveLength(2);
			expect(Buffer.from(written.etag!).equals(Buffer.from(policy.etag!))).toBe(false);
			// The old etag is stale now.
			const error = await caught(registry.setIamPolicy({project: PROJECT, location: LOCATION, repository: 'images'}, policy));
			expect(error).toMatchObject({reason: 'ABORTED'});
			expect(fake.policies.get(resource)!.bindings).toHaveLength(2);
		} finally {
			await registry.close();
		}
	});
});
