// The Artifact Registry client on a worker thread. Loading it (~455 CommonJS files of google-gax and
// grpc-js, then protobufjs building the API from its protos) blocks its thread ~0.4 s; on the worker
// it runs on another core from the start, while this thread draws. Every call crosses as a message
// and comes back as the client on this thread would answer: the same values, the same typed errors,
// CancelledError at once when its signal or the run's aborts.
import {existsSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import {Worker} from 'node:worker_threads';
import type {ArtifactRegistry, OpenArtifactRegistryOptions, Repository} from './artifact-registry.js';
import {combineSignals} from './cancellation.js';
import type {ServiceContext} from './context.js';
import type {Platform} from './platform.js';
import {CancelledError} from './errors.js';
import {fromWireError, toWireArguments, type CallMethod, type FromWorker, type ToWorker, type WorkerSetup} from './registry-messages.js';

/**
 * The worker's file in the bundle: dist/registry-worker.js, one folder up from this chunk
 * (rolldown.config.mjs). Run from source (the unit tests) there is none: undefined.
 */
export const bundledRegistryWorker = (): URL | undefined => {
	const url = new URL('../registry-worker.js', import.meta.url);
	return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined;
};

const CALLS: readonly CallMethod[] = [
	'getRepository',
	'createDockerRepository',
	'testIamPermissions',
	'getIamPolicy',
	'setIamPolicy',
	'listLocations',
	'findTag',
	'listDockerImages',
];

type Pending = {resolve: (message: FromWorker) => void; reject: (error: Error) => void; callbacks?: Map<string, (...values: unknown[]) => void>};

export type RegistryThread = {
	/** The client, once the worker has loaded and opened it; rejects as openArtifactRegistry would. */
	opened: Promise<ArtifactRegistry>;
	/** The run's cancellation, for a thread started before the run had one (prestartRegistryThread). */
	watch(signal: AbortSignal | undefined): void;
	/** Ends the worker now, whatever it is doing (a client still loading has nothing to close). */
	terminate(): Promise<void>;
};

/** Starts the worker at once: it loads the client and opens it for ctx (its platform; its signal stays here). */
export function startRegistryThread(ctx: ServiceContext, worker: URL, options: OpenArtifactRegistryOptions = {}): RegistryThread {
	const setup: WorkerSetup = {platform: ctx.platform, options};
	// A worker's heap starts as a new isolate's: a young generation of 2 MB (as the main thread keeps
	// its first size, cli.tsx) holds its peak ~13 MB lower, at no measurable cost to the load.
	const thread = new Worker(worker, {workerData: setup, resourceLimits: {maxYoungGenerationSizeMb: 2}});
	const pending = new Map<number, Pending>();
	let nextId = 0;
	let ended: Error | undefined;
	let opening = true;
	// The worker keeps the process alive only while something waits on it (its open included).
	const holdWhileWaiting = () => {
		if (pending.size > 0 || (opening && !ended)) thread.ref();
		else thread.unref();
	};

	const post = (message: ToWorker) => {
		if (!ended) thread.postMessage(message);
	};

	const failAll = (error: Error) => {
		ended ??= error;
		openSettled.reject(ended);
		for (const [id, waiting] of pending) {
			pending.delete(id);
			waiting.reject(error);
		}
		holdWhileWaiting();
	};

	let openSettled!: {resolve: () => void; reject: (error: Error) => void};
	const openedSignal = new Promise<void>((resolve, reject) => {
		openSettled = {
			resolve() {
				opening = false;
				resolve();
			},
			reject(error) {
				opening = false;
				reject(error);
			},
		};
	});
	thread.ref();
	thread.on('message', (message: FromWorker) => {
		if (message.type === 'opened') {
			openSettled.resolve();
			holdWhileWaiting();
		} else if (message.type === 'open-failed') {
			openSettled.reject(fromWireError(message.error));
			holdWhileWaiting();
		} else if (message.type === 'callback') {
			pending.get(message.id)?.callbacks?.get(message.name)?.(...message.args);
		} else {
			const waiting = pending.get(message.id);
			if (!waiting) return;
			pending.delete(message.id);
			holdWhileWaiting();
			if (message.type === 'error') waiting.reject(fromWireError(message.error));
			else waiting.resolve(message);
		}
	});
	thread.on('error', failAll);
	thread.on('exit', code => {
		failAll(ended ?? new Error(`The Artifact Registry client's thread ended (exit code ${code}).`));
	});
	// Ctrl-C: the client's own signal aborts on the worker too (its retries and polls stop).
	const onRunAbort = () => {
		post({type: 'abort'});
		failAll(new CancelledError());
	};
	let runSignal: AbortSignal | undefined;
	const watch = (signal: AbortSignal | undefined) => {
		runSignal = signal;
		if (signal?.aborted) onRunAbort();
		else signal?.addEventListener('abort', onRunAbort, {once: true});
	};
	watch(ctx.signal);

	/** Sends message and waits for its answer; a signal that aborts rejects at once and tells the worker. */
	const request = async (id: number, message: ToWorker, signals: AbortSignal[], callbacks?: Pending['callbacks']): Promise<FromWorker> => {
		const active = combineSignals(runSignal, ...signals);
		if (active?.aborted || ended) throw ended ?? new CancelledError();
		return new Promise<FromWorker>((resolve, reject) => {
			const onAbort = () => {
				pending.delete(id);
				holdWhileWaiting();
				post({type: 'cancel', id});
				reject(new CancelledError());
			};
			active?.addEventListener('abort', onAbort, {once: true});
			const settle =
				<T>(then: (value: T) => void) =>
				(value: T) => {
					active?.removeEventListener('abort', onAbort);
					then(value);
				};
			pending.set(id, {resolve: settle(resolve), reject: settle(reject), callbacks});
			holdWhileWaiting();
			post(message);
		});
	};

	const call = async (method: CallMethod, args: unknown[]): Promise<unknown> => {
		const id = nextId++;
		const {wire, signals, callbacks} = toWireArguments(args);
		const answer = await request(id, {type: 'call', id, method, args: wire}, signals, callbacks);
		return answer.type === 'result' ? answer.value : undefined;
	};

	const terminate = async () => {
		runSignal?.removeEventListener('abort', onRunAbort);
		failAll(new CancelledError('The Artifact Registry client was closed.'));
		await thread.terminate();
	};

	const registry = {
		...Object.fromEntries(CALLS.map(method => [method, async (...args: unknown[]) => call(method, args)])),

		async *listRepositoryPages(project: string, location: string, options: {signal?: AbortSignal} = {}) {
			const id = nextId++;
			const {wire, signals} = toWireArguments([project, location, options]);
			post({type: 'pages', id, args: wire});
			let done = false;
			try {
				while (!done) {
					const page = await request(id, {type: 'next', id}, signals);
					done = page.type !== 'page' || page.done;
					if (!done && page.type === 'page') yield page.value as Repository[];
				}
			} finally {
				// The reader stopped early (a filter, a choice, Ctrl-C): the worker's pages stop too.
				if (!done) post({type: 'return', id});
			}
		},

		async close() {
			if (!ended) {
				const id = nextId++;
				// Closing the channel first, as on this thread; a worker that cannot answer is ended anyway.
				await request(id, {type: 'close', id}, []).catch(() => undefined);
			}
			await terminate();
		},
	} as unknown as ArtifactRegistry;

	return {opened: openedSignal.then(() => registry), watch, terminate};
}

let prestarted: RegistryThread | undefined;

/**
 * The interactive wizard always calls the API: the entry starts the client's thread as soon as the
 * header is up (~0.1 s before the journey would), and the first handle to open takes it.
 */
export const prestartRegistryThread = (platform: Platform, worker = bundledRegistryWorker()): void => {
	if (worker && !prestarted) prestarted = startRegistryThread({platform}, worker);
};

/** The prestarted thread, now cancelled with ctx's signal; undefined when there is none (or it was taken). */
export const takePrestartedThread = (ctx: ServiceContext): RegistryThread | undefined => {
	const thread = prestarted;
	prestarted = undefined;
	thread?.watch(ctx.signal);
	return thread;
};
