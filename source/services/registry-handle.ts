import type {ArtifactRegistry} from './artifact-registry.js';
import type {ServiceContext} from './context.js';
import {CancelledError} from './errors.js';

/**
 * The one Artifact Registry client a command owns, opened on first use: loading the client blocks
 * the event loop ~0.2-0.5 s, so it waits for `after` (the view's first frame) and is never loaded
 * by a run that needs no API. Whoever made the handle closes it, once: `close` never waits for a
 * client still opening, and nothing opens it again.
 *
 * Not on a worker thread: that was tried (issue 17) and cut ~0.17 s from the first question, but
 * the second isolate added ~40 MB to an interactive run's peak memory (141 -> 181 MB, target 150).
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
	options: {after?: Promise<unknown>; wrap?: (registry: ArtifactRegistry) => ArtifactRegistry} = {},
): OwnedRegistry {
	let opening: Promise<ArtifactRegistry> | undefined;
	let opened: ArtifactRegistry | undefined;
	let closed = false;
	return {
		async open() {
			// A check still running when the run ends (Ctrl-C) must not start a client nobody closes.
			if (closed) throw new CancelledError();
			if (!opening) {
				opening = Promise.resolve(options.after)
					.then(async () => import('./artifact-registry.js'))
					.then(async ({openArtifactRegistry}) => openArtifactRegistry(ctx))
					.then(registry => {
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
			opening = undefined;
			opened = undefined;
			if (client) await client.close();
			// Still opening (a credentials lookup can take seconds): never wait for it; close it once open.
			else void pending?.then(async late => late.close()).catch(() => undefined);
		},
	};
}
