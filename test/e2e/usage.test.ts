import {readdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {imagespecGar, type CliRun} from '../support/cli.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';

const base = ['--project', 'acme-ml', '--location', 'us-east1', '--repository', 'union-images', '--image', 'trainer'];
const without = (flag: string) => {
	const index = base.indexOf(flag);
	return [...base.slice(0, index), ...base.slice(index + 2)];
};
const replace = (flag: string, value: string) => base.map((arg, index) => (base[index - 1] === flag ? value : arg));

/** [what is wrong, args, the flag the message must name] */
const BAD_INPUTS: Array<[string, string[], string]> = [
	['no location', without('--location'), '--location'],
	['no repository', without('--repository'), '--repository'],
	['no image', without('--image'), '--image'],
	['unknown flag', [...base, '--projekt', 'x'], '--projekt'],
	['project with upper case', replace('--project', 'Acme-ML'), '--project'],
	['project too short', replace('--project', 'abc'), '--project'],
	['project ending in a hyphen', replace('--project', 'acme-ml-'), '--project'],
	['location that does not exist', replace('--location', 'us-east99'), '--location'],
	['location with a host in it', replace('--location', 'us-east1-docker.pkg.dev'), '--location'],
	['repository with an underscore', replace('--repository', 'union_images'), '--repository'],
	['repository starting with a digit', replace('--repository', '1images'), '--repository'],
	['repository ending in a hyphen', replace('--repository', 'images-'), '--repository'],
	['repository of 64 characters', replace('--repository', `a${'b'.repeat(63)}`), '--repository'],
	['image with upper case', replace('--image', 'Trainer'), '--image'],
	['image with a tag', replace('--image', 'trainer:v1'), '--image'],
	['image with a trailing slash', replace('--image', 'team/'), '--image'],
	['python version 2.7', [...base, '--python-version', '2.7'], '--python-version'],
	['python version with a patch', [...base, '--python-version', '3.11.4'], '--python-version'],
	['python version 3.14', [...base, '--python-version', '3.14'], '--python-version'],
	['env without =', [...base, '--env', 'MODE'], '--env'],
	['env key with a space', [...base, '--env', 'MY KEY=1'], '--env'],
	['platform that is not os/arch', [...base, '--platform', 'amd64'], '--platform'],
	['platform windows', [...base, '--platform', 'windows/amd64'], '--platform'],
	['package pip would reject', [...base, '--packages', 'pandas==,numpy'], '--packages'],
	['tag format without the hash', [...base, '--tag-format', 'latest'], '--tag-format'],
	['builder that does not exist', [...base, '--builder', 'kaniko'], '--builder'],
	['packages that the requirements file does not list', [...base, '--packages', 'pandas', '--requirements', '../other-requirements.txt'], '--requirements'],
	['sdk that does not exist', [...base, '--sdk', 'pyflyte'], '--sdk'],
	['requirements file that does not exist', [...base, '--requirements', 'nope.txt'], '--requirements'],
	['json and plain together', [...base, '--json', '--plain'], '--json'],
	['force with no-build', [...base, '--force', '--no-build'], '--force'],
	['base image with a scheme', [...base, '--base-image', 'https://ghcr.io/flyteorg/flytekit:py3.12'], '--base-image'],
	['unknown command', ['deploy', ...base], 'deploy'],
	['a single-value flag given twice', [...base, '--image', 'other'], '--image'],
];

describe('bad input: exit 2, the flag named, nothing written', () => {
	let sandbox: Sandbox;
	const outcomes = new Map<string, CliRun>();

	beforeAll(async () => {
		sandbox = await makeSandbox({ci: 'true'});
		await writeFile(path.join(sandbox.root, 'other-requirements.txt'), 'numpy\n');
		// Four at a time: each is a whole CLI start.
		for (let index = 0; index < BAD_INPUTS.length; index += 4) {
			// batches
			await Promise.all(
				BAD_INPUTS.slice(index, index + 4).map(async ([name, args]) => outcomes.set(name, await imagespecGar(args, {cwd: sandbox.project, env: sandbox.env}))),
			);
		}
	});

	afterAll(async () => sandbox?.cleanup());

	it('has at least 25 cases', () => {
		expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(25);
	});

	it.each(BAD_INPUTS)('%s', (name, _args, flag) => {
		const outcome = outcomes.get(name)!;
		expect(outcome.code, outcome.stderr).toBe(2);
		expect(outcome.stderr).toContain(flag);
		expect(outcome.stderr).not.toMatch(/Unexpected error|at .*\.js:\d+/);
	});

	it('wrote nothing: no saved answers, no module, no docker or gcloud config', async () => {
		expect(await readdir(sandbox.project)).toEqual([]);
		expect(await readdir(sandbox.xdgConfig)).toEqual([]);
		expect(await readdir(sandbox.dockerConfig)).toEqual([]);
		expect((await readdir(sandbox.cloudsdkConfig)).filter(entry => !entry.startsWith('.'))).toEqual([]);
		expect(path.isAbsolute(sandbox.project)).toBe(true);
	});
});
