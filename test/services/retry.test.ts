import {describe, expect, it} from 'vitest';
import {ApiDeadlineError, GrpcCode} from '../../source/services/api-errors.js';
import {CancelledError} from '../../source/services/errors.js';
import {apiCall, apiDeadlineMs, withRetry} from '../../source/services/retry.js';

const apiError = (code: number, details = 'x') => Object.assign(new Error(details), {code, details});

/** An attempt that fails with each of `failures` in turn, then answers 'done'; counts its calls. */
const attempts = (...failures: Error[]) => {
	const counted = {
		calls: 0,
		async run(): Promise<string> {
			const failure = failures[counted.calls++];
			if (failure) throw failure;
			return 'done';
		},
	};
	return counted;
};

describe('withRetry', () => {
	it('retries UNAVAILABLE and DEADLINE_EXCEEDED, once per delay', async () => {
		const flaky = attempts(apiError(GrpcCode.UNAVAILABLE), apiError(GrpcCode.DEADLINE_EXCEEDED));
		await expect(withRetry(flaky.run, [1, 1, 1])).resolves.toBe('done');
		expect(flaky.calls).toBe(3);
		const down = attempts(...Array.from({length: 5}, () => apiError(GrpcCode.UNAVAILABLE)));
		await expect(withRetry(down.run, [1, 1])).rejects.toMatchObject({code: GrpcCode.UNAVAILABLE});
		expect(down.calls).toBe(3);
	});

	it('does not retry what a retry cannot mend: a refusal, or an expired login arriving as UNAVAILABLE', async () => {
		const denied = attempts(apiError(GrpcCode.PERMISSION_DENIED));
		await expect(withRetry(denied.run, [1, 1])).rejects.toMatchObject({code: GrpcCode.PERMISSION_DENIED});
		expect(denied.calls).toBe(1);
		const expired = attempts(apiError(GrpcCode.UNAVAILABLE, 'Getting metadata from plugin failed with error: invalid_grant'));
		await expect(withRetry(expired.run, [1, 1])).rejects.toMatchObject({code: GrpcCode.UNAVAILABLE});
		expect(expired.calls).toBe(1);
	});

	it('stops on abort: while it waits to retry, and before a first try', async () => {
		const controller = new AbortController();
		const flaky = attempts(apiError(GrpcCode.UNAVAILABLE), apiError(GrpcCode.UNAVAILABLE));
		const trying = withRetry(flaky.run, [60_000], controller.signal);
		await new Promise(resolve => setTimeout(resolve, 20));
		controller.abort();
		await expect(trying).rejects.toBeInstanceOf(CancelledError);
		expect(flaky.calls).toBe(1);
		const never = attempts();
		await expect(withRetry(never.run, [1], AbortSignal.abort())).rejects.toBeInstanceOf(CancelledError);
		expect(never.calls).toBe(0);
	});
});

describe('apiCall and its deadline', () => {
	it('an answer in time passes; none within the deadline is ApiDeadlineError, and the call is cancelled', async () => {
		await expect(apiCall(Promise.resolve('ok'), undefined, 1000)).resolves.toBe('ok');
		let cancelled = 0;
		const silent = Object.assign(new Promise<never>(() => {}), {cancel: () => cancelled++});
		const error = await apiCall(silent, undefined, 20).catch((error_: unknown) => error_);
		expect(error).toBeInstanceOf(ApiDeadlineError);
		expect((error as ApiDeadlineError).seconds).toBe(0.02);
		const controller = new AbortController();
		const waiting = apiCall(silent, controller.signal, 60_000);
		controller.abort();
		await expect(waiting).rejects.toBeInstanceOf(CancelledError);
		expect(cancelled).toBe(1);
	});

	it('IMAGESPEC_GAR_API_TIMEOUT sets it in seconds; anything else leaves 30 s', () => {
		expect(apiDeadlineMs({IMAGESPEC_GAR_API_TIMEOUT: '90'})).toBe(90_000);
		expect(apiDeadlineMs({IMAGESPEC_GAR_API_TIMEOUT: '0.5'})).toBe(500);
		for (const value of [undefined, '', '0', '-3', 'soon']) expect(apiDeadlineMs({IMAGESPEC_GAR_API_TIMEOUT: value})).toBe(30_000);
	});
});
