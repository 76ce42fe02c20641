import {describe, expect, it} from 'vitest';
import type {ArtifactRegistry} from '../../source/services/artifact-registry.js';
import {runChecks} from '../../source/services/checks.js';
import {makeSandbox} from '../support/environment.js';

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
