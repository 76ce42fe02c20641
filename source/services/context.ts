import type {Platform} from './platform.js';

/** What every service call gets: where it runs (env, OS, arch) and how to cancel it. */
export type ServiceContext = {
	platform: Platform;
	signal?: AbortSignal;
	/** Called as soon as a child process has been started (runTool): lets a caller time heavy work after it. */
	onSpawn?: () => void;
};
