import {constants} from 'node:fs';
import {open, stat, unlink} from 'node:fs/promises';
import {StepError} from './errors.js';
import {guardFile} from './file-safety.js';
import {isManagedModule, readDeclarations, readModuleFile, writeFileAtomic} from './spec-module.js';

export type ModuleWrite = {
	/** written: as shown; merged: the file had changed since it was shown, and the declaration went into its new content. */
	kind: 'written' | 'merged' | 'unchanged';
};

const imageSpecDeclarationOf = (content: string | undefined, name: string): string | undefined =>
	content === undefined ? undefined : readDeclarations(content).find(declaration => declaration.spec.name.toLowerCase() === name.toLowerCase())?.text;

// A lock older than this was left by a run that died: a write takes milliseconds.
const STALE_LOCK_MS = 30_000;

/** Holds `${file}.imagespec-gar.lock` (created exclusively) while work runs: two runs never interleave a read and a write. */
async function withLock<T>(file: string, work: () => Promise<T>): Promise<T> {
	const lock = `${file}.imagespec-gar.lock`;
	for (let attempt = 0; ; attempt++) {
		try {
			// one attempt after the other
			const handle = await open(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
			await handle.close();
			break;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
			const info = await stat(lock).catch(() => undefined);
			if (info && Date.now() - info.mtimeMs > STALE_LOCK_MS) {
				await unlink(lock).catch(() => undefined);
				continue;
			}

			if (attempt >= 100) {
				throw new StepError(`Another imagespec-gar run is writing ${file}.`, {
					fix: `Wait for it to finish (or remove ${lock} if no run is going on), then rerun.`,
					reason: 'MODULE_LOCKED',
				});
			}

			await new Promise(resolve => setTimeout(resolve, 50));
		}
	}

	try {
		return await work();
	} finally {
		await unlink(lock).catch(() => undefined);
	}
}

/**
 * Writes the module the person approved. `shown` is the content the preview was made from and
 * `content` the result shown; when the file changed meanwhile (another run, an editor), `replan`
 * makes the same change against the new content (undefined: it cannot), so what someone else
 * added is kept. When they changed this same image's declaration, nothing is written and the
 * reason is given. Never loses a declaration.
 */
export async function writeModuleChecked(
	file: string,
	change: {
		shown: string | undefined;
		content: string;
		name: string;
		replan: (current: string) => string | undefined;
		/** The text of the declaration of `name` (default: the ImageSpec module's; flyte-module.ts has the flyte.Image one). */
		declarationOf?: (content: string | undefined, name: string) => string | undefined;
		/** What is being written, for a file error ("Cannot write the ImageSpec module ..."). */
		label?: string;
	},
): Promise<ModuleWrite> {
	const declarationOf = change.declarationOf ?? imageSpecDeclarationOf;
	return guardFile(`write the ${change.label ?? 'ImageSpec module'}`, file, async () =>
		withLock(file, async () => {
			const current = await readModuleFile(file);
			if (current === change.shown) {
				await writeFileAtomic(file, change.content);
				return {kind: 'written'};
			}

			const changed = `${file} changed after it was shown to you, and nothing was written`;
			if (current === undefined || declarationOf(current, change.name) !== declarationOf(change.shown, change.name)) {
				throw new StepError(
					`${changed}: ${current === undefined ? 'it was removed' : `its declaration of ${change.name} was changed`} meanwhile (another run or an editor).`,
					{
						fix: 'Look at the file, then rerun: the preview will start from its new content.',
						reason: 'MODULE_CHANGED',
					},
				);
			}

			const next = isManagedModule(current) ? change.replan(current) : undefined;
			if (next === undefined) {
				throw new StepError(`${changed}: it is no longer managed by imagespec-gar.`, {
					fix: 'Rerun to get the declaration as a snippet to paste.',
					reason: 'MODULE_CHANGED',
				});
			}

			if (next === current) return {kind: 'unchanged'};
			await writeFileAtomic(file, next);
			return {kind: 'merged'};
		}),
	);
}
