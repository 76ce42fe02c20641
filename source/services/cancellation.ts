// Cancellation for service calls: a promise that stops waiting when its AbortSignal fires,
// a sleep that can be cancelled, and signals combined.
import {CancelledError} from './errors.js';

/** Throws CancelledError when `signal` has already aborted. */
export const throwIfAborted = (signal?: AbortSignal): void => {
	if (signal?.aborted) throw new CancelledError();
};

/** Rejects with CancelledError as soon as `signal` aborts; cancels the gax call when it can. */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
	if (!signal) return promise;
	const cancel = () => (promise as {cancel?: () => void}).cancel?.();
	if (signal.aborted) {
		cancel();
		promise.catch(() => {});
		return Promise.reject(new CancelledError());
	}
	return new Promise<T>((resolve, reject) => {
		const onAbort = () => {
			cancel();
			reject(new CancelledError());
		};
		signal.addEventListener('abort', onAbort, {once: true});
		promise.then(
			value => {
				signal.removeEventListener('abort', onAbort);
				resolve(value);
			},
			(error: unknown) => {
				signal.removeEventListener('abort', onAbort);
				reject(error);
			},
		);
	});
}

/** Waits ms, or rejects with CancelledError as soon as signal aborts. */
export const sleep = async (ms: number, signal?: AbortSignal): Promise<void> => abortable(new Promise<void>(resolve => setTimeout(resolve, ms)), signal);

/** One signal that aborts when any of `signals` does; undefined when none is given. */
export const combineSignals = (...signals: Array<AbortSignal | undefined>): AbortSignal | undefined => {
	const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
	if (present.length <= 1) return present[0];
	return AbortSignal.any(present);
};
