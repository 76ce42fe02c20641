import path from 'node:path';
import type {Sdk} from './sdk.js';

/**
 * The lines that use an image in a task, exactly as this project would write them: the import
 * of the image's variable from its module (a dotted path from the project folder, where
 * `union register` runs) and the task decorator of the module's SDK. For flyte, `variable` is the
 * TaskEnvironment's: a Flyte 2 task takes its image from its environment.
 */
export const usageLines = (options: {sdk: Sdk; moduleFile: string; folder: string; variable: string}): string[] => {
	const module = path.relative(options.folder, options.moduleFile).replace(/\.py$/, '').split(path.sep).join('.');
	const from = `from ${module} import ${options.variable}`;
	if (options.sdk === 'flyte') return [from, '', `@${options.variable}.task`];
	return options.sdk === 'flytekit'
		? ['from flytekit import task', from, '', `@task(container_image=${options.variable})`]
		: ['import union', from, '', `@union.task(container_image=${options.variable})`];
};
