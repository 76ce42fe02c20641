import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {usageLines} from '../../source/services/usage.js';

describe('the lines that use an image in a task', () => {
	it('import the variable from its module (dotted from the project folder) and decorate with the SDK of the module', () => {
		expect(usageLines({sdk: 'union', folder: '/p', moduleFile: '/p/image_specs.py', variable: 'trainer_image'})).toEqual([
			'import union',
			'from image_specs import trainer_image',
			'',
			'@union.task(container_image=trainer_image)',
		]);
		expect(usageLines({sdk: 'flytekit', folder: '/p', moduleFile: path.join('/p', 'src', 'images.py'), variable: 'team_gpu_image'})).toEqual([
			'from flytekit import task',
			'from src.images import team_gpu_image',
			'',
			'@task(container_image=team_gpu_image)',
		]);
	});

	it('for Flyte 2: the environment, whose task takes the image', () => {
		expect(usageLines({sdk: 'flyte', folder: '/p', moduleFile: '/p/images.py', variable: 'trainer_env'})).toEqual([
			'from images import trainer_env',
			'',
			'@trainer_env.task',
		]);
	});
});
