// Python started early (steps/read-ahead.ts): the module's read and the syntax check are the same
// questions as before, asked of a Python that started sooner; an answer is only ever handed on for
// the module text it was read from. A wrapper python3 on PATH (running the real one) logs each start.
import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {dropReadAhead, readModuleSpecs, readModuleSpecsAhead} from '../../source/services/module-reader.js';
import {currentPlatform} from '../../source/services/platform.js';
import {prepareSyntaxCheck, pythonSyntaxError, releaseSyntaxChecks} from '../../source/services/python.js';
import {withEnv} from '../support/environment.js';

let root: string;
let log: string;
/** A fresh env object each time: the early answers are kept per environment. */
let context: () => {platform: ReturnType<typeof currentPlatform>};

beforeAll(async () => {
	root = await mkdtemp(path.join(os.tmpdir(), 'read-ahead-'));
	const bin = path.join(root, 'bin');
	log = path.join(root, 'python.log');
	await mkdir(bin);
	const python = (await execa('sh', ['-c', 'command -v python3'])).stdout.trim();
	// Which script: the module reader reads its module's path; the syntax check compiles stdin.
	await writeFile(
		path.join(bin, 'python3'),
		`#!/bin/sh\ncase "$2" in *stdin.buffer*) kind=check;; *) kind=read;; esac\necho "$kind start" >> '${log}'\nexec '${python}' "$@"\n`,
		{mode: 0o755},
	);
	context = () => ({platform: withEnv(currentPlatform(), {PATH: `${bin}:${process.env.PATH}`, PYTHONPATH: undefined, FAKE_FLYTEKIT_IMAGE_NAME: undefined})});
});
afterAll(async () => {
	await rm(root, {recursive: true, force: true});
});

const starts = async () => (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
const mark = async (text: string) => writeFile(log, `${text}\n`, {flag: 'a'});

const project = async (name: string, module: string) => {
	const folder = path.join(root, name);
	await mkdir(folder);
	const moduleFile = path.join(folder, 'image_specs.py');
	await writeFile(moduleFile, module);
	return {folder, moduleFile};
};

const spec = (name: string) =>
	`from flytekit import ImageSpec\nimage = ImageSpec(name="${name}", registry="us-east1-docker.pkg.dev/p/r", python_version="3.12")\n`;

describe("the module's read, started early", () => {
	it('is the read the step asks for: one Python, started before the step asked', async () => {
		await rm(log, {force: true});
		const ctx = context();
		const options = await project('same', spec('trainer'));
		void readModuleSpecsAhead(ctx, options);
		// Until the Python has really started (the wrapper logs first), then the step asks.
		await expect.poll(starts).toEqual(['read start']);
		await mark('asked');
		const read = await readModuleSpecs(ctx, options);
		expect(read.specs.map(found => found.spec.name)).toEqual(['trainer']);
		expect(await starts()).toEqual(['read start', 'asked']);
		// Taken once: the next read is a read of its own.
		await readModuleSpecs(ctx, options);
		expect(await starts()).toEqual(['read start', 'asked', 'read start']);
	});

	it('is not handed on when the module changed meanwhile: the step reads what the file holds now', async () => {
		await rm(log, {force: true});
		const ctx = context();
		const options = await project('changed', spec('trainer'));
		void readModuleSpecsAhead(ctx, options);
		await expect.poll(starts).toEqual(['read start']);
		await writeFile(options.moduleFile, spec('scorer'));
		const read = await readModuleSpecs(ctx, options);
		expect(read.specs.map(found => found.spec.name)).toEqual(['scorer']);
		expect(await starts()).toEqual(['read start', 'read start']);
	});

	it('is not handed to a read of another module, nor after the run dropped it', async () => {
		await rm(log, {force: true});
		const ctx = context();
		const first = await project('first', spec('one'));
		const second = await project('second', spec('two'));
		void readModuleSpecsAhead(ctx, first);
		expect((await readModuleSpecs(ctx, second)).specs.map(found => found.spec.name)).toEqual(['two']);
		void readModuleSpecsAhead(ctx, first);
		dropReadAhead(ctx);
		await writeFile(first.moduleFile, spec('three'));
		expect((await readModuleSpecs(ctx, first)).specs.map(found => found.spec.name)).toEqual(['three']);
	});
});

describe('the syntax check, started early', () => {
	it("gives Python's own verdict, from one Python started before the check was asked", async () => {
		await rm(log, {force: true});
		const ctx = context();
		prepareSyntaxCheck(ctx, 'image_specs.py');
		await expect.poll(starts).toEqual(['check start']);
		await mark('asked');
		expect(await pythonSyntaxError(ctx, 'x = (1,\n', 'image_specs.py')).toMatch(/line 1\)$/);
		expect(await starts()).toEqual(['check start', 'asked']);
		// The spare is used once; the next check starts its own Python.
		expect(await pythonSyntaxError(ctx, 'x = 1\n', 'image_specs.py')).toBeUndefined();
		expect(await starts()).toEqual(['check start', 'asked', 'check start']);
	});

	it('a spare nobody took ends once released; a check of another file does not take it', async () => {
		await rm(log, {force: true});
		const ctx = context();
		prepareSyntaxCheck(ctx, 'image_specs.py');
		expect(await pythonSyntaxError(ctx, 'x = 1\n', 'other.py')).toBeUndefined();
		releaseSyntaxChecks(ctx);
		// Released: the next check of image_specs.py is a Python of its own.
		expect(await pythonSyntaxError(ctx, 'def f(:\n', 'image_specs.py')).toMatch(/line 1\)$/);
		expect((await starts()).filter(line => line === 'check start')).toHaveLength(3);
	});
});
