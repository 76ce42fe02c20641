import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {normalizePackageName, packageName} from './imagespec.js';
import {parseRequirements} from './requirements.js';

export type Sdk = 'union' | 'flytekit';

/** Files where a Python project names its dependencies. */
const DEPENDENCY_FILES = ['requirements.txt', 'requirements.in', 'requirements-dev.txt', 'pyproject.toml', 'setup.cfg', 'setup.py'];

/**
 * `union` unless the project depends on flytekit without union: then the module imports
 * flytekit, which is what the project can already import.
 */
export const detectSdk = async (folder: string): Promise<Sdk> => {
	const names = new Set<string>();
	for (const file of DEPENDENCY_FILES) {
		// a handful of small files
		const content = await readFile(path.join(folder, file), 'utf8').catch(() => undefined);
		if (content === undefined) continue;
		const requirements = file.startsWith('requirements')
			? parseRequirements(content)
			: // pyproject/setup files: any quoted requirement string.
				[...content.matchAll(/["']([A-Za-z\d][\w.-]*)[^"'\n]*["']/g)].map(match => match[1]!);
		for (const requirement of requirements) {
			const name = packageName(requirement);
			if (name) names.add(normalizePackageName(name));
		}
	}

	return names.has('flytekit') && !names.has('union') ? 'flytekit' : 'union';
};
