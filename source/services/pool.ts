/** Bounded concurrency without React or docker: `build` runs its images through it. */

export type Settled<R> = {ok: true; value: R} | {ok: false; error: unknown};

/**
 * Runs work over items, at most `jobs` at a time, in order of items. One failure does not stop
 * the others; once `signal` aborts no new item starts (those running see the same signal and
 * end on their own). Resolves when every started item has settled.
 */
export async function runBounded<T, R>(
	items: readonly T[],
	jobs: number,
	work: (item: T, index: number) => Promise<R>,
	signal?: AbortSignal,
): Promise<Array<Settled<R> | undefined>> {
	const results: Array<Settled<R> | undefined> = Array.from({length: items.length}, () => undefined);
	let next = 0;
	const worker = async () => {
		while (next < items.length && !signal?.aborted) {
			const index = next++;
			try {
				results[index] = {ok: true, value: await work(items[index]!, index)};
			} catch (error) {
				results[index] = {ok: false, error};
			}
		}
	};

	await Promise.all(Array.from({length: Math.max(1, Math.min(jobs, items.length))}, worker));
	return results;
}
