import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {ArtifactRegistry} from '../../source/services/artifact-registry.js';
import {StepError} from '../../source/services/errors.js';
import {configureDocker} from '../../source/services/gcloud.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import type {FakeArtifactRegistry} from '../support/fake-artifact-registry.js';
import {withFakeArtifactRegistry} from '../support/fake-client.js';

/** Issue 16, point 10: each failure says what happened and what to do, in words that fit it. */
let fake: FakeArtifactRegistry;
let registry: ArtifactRegistry;

withFakeArtifactRegistry((started, client) => {
	fake = started;
	registry = client;
});

const caught = async (promise: Promise<unknown>) =>
	promise.then(
		() => undefined,
		(error: unknown) => error,
	);

describe('Artifact Registry failures', () => {
	it('a create whose answer was lost: the retry meets ALREADY_EXISTS, and the repository is reported as created by this run', async () => {
		fake.loseAnswerNext('CreateRepository');
		const result = await registry.createDockerRepository({project: 'acme-ml', location: 'us-east1', repository: 'images'});
		expect(result.created).toBe(true);
		expect(fake.calls.map(call => call.method)).toEqual(['CreateRepository', 'CreateRepository', 'GetRepository']);
	});

	it('a teammate\'s repository (not labelled by this tool) is still "already there", lost answer or not', async () => {
		fake.addRepository('acme-ml', 'us-east1', 'images');
		fake.loseAnswerNext('CreateRepository');
		expect((await registry.createDockerRepository({project: 'acme-ml', location: 'us-east1', repository: 'images'})).created).toBe(false);
	});

	it("INTERNAL from Google: the fix says it is Google's side and to rerun", async () => {
		fake.addRepository('acme-ml', 'us-east1', 'images');
		fake.failNext('GetRepository', {code: 13, message: 'Internal error encountered.'});
		const error = await caught(registry.getRepository({project: 'acme-ml', location: 'us-east1', repository: 'images'}));
		expect(error).toBeInstanceOf(StepError);
		expect(error).toMatchObject({reason: 'INTERNAL', message: 'Could not get repository images in us-east1: Internal error encountered.'});
		expect((error as StepError).fix).toBe("An error on Google's side: wait a minute and rerun; if it persists, check https://status.cloud.google.com.");
	});
});

describe("docker's config with a key of the wrong type", () => {
	let box: Sandbox;
	beforeAll(async () => {
		box = await makeSandbox();
	});
	afterAll(async () => box?.cleanup());

	it.each([
		['credHelpers', '[]'],
		['credHelpers', '{"us-east1-docker.pkg.dev": 1}'],
		['auths', '"x"'],
		['credsStore', '{}'],
	])('%s = %s: the key is named, not "valid JSON" or gcloud\'s diagnostics', async (key, value) => {
		const file = path.join(box.dockerConfig, 'config.json');
		await writeFile(file, `{"${key}": ${value}}`);
		const error = await caught(configureDocker(box.context(), 'us-east1-docker.pkg.dev'));
		expect(error).toBeInstanceOf(StepError);
		expect((error as StepError).message).toMatch(new RegExp(`^Docker's config at ${file} is valid JSON, but its "${key}" is not `));
		expect((error as StepError).fix).toContain(`Make "${key}" `);
		expect((error as StepError).fix).not.toMatch(/valid JSON|diagnostics/);
	});
});
