import {describe, expect, it} from 'vitest';
import {runBounded} from '../../source/services/pool.js';

const tick = async (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

describe('runBounded', () => {
	it('never runs more than jobs at once, and one failure does not stop the others', async () => {
		let running = 0;
		let most = 0;
		const results = await runBounded([1, 2, 3, 4, 5], 2, async n => {
			running++;
			most = Math.max(most, running);
			await tick(20);
			running--;
			if (n === 2) throw new Error('two failed');
			return n * 10;
		});
		expect(most).toBe(2);
		expect(results.map(result => (result?.ok ? result.value : (result!.error as Error).message))).toEqual([10, 'two failed', 30, 40, 50]);
	});

	it('starts nothing new once the signal aborts; the running ones settle', async () => {
		const controller = new AbortController();
		const started: number[] = [];
		const results = await runBounded(
			[1, 2, 3, 4],
			2,
			async n => {
				started.push(n);
				// Both workers have started by now; item 1 is cancelled while 2 still runs.
				await tick(5);
				if (n === 1) controller.abort();
				await tick(10);
				return n;
			},
			controller.signal,
		);
		expect(started).toEqual([1, 2]);
		expect(results.map(result => result?.ok)).toEqual([true, true, undefined, undefined]);
	});
});
