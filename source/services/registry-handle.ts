import type {ArtifactRegistry} from './artifact-registry.js';
import type {ServiceContext} from './context.js';
import {CancelledError} from './errors.js';
import {bundledRegistryWorker, startRegistryThread, takePrestartedThread, type RegistryThread} from './registry-thread.js';

/**
 * The one Artifact Registry client a command owns, opened on first use, and never loaded by a run
 * that needs no API. In the bundle it lives on a worker thread (registry-thread.ts): its load runs
 * on another core, and `eager` starts it at once. Run from source (unit tests) it loads on this
 * thread, blocking the event loop ~0.2-0.5 s, so it waits for `after` (the view's first frame).
 * Whoever made the handle closes it, once: `close` never waits for a client still opening, and
 * nothing opens it again.
 */
export type RegistryHandle = {
	open(): Promise<ArtifactRegistry>;
};

export type OwnedRegistry = RegistryHandle & {
	/** Closes the client if it was opened; a client that failed to open has nothing to close. */
	close(): Promise<void>;
};

export function registryHandle(
	ctx: ServiceContext,
	options: {after?: Promise<unknown>; eager?: boolean; wrap?: (registry: ArtifactRegistry) => ArtifactRegistry} = {},
): OwnedRegistry {
	const worker = bundledRegistryWorker();
	let opening: Promise<ArtifactRegistry> | undefined;
	let opened: ArtifactRegistry | undefined;
	let thread: RegistryThread | undefined;
	let closed = false;
	const load = async (): Promise<ArtifactRegistry> => {
		if (worker) {
			thread = takePrestartedThread(ctx) ?? startRegistryThread(ctx, worker);
			return thread.opened;
		}
		await options.after;
		const {openArtifactRegistry} = await import('./artifact-registry.js');
		return openArtifactRegistry(ctx);
	};

	const handle: OwnedRegistry = {
		async open() {
			// A check still running when the run ends (Ctrl-C) must not start a client nobody closes.
			if (closed) throw new CancelledError();
			if (!opening) {
				opening = load().then(registry => {
					opened = registry;
					return options.wrap?.(registry) ?? registry;
				});
				opening.catch(() => undefined); // Awaited, and its failure reported, by whoever needs the client.
			}

			return opening;
		},
		async close() {
			closed = true;
			const pending = opening;
			const client = opened;
			const starting = thread;
			opening = undefined;
			opened = undefined;
			thread = undefined;
			if (client) await client.close();
			// Still loading on its thread: end the thread.
			else if (starting) await starting.terminate();
			// Still opening here (a credentials lookup can take seconds): never wait for it; close it once open.
			else void pending?.then(async late => late.close()).catch(() => undefined);
		},
	};
	if (worker && options.eager) void handle.open().catch(() => undefined);
	return handle;
}
