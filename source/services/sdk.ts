import {readdir} from 'node:fs/promises';
import path from 'node:path';
import {readRegularText} from './file-safety.js';
import {packageName} from './imagespec.js';
import {parseRequirements} from './requirements.js';

/** union / flytekit write ImageSpec (Flyte 1); flyte writes flyte.Image (Flyte 2). */
export type Sdk = 'union' | 'flytekit' | 'flyte';

export const SDKS: readonly Sdk[] = ['union', 'flytekit', 'flyte'];

/** Files where a Python project names its dependencies. */
const DEPENDENCY_FILES = ['requirements.txt', 'requirements.in', 'requirements-dev.txt', 'pyproject.toml', 'setup.cfg', 'setup.py'];

/** Every requirement string the project's dependency files name. */
const projectRequirements = async (folder: string): Promise<string[]> => {
	const requirements: string[] = [];
	for (const file of DEPENDENCY_FILES) {
		// A handful of small files; a FIFO or folder in their place is not read (it would block).
		const content = await readRegularText(path.join(folder, file)).catch(() => undefined);
		if (content === undefined) continue;
		requirements.push(
			...(file.startsWith('requirements')
				? parseRequirements(content)
				: // pyproject/setup files: any quoted requirement string.
					[...content.matchAll(/["']([A-Za-z\d][^"'\n]*)["']/g)].map(match => match[1]!)),
		);
	}
	return requirements;
};

/** Which SDKs the project's top-level Python files import (`import flyte`, `from union import ...`). */
const importedSdks = async (folder: string): Promise<Set<Sdk>> => {
	const found = new Set<Sdk>();
	const files = await readdir(folder).catch(() => [] as string[]);
	for (const file of files.filter(name => name.endsWith('.py')).slice(0, 200)) {
		// Small files, one after the other; a FIFO named *.py is skipped, not waited on.
		const content = (await readRegularText(path.join(folder, file)).catch(() => undefined)) ?? '';
		for (const match of content.matchAll(/^(?:import|from)[ \t]+(union|flytekit|flyte)\b(?!\.)|^(?:import|from)[ \t]+(union|flytekit|flyte)\./gm)) {
			found.add((match[1] ?? match[2]) as Sdk);
		}
	}
	return found;
};

/**
 * flyte when the project depends on flyte and not on the Flyte 1 SDKs (or, naming none, imports
 * only flyte); else flytekit when it depends on flytekit without union; else union.
 */
export const detectSdk = async (folder: string): Promise<Sdk> => {
	const names = new Set((await projectRequirements(folder)).map(requirement => packageName(requirement)).filter(name => name !== undefined));
	const v1 = names.has('union') || names.has('flytekit');
	if (names.has('flyte') && !v1) return 'flyte';
	if (!v1 && !names.has('flyte')) {
		const imported = await importedSdks(folder);
		if (imported.has('flyte') && !imported.has('union') && !imported.has('flytekit')) return 'flyte';
	}
	return names.has('flytekit') && !names.has('union') ? 'flytekit' : 'union';
};

/** The SDKs that declare ImageSpec (Flyte 1). */
export type ImageSpecSdk = Exclude<Sdk, 'flyte'>;

/** The ImageSpec module's SDK, from the run's one (--sdk, else detected): union for a project that names none. */
export const imageSpecSdk = (sdk: Sdk): ImageSpecSdk => (sdk === 'flyte' ? 'union' : sdk);

/** The flyte version the project pins exactly (`flyte==2.6.5`), which names its from_debian_base image. */
export const pinnedFlyteVersion = async (folder: string): Promise<string | undefined> => {
	for (const requirement of await projectRequirements(folder)) {
		if (packageName(requirement) !== 'flyte') continue;
		const pin = /^flyte\s*(?:\[[^\]]*\]\s*)?===?\s*([\dv][\w.+!-]*)\s*(?:;.*)?$/i.exec(requirement.trim());
		if (pin) return pin[1];
	}
	return undefined;
};
