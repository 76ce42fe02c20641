import {execFile} from 'node:child_process';
import {mkdtemp, readFile, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import {describe, expect, it} from 'vitest';
import {defaultFlags, type Flags} from '../../source/flags.js';
import {createAsker} from '../../source/flow/ask.js';
import type {JourneyEvent} from '../../source/flow/events.js';
import {currentPlatform} from '../../source/services/platform.js';
import {authorImageSpec} from '../../source/steps/imagespec.js';
import type {StepContext} from '../../source/steps/context.js';
import {scriptedPerson} from '../support/scripted-person.js';

const where = {project: 'acme-ml', location: 'us-east1', repository: 'union-images', builder: 'local' as const};

const context = async (options: {flags?: Partial<Flags>; files?: Record<string, string>; script?: Parameters<typeof scriptedPerson>[0]}) => {
	const folder = await mkdtemp(path.join(os.tmpdir(), 'isg-spec-'));
	await Promise.all(Object.entries(options.files ?? {}).map(async ([name, content]) => writeFile(path.join(folder, name), content)));
	const events: JourneyEvent[] = [];
	const signal = new AbortController().signal;
	const person = options.script ? scriptedPerson(options.script) : undefined;
	const c: StepContext = {
		flags: {...defaultFlags(), ...options.flags},
		cwd: folder,
		folder,
		ctx: {platform: currentPlatform({HOME: folder}), signal},
		ask: createAsker(person?.prompter, signal),
		report: event => events.push(event),
		saved: {},
		declared: new Map(),
	};
	return {c, folder, events, person, module: async () => readFile(path.join(folder, 'image_specs.py'), 'utf8')};
};

describe('the Python version', () => {
	const pythonNamed = async (version: string) => {
		const bin = await mkdtemp(path.join(os.tmpdir(), 'isg-python-'));
		// An interpreter of a version this machine has not got: it answers the probe as Python would.
		await writeFile(path.join(bin, 'python3'), `#!/bin/sh\necho '{"version": "${version}"}'\n`, {mode: 0o755});
		return bin;
	};

	const pythonQuestion = async (PATH: string | undefined) => {
		const {c, person} = await context({script: [[/Image name/, 'trainer'], [/Python version/, question => (question.kind === 'select' ? question.default ?? '' : '')]]});
		c.ctx = {...c.ctx, platform: currentPlatform({HOME: c.folder, ...(PATH ? {PATH} : {})})};
		await authorImageSpec(c, where).catch(() => undefined);
		const question = person!.asked.find(asked => /Python version/.test(asked.message));
		return question?.kind === 'select' ? question : undefined;
	};

	it("defaults to the local interpreter's version, as flytekit does, and says so", async () => {
		const {stdout} = await promisify(execFile)('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
		const local = stdout.trim();
		const question = await pythonQuestion(process.env.PATH);
		expect(question?.default).toBe(local);
		expect(question?.choices.find(choice => choice.value === local)?.hint).toMatch(/^the local Python \(.*python3 is 3\.\d+\.\d+\), as flytekit defaults to it$/);
	});

	it('keeps 3.12 when the local interpreter is one flytekit does not support, or there is none', async () => {
		expect((await pythonQuestion(await pythonNamed('3.14.1')))?.default).toBe('3.12');
		expect((await pythonQuestion(await pythonNamed('3.10.4')))?.default).toBe('3.10');
		const none = await pythonQuestion(undefined);
		expect(none?.default).toBe('3.12');
		expect(none?.choices.filter(choice => choice.hint)).toEqual([]);
	});
});

describe('authoring the ImageSpec', () => {
	it('offers every field in the interactive flow when more options are asked for', async () => {
		const {c, module, person} = await context({
			script: [
				[/Image name/, 'trainer'],
				[/Python version/, '3.11'],
				[/Base image/, 'ghcr.io/flyteorg/flytekit:py3.11-latest'],
				[/Python packages/, 'pandas, scikit-learn>=1.4'],
				[/Set more options/, true],
				[/Environment/, 'MODE=train, LOG_LEVEL=debug'],
				[/Debian \(apt\) packages/, 'git, curl'],
				[/Platform/, 'linux/amd64'],
				[/pip index URL/, 'https://pypi.example.com/simple'],
				[/Extra pip index URLs/, 'https://extra.example.com/simple'],
				[/A command to run/, 'echo ready'],
				[/Tag format/, '{spec_hash}-dev'],
				[/Write image_specs.py/, true],
			],
		});
		const authored = await authorImageSpec(c, where);
		expect(person!.left()).toBe(0);
		expect(authored.spec).toMatchObject({
			name: 'trainer',
			python_version: '3.11',
			packages: ['pandas', 'scikit-learn>=1.4'],
			env: {MODE: 'train', LOG_LEVEL: 'debug'},
			apt_packages: ['git', 'curl'],
			pip_index: 'https://pypi.example.com/simple',
			pip_extra_index_url: ['https://extra.example.com/simple'],
			commands: ['echo ready'],
			tag_format: '{spec_hash}-dev',
		});
		expect(authored.tag).toMatch(/^[\w]{22}-dev$/);
		expect(await module()).toContain('tag_format="{spec_hash}-dev",');
	});

	it('reuses the project requirements file when the person picks it', async () => {
		const {c, module} = await context({
			files: {'requirements.txt': 'pandas==2.2.2\nunion\n'},
			script: [
				[/Image name/, 'my-image'],
				[/Python version/, '3.11'],
				[/Base image/, 'ghcr.io/flyteorg/flytekit:py3.11-latest'],
				[/Python packages/, 'requirements.txt'],
				[/Set more options/, false],
				[/Write image_specs.py/, true],
			],
		});
		const authored = await authorImageSpec(c, where);
		expect(authored.spec.requirements).toBe('requirements.txt');
		expect(authored.spec.packages).toBeUndefined();
		expect(await module()).toContain('requirements="requirements.txt",');
	});

	it('creates the requirements file from --packages, and never rewrites one that says the same', async () => {
		const created = await context({flags: {image: 'x', packages: ['pandas', 'union'], requirements: 'requirements.txt'}});
		const authored = await authorImageSpec(created.c, where);
		expect(await readFile(path.join(created.folder, 'requirements.txt'), 'utf8')).toBe('pandas\nunion\n');
		expect(authored.spec).toMatchObject({requirements: 'requirements.txt', packages: undefined});

		const same = await context({flags: {image: 'x', packages: ['pandas', 'union'], requirements: 'requirements.txt'}, files: {'requirements.txt': '  pandas\nunion\n\n'}});
		await authorImageSpec(same.c, where);
		expect(await readFile(path.join(same.folder, 'requirements.txt'), 'utf8')).toBe('  pandas\nunion\n\n');
	});

	it('imports flytekit in a project that depends on flytekit without union, and --sdk wins', async () => {
		const detected = await context({flags: {image: 'x'}, files: {'requirements.txt': 'flytekit>=1.16\n'}});
		await authorImageSpec(detected.c, where);
		expect(await detected.module()).toMatch(/^import flytekit$/m);
		expect(await detected.module()).toContain('x_image = flytekit.ImageSpec(');

		const forced = await context({flags: {image: 'x', sdk: 'union'}, files: {'requirements.txt': 'flytekit>=1.16\n'}});
		await authorImageSpec(forced.c, where);
		expect(await forced.module()).toContain('x_image = union.ImageSpec(');
	});

	it('previews an update as a diff of the declaration, and keeps the user text', async () => {
		const first = await context({flags: {image: 'trainer', pythonVersion: '3.11'}});
		await authorImageSpec(first.c, where);
		const file = path.join(first.folder, 'image_specs.py');
		await writeFile(file, `${await readFile(file, 'utf8')}\n# my own notes\n`);
		first.events.length = 0;
		first.c.flags = {...first.c.flags, pythonVersion: '3.12'};
		await authorImageSpec(first.c, where);
		const preview = first.events.find(event => event.type === 'code');
		expect(preview).toMatchObject({type: 'code', title: 'Update image_specs.py'});
		const code = preview?.type === 'code' ? preview.code : '';
		expect(code).toContain('-     python_version="3.11",');
		expect(code).toContain('+     python_version="3.12",');
		expect(code).not.toContain('import union');
		expect(await readFile(file, 'utf8')).toMatch(/python_version="3\.12"[\s\S]*# my own notes\n$/);
	});
});
