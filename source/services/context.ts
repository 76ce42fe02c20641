import type {Platform} from './platform.js';

/** What every service call gets: where it runs (env, OS, arch) and how to cancel it. */
export type ServiceContext = {
	platform: Platform;
	signal?: AbortSignal;
};
