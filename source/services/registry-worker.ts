// The worker thread that holds the Artifact Registry client (registry-thread.ts starts it): it loads
// and opens the client at once, then answers each call the main thread sends.
import module from 'node:module';
import {parentPort, workerData} from 'node:worker_threads';
import {openArtifactRegistry, type ArtifactRegistry, type Repository} from './artifact-registry.js';
import {CancelledError} from './errors.js';
import {fromWireArguments, toWireError, type FromWorker, type ToWorker, type WorkerSetup} from './registry-messages.js';

// The compile cache is per thread: the client's ~455 files are compiled from it as on the main thread.
module.enableCompileCache?.();

const port = parentPort!;
const {platform, options} = workerData as WorkerSetup;
const post = (message: FromWorker) => {
	port.postMessage(message);
};

// The run's signal, aborted when the main thread's is.
const run = new AbortController();
const calls = new Map<number, AbortController>();
const pages = new Map<number, AsyncIterator<Repository[]>>();

// Opened once the main thread says so (its view's first frame is drawn: this thread's load would
// take a core from it); every call waits for it.
let load!: () => void;
const loading = new Promise<void>(resolve => {
	load = resolve;
});
const opening = loading.then(async () => openArtifactRegistry({platform, signal: run.signal}, options));
opening.then(
	() => {
		post({type: 'opened'});
	},
	(error: unknown) => {
		post({type: 'open-failed', error: toWireError(error)});
	},
);

/** Runs one request's work; its answer, or its error, goes back under its id. */
const answer = async (id: number, work: (registry: ArtifactRegistry, signal: AbortSignal) => Promise<FromWorker>) => {
	const controller = new AbortController();
	calls.set(id, controller);
	try {
		post(await work(await opening, controller.signal));
	} catch (error) {
		post({type: 'error', id, error: toWireError(error)});
	} finally {
		calls.delete(id);
	}
};

port.on('message', (message: ToWorker) => {
	switch (message.type) {
		case 'load': {
			load();
			break;
		}
		case 'call': {
			const {id, method, args} = message;
			void answer(id, async (registry, signal) => {
				const callArgs = fromWireArguments(args, signal, (name, values) => {
					post({type: 'callback', id, name, args: values});
				});
				const value = await (registry[method] as (...rest: unknown[]) => Promise<unknown>)(...callArgs);
				return {type: 'result', id, value};
			});
			break;
		}
		case 'pages': {
			const {id, args} = message;
			const controller = new AbortController();
			calls.set(id, controller);
			const [project, location, pageOptions] = fromWireArguments(args, controller.signal, () => undefined) as [string, string, object];
			void opening.then(
				registry => {
					pages.set(id, registry.listRepositoryPages(project, location, {...pageOptions, signal: controller.signal})[Symbol.asyncIterator]());
				},
				() => undefined,
			);
			break;
		}
		case 'next': {
			const {id} = message;
			void (async () => {
				try {
					await opening;
					// The iterator is set once the client is open (a 'pages' message always comes first).
					const iterator = pages.get(id);
					if (!iterator) throw new CancelledError();
					const next = await iterator.next();
					if (next.done) pages.delete(id);
					post({type: 'page', id, done: next.done === true, value: next.value});
				} catch (error) {
					pages.delete(id);
					post({type: 'error', id, error: toWireError(error)});
				}
			})();
			break;
		}
		case 'return': {
			const iterator = pages.get(message.id);
			pages.delete(message.id);
			calls.get(message.id)?.abort(new CancelledError());
			calls.delete(message.id);
			void iterator?.return?.().catch(() => undefined);
			break;
		}
		case 'cancel': {
			calls.get(message.id)?.abort(new CancelledError());
			break;
		}
		case 'abort': {
			run.abort(new CancelledError());
			break;
		}
		case 'close': {
			const {id} = message;
			void answer(id, async registry => {
				await registry.close();
				return {type: 'result', id, value: undefined};
			});
			break;
		}
	}
});
