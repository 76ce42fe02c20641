import {createHash} from 'node:crypto';
import {existsSync} from 'node:fs';
import {mkdir, mkdtemp, readdir, rename, rm, symlink} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type {ServiceContext} from '../../source/services/context.js';
import type {Platform} from '../../source/services/platform.js';

export type Sandbox = {
	root: string;
	cloudsdkConfig: string;
	dockerConfig: string;
	xdgConfig: string;
	home: string;
	/** A project folder with no git repository around it. */
	project: string;
	/** process.env with every tool's state pointed into the sandbox. */
	env: NodeJS.ProcessEnv;
	platform: Platform;
	/** A ServiceContext over platform; pass a signal to cancel. */
	context: (signal?: AbortSignal) => ServiceContext;
	cleanup: () => Promise<void>;
};

// Variables of the developer's own setup that would leak into gcloud or docker.
const leaking = [
	'GOOGLE_APPLICATION_CREDENTIALS',
	'CLOUDSDK_CORE_PROJECT',
	'CLOUDSDK_CORE_ACCOUNT',
	'CLOUDSDK_ACTIVE_CONFIG_NAME',
	'CLOUDSDK_AUTH_ACCESS_TOKEN_FILE',
	'CLOUDSDK_AUTH_TOKEN_HOST',
	'DOCKER_HOST',
	'DOCKER_CONTEXT',
	'DOCKER_CERT_PATH',
	'DOCKER_TLS_VERIFY',
	'GCE_METADATA_HOST',
];

export type SandboxOptions = {
	/** CI's value in the children; unset by default so tools behave as for a person. */
	ci?: string;
	/** Extra variables (undefined removes one). */
	env?: Record<string, string | undefined>;
};

/** Temp dirs for gcloud, docker, conf and HOME, and an env that uses only them. */
export const makeSandbox = async (options: SandboxOptions = {}): Promise<Sandbox> => {
	// Under /tmp, not inside the repo: the project folder must not be in a git work tree.
	const root = await mkdtemp(path.join(os.tmpdir(), 'imagespec-gar-test-'));
	const dirs = {
		cloudsdkConfig: path.join(root, 'gcloud'),
		dockerConfig: path.join(root, 'docker'),
		xdgConfig: path.join(root, 'xdg'),
		home: path.join(root, 'home'),
		project: path.join(root, 'project'),
	};
	await Promise.all(Object.values(dirs).map(async dir => mkdir(dir, {recursive: true})));
	const env: NodeJS.ProcessEnv = {...process.env};
	for (const name of leaking) delete env[name];
	delete env.CI;
	Object.assign(env, {
		CLOUDSDK_CONFIG: dirs.cloudsdkConfig,
		DOCKER_CONFIG: dirs.dockerConfig,
		XDG_CONFIG_HOME: dirs.xdgConfig,
		HOME: dirs.home,
		CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
		// No network here: gcloud and google-auth must not wait for a metadata server.
		METADATA_SERVER_DETECTION: 'none',
		NO_GCE_CHECK: 'True',
	});
	if (options.ci !== undefined) env.CI = options.ci;
	for (const [key, value] of Object.entries(options.env ?? {})) {
		if (value === undefined) delete env[key];
		else env[key] = value;
	}
	const platform: Platform = {os: process.platform, arch: process.arch, env, home: dirs.home};
	return {
		root,
		...dirs,
		env,
		platform,
		context: signal => ({platform, signal}),
		cleanup: async () => rm(root, {recursive: true, force: true}),
	};
};

/** A copy of platform with env changed (undefined removes a variable). */
export const withEnv = (platform: Platform, changes: Record<string, string | undefined>): Platform => {
	const env: NodeJS.ProcessEnv = {...platform.env};
	for (const [key, value] of Object.entries(changes)) {
		if (value === undefined) delete env[key];
		else env[key] = value;
	}
	return {...platform, env};
};

const mirrors = new Map<string, Promise<string>>();
// Mirrors are keyed by content and reused across runs: a killed test worker leaves nothing new.
const MIRROR_ROOT = path.join(os.tmpdir(), 'imagespec-gar-path-mirrors');

/**
 * PATH with the named tools gone but everything else still found: each folder that holds one
 * of them is replaced by a mirror of symlinks without it (dropping /usr/bin whole would lose
 * python, node and the shell utilities gcloud needs).
 */
export const pathHiding = async (pathValue: string, names: string[]): Promise<string> => {
	const key = `${names.join(',')}|${pathValue}`;
	let result = mirrors.get(key);
	if (!result) {
		result = makeHidingPath(pathValue, names);
		mirrors.set(key, result);
	}
	return result;
};

const makeHidingPath = async (pathValue: string, names: string[]): Promise<string> => {
	const dirs = pathValue.split(path.delimiter).filter(dir => dir !== '');
	const result: string[] = [];
	for (const dir of dirs) {
		const entries = (await readdir(dir).catch(() => [] as string[])).sort();
		if (!entries.some(entry => names.includes(entry))) {
			result.push(dir);
			continue;
		}
		const kept = entries.filter(entry => !names.includes(entry));
		const hash = createHash('sha1')
			.update(JSON.stringify([dir, kept]))
			.digest('hex')
			.slice(0, 16);
		const mirror = path.join(MIRROR_ROOT, hash);
		if (!existsSync(mirror)) {
			// Built aside, then renamed: a concurrent worker never sees half a mirror.
			await mkdir(MIRROR_ROOT, {recursive: true});
			const partial = await mkdtemp(path.join(MIRROR_ROOT, 'partial-'));
			await Promise.all(kept.map(async entry => symlink(path.join(dir, entry), path.join(partial, entry))));
			await rename(partial, mirror).catch(async () => rm(partial, {recursive: true, force: true}));
		}
		result.push(mirror);
	}
	return result.join(path.delimiter);
};
