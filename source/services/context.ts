import type {Platform} from './platform.js';

/** What every service call gets: where it runs (env, OS, arch) and how to cancel it. */
export type ServiceContext = {
	platform: Platform;
	signal?: AbortSignal;
	/** Called as soon as a child process has been started (runTool): lets a caller time heavy work after it. */
	onSpawn?: () => void;
	/**
	 * A `gcloud auth configure-docker` still running beside the build (the wizard's docker
	 * authentication): docker's credentials for that host are used only once it has ended.
	 */
	dockerAuth?: {host: string; done: Promise<unknown>};
};
