import {constants} from 'node:fs';
import {chmod, lstat, mkdir, open, unlink} from 'node:fs/promises';
import path from 'node:path';
import {StepError} from './errors.js';
import {fileError} from './file-safety.js';
import type {Platform} from './platform.js';

/**
 * The person's own folder for build logs: the platform's state folder, never a shared temp
 * folder (where another local user can plant a link at a predictable name).
 */
export const logFolder = ({os, env, home}: Platform): string => {
	if (os === 'darwin') return path.join(home, 'Library', 'Logs', 'imagespec-gar');
	if (os === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'), 'imagespec-gar', 'Logs');
	return path.join(env.XDG_STATE_HOME || path.join(home, '.local', 'state'), 'imagespec-gar', 'logs');
};

/**
 * Creates the folder (0700) when missing; refuses one that is a link, not a folder, or owned by
 * someone else (they could swap its files); closes a folder of ours that others may enter.
 */
async function ensurePrivateFolder(dir: string): Promise<void> {
	try {
		await mkdir(dir, {recursive: true, mode: 0o700});
	} catch (error) {
		throw fileError(error, 'create the log folder', dir);
	}

	const info = await lstat(dir);
	const uid = process.getuid?.();
	const unsafe = info.isSymbolicLink()
		? 'is a symbolic link'
		: !info.isDirectory()
			? 'is not a folder'
			: uid !== undefined && info.uid !== uid
				? `belongs to another user (uid ${info.uid})`
				: undefined;
	if (unsafe) {
		throw new StepError(`The build log folder ${dir} ${unsafe}: imagespec-gar writes its logs only into a folder of your own.`, {
			fix: `Remove ${dir} (or set XDG_STATE_HOME to a folder of yours), then rerun.`,
			reason: 'LOG_FOLDER_UNSAFE',
		});
	}

	if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

/** A build log: lines in, secrets already masked by `redact`. */
export type BuildLog = {path: string; write(line: string): void; close(): Promise<void>};

/**
 * Opens `file` for a new log: created exclusively and without following a link (0600), so an
 * existing link or file at that name is never written through. The previous log of the same
 * image and tag is replaced.
 */
export async function openLogFile(file: string, redact: (line: string) => string = line => line): Promise<BuildLog> {
	await ensurePrivateFolder(path.dirname(file));
	await unlink(file).catch(() => undefined);
	let handle;
	try {
		// O_NOFOLLOW is 0 on Windows, where links need privileges to create.
		handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
	} catch (error) {
		throw fileError(error, 'create the build log', file);
	}

	const stream = handle.createWriteStream();
	let failed = false;
	// A full disk must not end the build: the log stops, the build goes on.
	stream.on('error', () => {
		failed = true;
	});
	return {
		path: file,
		write(line) {
			if (!failed) stream.write(`${redact(line)}\n`);
		},
		async close() {
			await new Promise<void>(resolve => {
				stream.end(resolve);
			});
		},
	};
}

/** The log file for one image and tag (names with `/` flattened). */
export const buildLogPath = (platform: Platform, image: string, tag: string): string =>
	path.join(logFolder(platform), `${image.replaceAll('/', '_')}-${tag}.log`);
