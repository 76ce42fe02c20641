import {mkdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import type {ArtifactRegistry} from '../../source/services/artifact-registry.js';
import {runChecks} from '../../source/services/checks.js';
import {makeSandbox, withEnv} from '../support/environment.js';

describe('runChecks: its processes first, then the Artifact Registry client', () => {
	it('starts docker and python before it opens the client (whose load blocks the event loop)', async context => {
		const box = await makeSandbox({env: {DOCKER_HOST: 'unix:///nonexistent.sock'}});
		context.onTestFinished(async () => box.cleanup());
		const events: string[] = [];
		const ctx = {...box.context(), onSpawn: () => events.push('spawn')};
		let opened = 0;
		const registry = {
			async open(): Promise<ArtifactRegistry> {
				opened++;
				events.push('client');
				throw new Error('not needed: no repository is known');
			},
		};

		const {checks} = await runChecks(ctx, {needDocker: true, needAdc: false, mode: 'wizard', registry, python: true}, () => undefined);
		expect(checks.map(check => check.id)).toContain('python');
		// docker version and the python probe at least, each before the client is opened, once.
		expect(opened).toBe(1);
		expect(events.indexOf('client')).toBeGreaterThanOrEqual(2);
		expect(events.slice(0, events.indexOf('client')).every(event => event === 'spawn')).toBe(true);
	});
});

describe("doctor's checks run beside each other", () => {
	/** A stand-in executable on PATH that logs when it starts and ends (times from the stand-ins themselves). */
	const standIn = async (bin: string, log: string, name: string, output: string) =>
		writeFile(
			path.join(bin, name),
			`#!/bin/sh\necho "${name} start $(date +%s%N)" >> '${log}'\ncat > /dev/null\nsleep 0.3\n` +
				`printf '%s\\n' '${output}'\necho "${name} end $(date +%s%N)" >> '${log}'\n`,
			{mode: 0o755},
		);

	it('asks the credential helper for a token while docker version runs, not after it', async context => {
		const box = await makeSandbox();
		context.onTestFinished(async () => box.cleanup());
		const bin = path.join(box.root, 'bin');
		const log = path.join(box.root, 'spawns.log');
		await mkdir(bin);
		await standIn(bin, log, 'docker', JSON.stringify({Client: {Version: '28.0.0'}, Server: {Version: '28.0.0', Arch: 'amd64'}}));
		await standIn(bin, log, 'docker-credential-gcloud', JSON.stringify({Secret: 'token', Username: '_dcgcloud_token'}));
		const platform = withEnv(box.platform, {PATH: `${bin}:${box.env.PATH}`});

		const {checks} = await runChecks({platform}, {needDocker: true, needAdc: false, python: false});
		const helper = checks.find(check => check.id === 'credential-helper');
		expect(helper).toMatchObject({status: 'ok', detail: expect.stringContaining('gives docker a token for us-docker.pkg.dev')});
		const at = Object.fromEntries(
			(await readFile(log, 'utf8'))
				.trim()
				.split('\n')
				.map(line => {
					const [name, event, time] = line.split(' ');
					return [`${name} ${event}`, BigInt(time!)];
				}),
		);
		expect(at['docker-credential-gcloud start']!).toBeLessThan(at['docker end']!);
		expect(at['docker start']!).toBeLessThan(at['docker-credential-gcloud end']!);
	});
});
