import {describe, expect, it} from 'vitest';
import {abortable, combineSignals, sleep, throwIfAborted} from '../../source/services/cancellation.js';
import {CancelledError} from '../../source/services/errors.js';

/** A promise that never settles, with the cancel() gax puts on its calls. */
const pendingCall = () => {
	const call = Object.assign(new Promise<never>(() => {}), {cancelled: 0, cancel: () => {}});
	call.cancel = () => {
		call.cancelled++;
	};
	return call;
};

describe('abortable', () => {
	it('passes the value and the rejection of a call that settles first', async () => {
		const controller = new AbortController();
		await expect(abortable(Promise.resolve(7), controller.signal)).resolves.toBe(7);
		await expect(abortable(Promise.reject(new Error('boom')), controller.signal)).rejects.toThrow('boom');
	});

	it('rejects with CancelledError on abort and cancels the call itself', async () => {
		const controller = new AbortController();
		const call = pendingCall();
		const waiting = abortable(call, controller.signal);
		controller.abort();
		await expect(waiting).rejects.toBeInstanceOf(CancelledError);
		expect(call.cancelled).toBe(1);
	});

	it('an already aborted signal: rejects at once, and the call is cancelled', async () => {
		const call = pendingCall();
		await expect(abortable(call, AbortSignal.abort())).rejects.toBeInstanceOf(CancelledError);
		expect(call.cancelled).toBe(1);
	});
});

describe('sleep, throwIfAborted and combineSignals', () => {
	it('sleep waits, and stops waiting on abort', async () => {
		const started = Date.now();
		await sleep(30);
		expect(Date.now() - started).toBeGreaterThanOrEqual(25);
		const controller = new AbortController();
		const long = sleep(60_000, controller.signal);
		controller.abort();
		await expect(long).rejects.toBeInstanceOf(CancelledError);
	});

	it('throwIfAborted throws only for an aborted signal', () => {
		expect(() => throwIfAborted(undefined)).not.toThrow();
		expect(() => throwIfAborted(new AbortController().signal)).not.toThrow();
		expect(() => throwIfAborted(AbortSignal.abort())).toThrow(CancelledError);
	});

	it('combineSignals aborts when any does; one or none passes through', () => {
		const a = new AbortController();
		const b = new AbortController();
		expect(combineSignals()).toBeUndefined();
		expect(combineSignals(undefined, a.signal)).toBe(a.signal);
		const both = combineSignals(a.signal, undefined, b.signal)!;
		expect(both.aborted).toBe(false);
		b.abort();
		expect(both.aborted).toBe(true);
	});
});
