import {UsageError} from '../services/errors.js';
import {checkFlagFile, readRegularText} from '../services/file-safety.js';
import {planRequirementsFile} from '../services/requirements.js';
import type {StepContext} from './context.js';

/**
 * --output and --requirements, judged before anything reads them: inside the project, regular
 * files (a FIFO would block the run), the module a .py file, the requirements UTF-8 text.
 */
export async function checkFlagFiles(c: Pick<StepContext, 'flags' | 'cwd' | 'folder'>): Promise<void> {
	const {flags, cwd, folder} = c;
	if (flags.output !== undefined) await checkFlagFile('output', flags.output, {cwd, folder, extension: '.py'});
	if (flags.requirements === undefined) return;
	const shown = `--requirements ${JSON.stringify(flags.requirements)}`;
	// Without --packages the file must exist; with them it is created (or must already say the same).
	const file = await checkFlagFile('requirements', flags.requirements, {cwd, folder, mustExist: flags.packages === undefined});
	const existing = await readRegularText(file).catch(() => {
		throw new UsageError(`${shown} is not UTF-8 text: name a requirements file`, 'requirements');
	});
	if (existing?.includes('\0')) throw new UsageError(`${shown} holds binary data: name a requirements file`, 'requirements');
	if (flags.packages !== undefined && planRequirementsFile(existing, flags.packages).kind === 'keep') {
		throw new UsageError(`${shown} already lists other packages than --packages: leave out --packages to use the file as it is`, 'requirements');
	}
}
