import {mkdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it, type TestContext} from 'vitest';
import {startCredentialHelper} from '../../source/services/credential-helper.js';
import {makeSandbox, withEnv} from '../support/environment.js';

/**
 * A docker-credential-gcloud stand-in first on PATH: logs its start (with its pid and the env that
 * lets gcloud accept unknown hosts), then the host docker's protocol puts on its stdin, then answers.
 */
const helperWorld = async (context: TestContext, env: Record<string, string | undefined> = {}) => {
	const box = await makeSandbox();
	context.onTestFinished(async () => box.cleanup());
	const bin = path.join(box.root, 'bin');
	const log = path.join(box.root, 'helper.log');
	await mkdir(bin);
	await writeFile(
		path.join(bin, 'docker-credential-gcloud'),
		`#!/bin/sh\necho "start $$ allow=$CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY" >> '${log}'\nread host\n` +
			`echo "host $$ $host" >> '${log}'\nprintf '%s\\n' '{"Secret": "token", "Username": "_dcgcloud_token"}'\n`,
		{mode: 0o755},
	);
	const platform = withEnv(box.platform, {PATH: `${bin}:${box.env.PATH}`, CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY: undefined, ...env});
	const lines = async () => (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
	/** The log once it holds count lines (the stand-in writes them in its own time). */
	const until = async (count: number) => {
		for (let tries = 0; tries < 200 && (await lines()).length < count; tries++) await new Promise(resolve => setTimeout(resolve, 25));
		return lines();
	};
	return {platform, lines, until};
};

const alive = (pid: number) => {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
};

describe('startCredentialHelper: the helper runs before its host is known', () => {
	it('starts at once, gets the host on stdin when asked, and its answer is the check’s: one process', async context => {
		const world = await helperWorld(context);
		const started = await startCredentialHelper({platform: world.platform});
		expect(started?.helper).toMatch(/bin\/docker-credential-gcloud$/);
		// Running, and waiting for its host, before anyone asked.
		expect(await world.until(1)).toEqual([expect.stringMatching(/^start \d+ allow=$/)]);

		let spawned = 0;
		const answer = await started!.answers({platform: world.platform, onSpawn: () => spawned++}, 'us-east1-docker.pkg.dev');
		expect(answer).toEqual({answers: true});
		const [start, host] = await world.lines();
		const pid = start!.split(' ')[1];
		expect(host).toBe(`host ${pid} us-east1-docker.pkg.dev`);
		// The caller still learns a child runs (runChecks times the client's load after it).
		expect(spawned).toBe(1);
		// Asked already: discarding changes nothing.
		started!.discard();
		expect(await world.lines()).toHaveLength(2);
	});

	it('a host gcloud does not know, with an env that does not allow it: a new helper with the env it needs', async context => {
		const world = await helperWorld(context);
		const started = await startCredentialHelper({platform: world.platform});
		const [first] = await world.until(1);
		const answer = await started!.answers({platform: world.platform}, '127.0.0.1:5000');
		expect(answer).toEqual({answers: true});
		const lines = await world.lines();
		const firstPid = first!.split(' ')[1];
		const second = lines.find(line => line.startsWith('start') && line !== first);
		expect(second).toMatch(/^start \d+ allow=true$/);
		expect(lines).toContain(`host ${second!.split(' ')[1]} 127.0.0.1:5000`);
		// The first one never got a host: it was stopped.
		expect(lines.some(line => line.startsWith(`host ${firstPid} `))).toBe(false);
	});

	it('the env allows unknown hosts already (IMAGESPEC_GAR_REGISTRY_HOST): the started helper answers for one', async context => {
		const world = await helperWorld(context, {CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY: 'true'});
		const started = await startCredentialHelper({platform: world.platform});
		expect(await started!.answers({platform: world.platform}, '127.0.0.1:5000')).toEqual({answers: true});
		const lines = await world.lines();
		expect(lines.filter(line => line.startsWith('start'))).toHaveLength(1);
		expect(lines[1]).toMatch(/^host \d+ 127\.0\.0\.1:5000$/);
	});

	it('never asked (a usage error, a run failed before its checks): discard stops it', async context => {
		const world = await helperWorld(context);
		const started = await startCredentialHelper({platform: world.platform});
		const [start] = await world.until(1);
		const pid = Number(start!.split(' ')[1]);
		expect(alive(pid)).toBe(true);
		started!.discard();
		for (let tries = 0; tries < 200 && alive(pid); tries++) await new Promise(resolve => setTimeout(resolve, 25));
		expect(alive(pid)).toBe(false);
		expect(await world.lines()).toHaveLength(1);
	});

	it('not on PATH: nothing starts (the check says where to find it)', async context => {
		const world = await helperWorld(context, {PATH: '/nonexistent'});
		expect(await startCredentialHelper({platform: world.platform})).toBeUndefined();
		expect(await world.lines()).toEqual([]);
	});

	it('Ctrl-C before it was asked: the answer is a cancellation, not a missing token', async context => {
		const world = await helperWorld(context);
		const controller = new AbortController();
		const started = await startCredentialHelper({platform: world.platform, signal: controller.signal});
		await world.until(1);
		controller.abort();
		await expect(started!.answers({platform: world.platform, signal: controller.signal}, 'us-east1-docker.pkg.dev')).rejects.toMatchObject({
			name: 'CancelledError',
		});
	});
});
