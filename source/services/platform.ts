import os from 'node:os';
import path from 'node:path';

/**
 * Everything that differs between macOS, Linux and Windows lives here, so a test can set it.
 */
export type Platform = {
	os: NodeJS.Platform;
	arch: string;
	env: NodeJS.ProcessEnv;
	home: string;
	/** The process's user id (POSIX): 0 under sudo. */
	uid?: number;
};

export const currentPlatform = (env: NodeJS.ProcessEnv = process.env): Platform => ({
	os: process.platform,
	arch: process.arch,
	env,
	// HOME first: tests and users may point it elsewhere for one run.
	home: (process.platform === 'win32' ? env.USERPROFILE : env.HOME) ?? os.homedir(),
	uid: process.getuid?.(),
});

/** gcloud is a .cmd script on Windows. */
export const executable = (platform: Platform, name: 'gcloud' | 'docker' | 'docker-credential-gcloud'): string =>
	platform.os === 'win32' && name !== 'docker' ? `${name}.cmd` : name;

/** gcloud's state folder: CLOUDSDK_CONFIG, else ~/.config/gcloud, else %APPDATA%\gcloud. */
export const gcloudConfigDir = (platform: Platform): string => {
	if (platform.env.CLOUDSDK_CONFIG) return platform.env.CLOUDSDK_CONFIG;
	if (platform.os === 'win32') return path.join(platform.env.APPDATA ?? path.join(platform.home, 'AppData', 'Roaming'), 'gcloud');
	return path.join(platform.home, '.config', 'gcloud');
};

/** Where the Node client looks for Application Default Credentials first. */
export const adcPath = (platform: Platform): string =>
	platform.env.GOOGLE_APPLICATION_CREDENTIALS ?? path.join(gcloudConfigDir(platform), 'application_default_credentials.json');

/** docker's config.json: DOCKER_CONFIG, else ~/.docker. */
export const dockerConfigPath = (platform: Platform): string => path.join(platform.env.DOCKER_CONFIG ?? path.join(platform.home, '.docker'), 'config.json');
