import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {credentialHelperFor, credentialSourceFor, isGcloudHelperRegistered, readDockerConfig} from '../../source/services/docker-config.js';
import {StepError} from '../../source/services/errors.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';

let sandbox: Sandbox;
beforeEach(async () => {
	sandbox = await makeSandbox();
});
afterEach(async () => sandbox.cleanup());

const configFile = () => path.join(sandbox.dockerConfig, 'config.json');

describe('readDockerConfig', () => {
	it('returns undefined when there is no config.json', async () => {
		expect(await readDockerConfig(sandbox.platform)).toBeUndefined();
	});

	it('parses the file under DOCKER_CONFIG', async () => {
		await writeFile(configFile(), JSON.stringify({credHelpers: {'us-east1-docker.pkg.dev': 'gcloud'}, other: 1}));
		expect(await readDockerConfig(sandbox.platform)).toEqual({credHelpers: {'us-east1-docker.pkg.dev': 'gcloud'}, other: 1});
	});

	it('treats an empty file as an empty config, as docker does', async () => {
		await writeFile(configFile(), '  \n');
		expect(await readDockerConfig(sandbox.platform)).toEqual({});
	});

	it('reports a corrupt file by path and leaves it untouched', async () => {
		await writeFile(configFile(), '{"auths": {');
		const error = await readDockerConfig(sandbox.platform).catch((error_: unknown) => error_);
		expect(error).toBeInstanceOf(StepError);
		expect((error as StepError).reason).toBe('DOCKER_CONFIG_CORRUPT');
		expect((error as StepError).message).toContain(configFile());
		expect(await readFile(configFile(), 'utf8')).toBe('{"auths": {');
	});

	it('rejects JSON that is not an object', async () => {
		await writeFile(configFile(), '[1, 2]');
		await expect(readDockerConfig(sandbox.platform)).rejects.toMatchObject({reason: 'DOCKER_CONFIG_CORRUPT'});
	});
});

describe('credentialHelperFor follows docker: credHelpers, then credsStore, then auths', () => {
	const host = 'us-east1-docker.pkg.dev';

	it('prefers credHelpers[host] over credsStore and auths', () => {
		const config = {credHelpers: {[host]: 'gcloud'}, credsStore: 'desktop', auths: {[host]: {auth: 'eA=='}}};
		expect(credentialHelperFor(config, host)).toBe('gcloud');
		expect(credentialSourceFor(config, host)).toEqual({mechanism: 'credHelpers', helper: 'gcloud'});
		expect(isGcloudHelperRegistered(config, host)).toBe(true);
	});

	it('falls back to credsStore when only other hosts have helpers (Docker Desktop)', () => {
		const config = {credHelpers: {'europe-west1-docker.pkg.dev': 'gcloud'}, credsStore: 'desktop', auths: {[host]: {}}};
		expect(credentialHelperFor(config, host)).toBe('desktop');
		expect(credentialSourceFor(config, host)).toEqual({mechanism: 'credsStore', helper: 'desktop'});
		expect(isGcloudHelperRegistered(config, host)).toBe(false);
	});

	it('uses auths when there is no helper, matching URL-shaped keys by host', () => {
		const config = {auths: {[`https://${host}/v2/`]: {auth: 'eA=='}}};
		expect(credentialHelperFor(config, host)).toBe('auths');
		expect(credentialSourceFor(config, host)).toEqual({mechanism: 'auths'});
	});

	it('returns undefined when nothing applies (an anonymous push)', () => {
		expect(credentialHelperFor(undefined, host)).toBeUndefined();
		expect(credentialHelperFor({auths: {'ghcr.io': {}}, credHelpers: {}}, host)).toBeUndefined();
		expect(credentialHelperFor({credsStore: ''}, host)).toBeUndefined();
	});

	it('matches host case-insensitively and ignores a path after it', () => {
		expect(credentialHelperFor({credHelpers: {[host]: 'gcloud'}}, 'US-EAST1-docker.pkg.dev/proj/repo')).toBe('gcloud');
	});
});
