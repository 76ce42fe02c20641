// How one Artifact Registry API call is bounded: a deadline for its answer, and retries of transient failures.
import {abortable, sleep, throwIfAborted} from './cancellation.js';
import {ApiDeadlineError, isTransient} from './api-errors.js';

const DEFAULT_API_DEADLINE_MS = 30_000;

/** The deadline of one API call: IMAGESPEC_GAR_API_TIMEOUT (seconds), else 30 s. */
export const apiDeadlineMs = (env: NodeJS.ProcessEnv): number => {
	const seconds = Number(env.IMAGESPEC_GAR_API_TIMEOUT);
	return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_API_DEADLINE_MS;
};

/** abortable, and rejected with ApiDeadlineError when no answer comes within deadlineMs. */
export function apiCall<T>(promise: Promise<T>, signal: AbortSignal | undefined, deadlineMs: number): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const deadline = new Promise<never>((_, reject) => {
		timer = setTimeout(() => {
			reject(new ApiDeadlineError(deadlineMs / 1000));
		}, deadlineMs);
	});
	promise.catch(() => undefined);
	// Keep gax's cancel (when the promise has one), so Ctrl-C cancels the call itself.
	const raced = Object.assign(Promise.race([promise, deadline]), {cancel: () => (promise as {cancel?: () => void}).cancel?.()});
	return abortable(raced, signal).finally(() => {
		clearTimeout(timer);
	});
}

/** Runs `attempt`, again after each of `delays` while it fails transiently. */
export async function withRetry<T>(attempt: () => Promise<T>, delays: readonly number[], signal?: AbortSignal): Promise<T> {
	for (let retry = 0; ; retry++) {
		throwIfAborted(signal);
		try {
			return await attempt();
		} catch (error) {
			const delay = delays[retry];
			if (delay === undefined || !isTransient(error) || signal?.aborted) throw error;
			await sleep(delay, signal);
		}
	}
}
