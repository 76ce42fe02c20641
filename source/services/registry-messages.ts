// What crosses between the main thread and the Artifact Registry client's worker (registry-thread.ts,
// registry-worker.ts): calls, their answers, typed errors and cancellation, as structured clones.
import type {ArtifactRegistry, OpenArtifactRegistryOptions} from './artifact-registry.js';
import type {Platform} from './platform.js';
import {CancelledError, StepError, UsageError} from './errors.js';

/** The client's methods that answer once (listRepositoryPages pages on request; close ends the thread). */
export type CallMethod = Exclude<keyof ArtifactRegistry, 'listRepositoryPages' | 'close'>;

export type WorkerSetup = {platform: Platform; options: OpenArtifactRegistryOptions};

/**
 * An argument as it crosses: an AbortSignal, or an options object's signal and callbacks, cannot
 * be cloned, so each is marked and rebuilt on the other side (the call's signal, a message back).
 */
export type WireArgument = {kind: 'value'; value: unknown} | {kind: 'signal'} | {kind: 'options'; value: Record<string, unknown>; callbacks: string[]};

export type ToWorker =
	/** Load and open the client (sent once the view has drawn its first frame). */
	| {type: 'load'}
	| {type: 'call'; id: number; method: CallMethod; args: WireArgument[]}
	| {type: 'pages'; id: number; args: WireArgument[]}
	| {type: 'next'; id: number}
	| {type: 'return'; id: number}
	| {type: 'cancel'; id: number}
	/** The run is cancelled: the client's own signal aborts. */
	| {type: 'abort'}
	/** Closes the client; answered with a result. */
	| {type: 'close'; id: number};

export type FromWorker =
	| {type: 'opened'}
	| {type: 'open-failed'; error: WireError}
	| {type: 'result'; id: number; value: unknown}
	| {type: 'page'; id: number; done: boolean; value?: unknown}
	| {type: 'error'; id: number; error: WireError}
	| {type: 'callback'; id: number; name: string; args: unknown[]};

export type WireError = {
	name: string;
	message: string;
	fix?: string;
	reason?: string;
	flag?: string;
	/** The API's own error, as far as callers read it (repository-iam.ts reads its code). */
	cause?: {name?: string; message?: string; code?: unknown; details?: unknown};
};

const isSignal = (value: unknown): value is AbortSignal => value instanceof AbortSignal;
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
	typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/** args for the wire; the signals found (to cancel the call) and the callbacks (called back by name). */
export const toWireArguments = (args: unknown[]): {wire: WireArgument[]; signals: AbortSignal[]; callbacks: Map<string, (...values: unknown[]) => void>} => {
	const signals: AbortSignal[] = [];
	const callbacks = new Map<string, (...values: unknown[]) => void>();
	const wire = args.map((arg): WireArgument => {
		if (isSignal(arg)) {
			signals.push(arg);
			return {kind: 'signal'};
		}
		if (!isPlainObject(arg)) return {kind: 'value', value: arg};
		const value: Record<string, unknown> = {};
		const names: string[] = [];
		for (const [key, item] of Object.entries(arg)) {
			if (isSignal(item)) signals.push(item);
			else if (typeof item === 'function') {
				callbacks.set(key, item as (...values: unknown[]) => void);
				names.push(key);
			} else value[key] = item;
		}
		// A plain value (a repository ref) crosses as it is; only an options object gets the call's signal.
		return Object.keys(value).length === Object.keys(arg).length ? {kind: 'value', value: arg} : {kind: 'options', value, callbacks: names};
	});
	return {wire, signals, callbacks};
};

/** The call's arguments again, on the worker: its signal in place of the caller's, callbacks as messages. */
export const fromWireArguments = (wire: WireArgument[], signal: AbortSignal, callback: (name: string, args: unknown[]) => void): unknown[] =>
	wire.map(arg => {
		if (arg.kind === 'signal') return signal;
		if (arg.kind === 'value') return arg.value;
		const callbacks = Object.fromEntries(
			arg.callbacks.map(name => [
				name,
				(...values: unknown[]) => {
					callback(name, values);
				},
			]),
		);
		return {...arg.value, ...callbacks, signal};
	});

export const toWireError = (error: unknown): WireError => {
	if (!(error instanceof Error)) return {name: 'Error', message: String(error)};
	const {fix, reason, flag} = error as {fix?: string; reason?: string; flag?: string};
	const cause = error.cause as {name?: string; message?: string; code?: unknown; details?: unknown} | undefined;
	const plainCause =
		typeof cause === 'object' && cause !== null
			? {name: cause.name, message: cause.message, code: typeof cause.code === 'object' ? undefined : cause.code, details: cause.details}
			: undefined;
	return {name: error.name, message: error.message, fix, reason, flag, cause: plainCause};
};

/** The same class the client threw on its side: callers test `instanceof StepError` and its reason. */
export const fromWireError = (wire: WireError): Error => {
	if (wire.name === 'CancelledError') return new CancelledError(wire.message);
	if (wire.name === 'StepError') return new StepError(wire.message, {fix: wire.fix, reason: wire.reason, cause: wire.cause});
	if (wire.name === 'UsageError') return new UsageError(wire.message, wire.flag);
	const error = new Error(wire.message, {cause: wire.cause});
	error.name = wire.name;
	return error;
};
