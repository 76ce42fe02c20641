import {execFile} from 'node:child_process';
import {mkdtemp, readFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import {describe, expect, it} from 'vitest';
import {defaultFlags} from '../../source/flags.js';
import {createAsker, type Question} from '../../source/flow/ask.js';
import type {JourneyEvent} from '../../source/flow/events.js';
import {currentPlatform} from '../../source/services/platform.js';
import type {StepContext} from '../../source/steps/context.js';
import {authorFlyteImage} from '../../source/steps/flyte-image.js';
import {scriptedPerson} from '../support/scripted-person.js';

const where = {project: 'acme-ml', location: 'us-east1', repository: 'flyte-images'};

/** A new Flyte 2 image answered by a person: the pip packages as typed, and the Python question as asked. */
const answerNew = async (packages: string) => {
	const folder = await mkdtemp(path.join(os.tmpdir(), 'isg-flyte-step-'));
	const signal = new AbortController().signal;
	const events: JourneyEvent[] = [];
	let python: Question | undefined;
	const person = scriptedPerson([
		[/Image name/, 'trainer'],
		[
			/Python version/,
			question => {
				python = question;
				return question.kind === 'select' ? (question.default ?? '') : '';
			},
		],
		[/pip packages/, packages],
		[/Write flyte_images\.py/, true],
	]);
	const c: StepContext = {
		flags: {...defaultFlags(), sdk: 'flyte'},
		cwd: folder,
		folder,
		ctx: {platform: currentPlatform({HOME: folder, PATH: process.env.PATH}), signal},
		ask: createAsker(person.prompter, signal),
		report: event => events.push(event),
		saved: {},
		sdk: 'flyte',
	};
	await authorFlyteImage(c, where);
	return {module: await readFile(path.join(folder, 'flyte_images.py'), 'utf8'), python};
};

describe('a new flyte.Image, asked', () => {
	it('pip packages split only where a new requirement starts: the comma in pandas>=2,<3 stays', async () => {
		const {module} = await answerNew('pandas>=2,<3, pyarrow');
		expect(module).toContain('.with_pip_packages("pandas>=2,<3", "pyarrow")');
	});

	it("the Python version defaults to the local interpreter's, as flyte's from_debian_base does, and says so", async () => {
		const {stdout} = await promisify(execFile)('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
		const {python} = await answerNew('');
		expect(python?.kind === 'select' && python.default).toBe(stdout.trim());
		const hint = python?.kind === 'select' ? python.choices.find(choice => choice.value === stdout.trim())?.hint : undefined;
		expect(hint).toContain('as flyte defaults to it');
	});

	it('a package list that is not PEP 508 is refused at the question, naming the entry', async () => {
		const {packagesProblem} = await import('../../source/services/imagespec.js');
		expect(packagesProblem('pandas>=2,<3, pyarrow')).toBeUndefined();
		expect(packagesProblem('pandas>=2, <3')).toBeUndefined();
		expect(packagesProblem('pandas, -r reqs.txt')).toContain('"-r reqs.txt": pip options are not packages');
		expect(packagesProblem('')).toBeUndefined();
	});
});
