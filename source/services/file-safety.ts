import {constants, statSync} from 'node:fs';
import {open, realpath, stat} from 'node:fs/promises';
import path from 'node:path';
import {StepError, UsageError} from './errors.js';

/** What a filesystem error means for a person, and what they can do about it. */
const ERRNO: Record<string, {says: string; fix: (file: string) => string}> = {
	EISDIR: {says: 'it is a folder', fix: file => `Remove or rename the folder ${file}, or name a file instead.`},
	ENOENT: {says: 'its folder does not exist', fix: file => `Create ${path.dirname(file)} first, or name a file in an existing folder.`},
	ENOTDIR: {says: 'a part of its path is a file, not a folder', fix: file => `Check the path ${file}.`},
	EACCES: {
		says: 'permission denied',
		fix: file => `Make ${file} and its folder writable for you (ls -ld ${path.dirname(file)}), or run from a folder you own.`,
	},
	EPERM: {
		says: 'the operation is not permitted',
		fix: file => `Make ${file} and its folder writable for you (ls -ld ${path.dirname(file)}), or run from a folder you own.`,
	},
	EROFS: {says: 'the file system is read-only', fix: () => 'Run from a writable copy of the project, or remount it read-write.'},
	ENOSPC: {
		says: 'no space is left on the device',
		fix: file => `Free some space on the disk that holds ${path.dirname(file)} (df -h ${path.dirname(file)}), then rerun.`,
	},
	EDQUOT: {says: 'your disk quota is used up', fix: file => `Free some space in your quota on the disk that holds ${path.dirname(file)}, then rerun.`},
	ELOOP: {says: 'it is a symbolic link that may not be followed here', fix: file => `Replace the link ${file} with a regular file.`},
	EEXIST: {says: 'it appeared while being created', fix: () => 'Another run may be writing it: wait for it, then rerun.'},
	EMFILE: {says: 'too many files are open', fix: () => 'Close other programs (or raise ulimit -n), then rerun.'},
};

type ErrnoError = NodeJS.ErrnoException & {path?: string};

const isErrno = (error: unknown): error is ErrnoError =>
	error instanceof Error && typeof (error as ErrnoError).code === 'string' && (error as ErrnoError).code! in ERRNO;

/**
 * A filesystem failure as one line that names the file and the fix. `doing` is what was being
 * done ("write the ImageSpec module"); `file` defaults to the path the error carries.
 * Anything that is not a known filesystem error is returned as it came.
 */
export function fileError(error: unknown, doing: string, file?: string): unknown {
	if (!isErrno(error)) return error;
	const target = file ?? error.path ?? 'a file';
	const known = ERRNO[error.code!]!;
	return new StepError(`Cannot ${doing} ${target}: ${known.says}.`, {fix: known.fix(target), reason: `FILE_${error.code}`, cause: error});
}

/** Runs work; a filesystem failure becomes fileError's StepError. */
export async function guardFile<T>(doing: string, file: string, work: () => Promise<T>): Promise<T> {
	try {
		return await work();
	} catch (error) {
		throw fileError(error, doing, file);
	}
}

export class NotRegularFileError extends StepError {
	constructor(
		readonly file: string,
		readonly kind: string,
	) {
		super(`${file} is ${kind}, not a regular file.`, {fix: `Name a regular file instead of ${file}.`, reason: 'NOT_A_FILE'});
	}
}

/** What a non-regular file is, for messages. */
const kindOf = (info: {isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean}): string =>
	info.isDirectory()
		? 'a folder'
		: info.isFIFO()
			? 'a FIFO (named pipe)'
			: info.isSocket()
				? 'a socket'
				: info.isCharacterDevice() || info.isBlockDevice()
					? 'a device'
					: 'not a file';

/**
 * Reads a regular file, or undefined when there is none. Opened non-blocking and checked before
 * any read, so a FIFO or a device never blocks the run (a blocked open ignores Ctrl-C).
 */
export async function readRegularFile(file: string): Promise<Buffer | undefined> {
	let handle;
	try {
		handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
	} catch (error) {
		if ((error as ErrnoError).code === 'ENOENT') return undefined;
		if ((error as ErrnoError).code === 'EISDIR') throw new NotRegularFileError(file, 'a folder');
		throw error;
	}

	try {
		const info = await handle.stat();
		if (!info.isFile()) throw new NotRegularFileError(file, kindOf(info));
		return await handle.readFile();
	} finally {
		await handle.close();
	}
}

/** Whether file is there and a regular file (a FIFO, folder or device is not). */
export const isRegularFile = (file: string): boolean => statSync(file, {throwIfNoEntry: false})?.isFile() ?? false;

/** readRegularFile as text; bytes that are not UTF-8 are refused rather than turned into U+FFFD. */
export async function readRegularText(file: string): Promise<string | undefined> {
	const bytes = await readRegularFile(file);
	if (bytes === undefined) return undefined;
	try {
		return new TextDecoder('utf-8', {fatal: true}).decode(bytes);
	} catch {
		throw new StepError(`${file} is not UTF-8 text.`, {fix: `Save ${file} as UTF-8, or name another file.`, reason: 'NOT_UTF8'});
	}
}

/** Whether `file` (after following links) lies inside `folder` (after following links). */
async function insideFolder(folder: string, file: string): Promise<boolean> {
	const root = await realpath(folder).catch(() => path.resolve(folder));
	// A file that does not exist yet: its nearest existing parent decides.
	let existing = path.resolve(file);
	let rest = '';
	for (;;) {
		try {
			existing = await realpath(existing);
			break;
		} catch {
			const parent = path.dirname(existing);
			if (parent === existing) break;
			rest = path.join(path.basename(existing), rest);
			existing = parent;
		}
	}

	const relative = path.relative(root, path.join(existing, rest));
	return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * A file named by a flag (--output, --requirements): inside the project folder (where `union
 * register` and teammates find it), a regular file when it exists, in a folder that exists.
 * Throws UsageError (exit 2) naming the flag and the rule.
 */
export async function checkFlagFile(
	flag: string,
	value: string,
	options: {cwd: string; folder: string; extension?: string; mustExist?: boolean},
): Promise<string> {
	const file = path.resolve(options.cwd, value);
	const shown = `--${flag} ${JSON.stringify(value)}`;
	if (value.trim() === '') throw new UsageError(`${shown}: name a file`, flag);
	if (options.extension && path.extname(file) !== options.extension) throw new UsageError(`${shown}: the file must end in ${options.extension}`, flag);
	if (!(await insideFolder(options.folder, file))) {
		throw new UsageError(
			`${shown} is outside the project folder ${options.folder}: ` +
				'the module and its requirements live in the project, where union register and your teammates find them',
			flag,
		);
	}

	const info = await stat(file).catch((error: ErrnoError) => {
		if (error.code === 'ENOENT') return undefined;
		throw fileError(error, 'read', file);
	});
	if (info && !info.isFile()) throw new UsageError(`${shown} is ${kindOf(info)}: name a regular file`, flag);
	if (!info) {
		if (options.mustExist) throw new UsageError(`${shown}: no such file`, flag);
		const parent = await stat(path.dirname(file)).catch(() => undefined);
		if (!parent?.isDirectory()) throw new UsageError(`${shown}: the folder ${path.dirname(file)} does not exist`, flag);
	}

	return file;
}
