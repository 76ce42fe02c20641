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
import {computeTag, imageUri} from '../../source/services/imagespec.js';
import {authorImageSpec} from '../../source/steps/imagespec.js';
import type {Sdk} from '../../source/services/sdk.js';
import type {StepContext} from '../../source/steps/context.js';
import {scriptedPerson} from '../support/scripted-person.js';

const where = {project: 'acme-ml', location: 'us-east1', repository: 'union-images', builder: 'local' as const};

const context = async (options: {flags?: Partial<Flags>; files?: Record<string, string>; script?: Parameters<typeof scriptedPerson>[0]; sdk?: Sdk}) => {
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
		// What the journey detected (flow/sdk-once.test.ts), or --sdk.
		sdk: options.flags?.sdk ?? options.sdk ?? 'union',
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
		const {c, person} = await context({
			script: [
				[/Image name/, 'trainer'],
				[/Python version/, question => (question.kind === 'select' ? (question.default ?? '') : '')],
			],
		});
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
		expect(question?.choices.find(choice => choice.value === local)?.hint).toMatch(
			/^the local Python \(.*python3 is 3\.\d+\.\d+\), as flytekit defaults to it$/,
		);
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

		const same = await context({
			flags: {image: 'x', packages: ['pandas', 'union'], requirements: 'requirements.txt'},
			files: {'requirements.txt': '  pandas\nunion\n\n'},
		});
		await authorImageSpec(same.c, where);
		expect(await readFile(path.join(same.folder, 'requirements.txt'), 'utf8')).toBe('  pandas\nunion\n\n');
	});

	it('imports flytekit in a project that depends on flytekit without union, and --sdk wins', async () => {
		const detected = await context({flags: {image: 'x'}, files: {'requirements.txt': 'flytekit>=1.16\n'}, sdk: 'flytekit'});
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
		await authorImageSpec({...first.c, flags: {...first.c.flags, pythonVersion: '3.12'}}, where);
		const preview = first.events.find(event => event.type === 'code');
		expect(preview).toMatchObject({type: 'code', title: 'Update image_specs.py'});
		const code = preview?.type === 'code' ? preview.code : '';
		expect(code).toContain('-     python_version="3.11",');
		expect(code).toContain('+     python_version="3.12",');
		expect(code).not.toContain('import union');
		expect(await readFile(file, 'utf8')).toMatch(/python_version="3\.12"[\s\S]*# my own notes\n$/);
	});
});

// A declaration as a teammate wrote it in a managed module: odd spacing, a comment, no base_image,
// no platform (flytekit's defaults apply), a field the wizard never asks about.
const TEAM_MODULE = `# Managed by imagespec-gar: ImageSpec declarations for Google Artifact Registry.
import union

trainer_image = union.ImageSpec(
    name="trainer",
    registry="us-east1-docker.pkg.dev/acme-ml/union-images",
    packages=["pandas",  "scikit-learn"],  # pinned by the team
    pip_extra_args="--no-cache-dir",
)

# notes kept as written
`;

describe('an image the module already declares: read as written, changed only where asked', () => {
	it('a rerun with --yes and no image flags leaves the file byte for byte and adds no default', async () => {
		const {c, module, events} = await context({flags: {image: 'trainer', yes: true}, files: {'image_specs.py': TEAM_MODULE}});
		const authored = await authorImageSpec(c, where);
		// Every field hashed, pip_extra_args too (the wizard never asks about it).
		const spec = {
			name: 'trainer',
			registry: 'us-east1-docker.pkg.dev/acme-ml/union-images',
			packages: ['pandas', 'scikit-learn'],
			pip_extra_args: '--no-cache-dir',
		};
		expect(authored.tag).toBe(await computeTag(spec, {baseDir: '/'}));
		expect(await module()).toBe(TEAM_MODULE);
		expect(events.some(event => event.type === 'code')).toBe(false);
	});

	it('with Python, the module is run as union register loads it: names, nested bases and derived specs keep their text', async () => {
		const layered = `# Managed by imagespec-gar: ImageSpec declarations for Google Artifact Registry.
import union

PACKAGES = ["pandas", "pyarrow"]
REGISTRY = "us-east1-docker.pkg.dev/acme-ml/union-images"
base = union.ImageSpec(name="base", registry=REGISTRY, packages=PACKAGES, python_version="3.11")

trainer_image = union.ImageSpec(
    name="trainer",
    registry=REGISTRY,
    base_image=base,
    packages=PACKAGES + ["torch"],
)
`;
		const {c, module} = await context({flags: {image: 'trainer', yes: true}, files: {'image_specs.py': layered}});
		c.ctx = {...c.ctx, platform: currentPlatform({HOME: c.folder, PATH: process.env.PATH})};
		const authored = await authorImageSpec(c, where);
		const base = {name: 'base', registry: 'us-east1-docker.pkg.dev/acme-ml/union-images', packages: ['pandas', 'pyarrow'], python_version: '3.11'};
		const baseUri = imageUri(base, await computeTag(base, {baseDir: '/'}));
		expect(typeof authored.spec.base_image).toBe('object');
		// flytekit hashes a nested base as its full image name.
		const flat = {name: 'trainer', registry: base.registry, packages: ['pandas', 'pyarrow', 'torch'], base_image: baseUri};
		expect(authored.tag).toBe(await computeTag(flat, {baseDir: '/'}));
		expect(await module()).toBe(layered);

		// Asked to change the packages, only that line changes; base_image=base stays as written.
		const changed = await context({flags: {image: 'trainer', yes: true, packages: ['pandas']}, files: {'image_specs.py': layered}});
		changed.c.ctx = {...changed.c.ctx, platform: currentPlatform({HOME: changed.folder, PATH: process.env.PATH})};
		await authorImageSpec(changed.c, where);
		expect(await changed.module()).toBe(layered.replace('packages=PACKAGES + ["torch"],', 'packages=["pandas"],'));
	});

	it('no base_image and no platform stay absent: the tag is the one of the declaration as written', async () => {
		const plain = TEAM_MODULE.replace('    pip_extra_args="--no-cache-dir",\n', '');
		const {c, module} = await context({flags: {image: 'trainer', yes: true}, files: {'image_specs.py': plain}});
		const authored = await authorImageSpec(c, where);
		expect(authored.spec.base_image).toBeUndefined();
		expect(authored.spec.platform).toBeUndefined();
		expect(authored.spec.python_version).toBeUndefined();
		// flytekit: {'name': 'trainer', 'registry': ..., 'packages': [...], 'platform': 'linux/amd64'}
		const expected = await computeTag(
			{name: 'trainer', registry: 'us-east1-docker.pkg.dev/acme-ml/union-images', packages: ['pandas', 'scikit-learn']},
			{baseDir: '/'},
		);
		expect(authored.tag).toBe(expected);
		expect(await module()).toBe(plain);
	});

	it('--packages changes only the packages line: the comment, the spacing and the other lines stay', async () => {
		const plain = TEAM_MODULE.replace('    pip_extra_args="--no-cache-dir",\n', '');
		const {c, module, events} = await context({flags: {image: 'trainer', yes: true, packages: ['pandas>=2,<3']}, files: {'image_specs.py': plain}});
		const authored = await authorImageSpec(c, where);
		expect(authored.spec.packages).toEqual(['pandas>=2,<3']);
		expect(await module()).toBe(
			plain.replace('packages=["pandas",  "scikit-learn"],  # pinned by the team', 'packages=["pandas>=2,<3"],  # pinned by the team'),
		);
		const preview = events.find(event => event.type === 'code');
		expect(preview).toMatchObject({title: 'Update image_specs.py'});
	});

	it('--yes refuses a tag change nobody asked for (another saved repository), and takes it with --repository', async () => {
		const plain = TEAM_MODULE.replace('    pip_extra_args="--no-cache-dir",\n', '');
		const elsewhere = {...where, repository: 'other-repo'};
		const refused = await context({flags: {image: 'trainer', yes: true}, files: {'image_specs.py': plain}});
		await expect(authorImageSpec(refused.c, elsewhere)).rejects.toThrow(/registry=.*union-images.*would change.*other-repo.*--repository/s);
		expect(await refused.module()).toBe(plain);

		const asked = await context({flags: {image: 'trainer', yes: true, repository: 'other-repo'}, files: {'image_specs.py': plain}});
		const authored = await authorImageSpec(asked.c, elsewhere);
		expect(authored.spec.registry).toBe('us-east1-docker.pkg.dev/acme-ml/other-repo');
		expect(await asked.module()).toBe(plain.replace('/union-images"', '/other-repo"'));
	});

	it('a declared builder="union" stays unless a builder was chosen in this run', async () => {
		const union = TEAM_MODULE.replace('    pip_extra_args="--no-cache-dir",\n', '').replace(
			'    name="trainer",\n',
			'    name="trainer",\n    builder="union",\n',
		);
		const kept = await context({flags: {image: 'trainer', yes: true}, files: {'image_specs.py': union}});
		expect((await authorImageSpec(kept.c, {...where, builder: 'local', builderChosen: false})).spec.builder).toBe('union');
		expect(await kept.module()).toBe(union);

		const chosen = await context({flags: {image: 'trainer', yes: true, builder: 'local'}, files: {'image_specs.py': union}});
		expect((await authorImageSpec(chosen.c, {...where, builder: 'local', builderChosen: true})).spec.builder).toBeUndefined();
		expect(await chosen.module()).toBe(union.replace('    builder="union",\n', ''));
	});

	it('a person who accepts every default changes nothing, and is not asked to write', async () => {
		const plain = TEAM_MODULE.replace('    pip_extra_args="--no-cache-dir",\n', '');
		const {c, module, person} = await context({
			files: {'image_specs.py': plain},
			script: [
				[/Image name/, 'trainer'],
				[/Python version/, ''],
				[/Base image/, ''],
				[/Set more options/, false],
			],
		});
		const authored = await authorImageSpec({...c, flags: {...c.flags, build: false}}, where);
		expect(person!.left()).toBe(0);
		expect(authored.spec).not.toHaveProperty('base_image');
		expect(await module()).toBe(plain);
	});

	it('a module imagespec-gar did not write is never written: the change is shown as a diff', async () => {
		const unmanaged = TEAM_MODULE.replace(/^# Managed by imagespec-gar.*\n/, '').replace('    pip_extra_args="--no-cache-dir",\n', '');
		const {c, module, events} = await context({flags: {image: 'trainer', yes: true, pythonVersion: '3.11'}, files: {'image_specs.py': unmanaged}});
		const authored = await authorImageSpec(c, where);
		expect(authored.specFile).toBeUndefined();
		expect(await module()).toBe(unmanaged);
		const shown = events.find(event => event.type === 'code');
		expect(shown?.type === 'code' && shown.code).toContain('+     python_version="3.11",');
	});
});

describe('the module is kept whole: what cannot be edited safely is refused, with the file untouched', () => {
	const withPython = (c: StepContext) => {
		c.ctx = {...c.ctx, platform: currentPlatform({HOME: c.folder, PATH: process.env.PATH})};
	};

	it('a module that is not UTF-8 is refused, its bytes unchanged', async () => {
		const {c, folder} = await context({flags: {image: 'trainer', yes: true}});
		const latin1 = Buffer.concat([Buffer.from(TEAM_MODULE.replace('# notes kept as written', '# caf')), Buffer.from([0xe9, 0x0a])]);
		await writeFile(path.join(folder, 'image_specs.py'), latin1);
		await expect(authorImageSpec(c, where)).rejects.toMatchObject({reason: 'MODULE_NOT_UTF8'});
		expect(await readFile(path.join(folder, 'image_specs.py'))).toEqual(latin1);
	});

	it('a module with a syntax error is not rewritten (Python judges), and its declarations stay', async () => {
		const broken = `${TEAM_MODULE.replace('    pip_extra_args="--no-cache-dir",\n', '')}def oops(:\n`;
		const {c, module} = await context({flags: {image: 'other', yes: true}, files: {'image_specs.py': broken}});
		withPython(c);
		await expect(authorImageSpec(c, where)).rejects.toThrow(/image_specs.py:11: SyntaxError: invalid syntax/);
		expect(await module()).toBe(broken);
	});

	it('env=dict(A="1") is read as the dict it is: the image is not declared a second time', async () => {
		const dictEnv = TEAM_MODULE.replace('    pip_extra_args="--no-cache-dir",\n', '    env=dict(MODE="train"),\n');
		const {c, module} = await context({flags: {image: 'trainer', yes: true}, files: {'image_specs.py': dictEnv}});
		withPython(c);
		const authored = await authorImageSpec(c, where);
		expect(authored.spec.env).toEqual({MODE: 'train'});
		expect(await module()).toBe(dictEnv);
	});

	it('an image declared in a form the tool does not edit is never declared twice', async () => {
		const oneLine = `${TEAM_MODULE}\nserving_image = union.ImageSpec(name="serving", packages=["fastapi"])\n`;
		// Read (no registry in it): this run's registry would change its tag, which --yes refuses.
		const refused = await context({flags: {image: 'serving', yes: true}, files: {'image_specs.py': oneLine}});
		await expect(authorImageSpec(refused.c, where)).rejects.toThrow(/declares serving with registry=null; this run would change that/);
		expect(await refused.module()).toBe(oneLine);

		// Asked for: the change is listed for the person to make, the file is left alone.
		const asked = await context({flags: {image: 'serving', yes: true, repository: 'union-images'}, files: {'image_specs.py': oneLine}});
		const authored = await authorImageSpec(asked.c, where);
		expect(authored.specFile).toBeUndefined();
		expect(await asked.module()).toBe(oneLine);
		expect(asked.events.find(event => event.type === 'code')).toMatchObject({code: 'registry: "us-east1-docker.pkg.dev/acme-ml/union-images"'});
	});

	it('without Python, a declaration the literal reader cannot see is named by its line, never declared again', async () => {
		const hidden = `${TEAM_MODULE}\nspecs = [union.ImageSpec(name="serving", packages=["fastapi"])]\n`;
		const {c, module} = await context({flags: {image: 'serving', yes: true}, files: {'image_specs.py': hidden}});
		await expect(authorImageSpec(c, where)).rejects.toMatchObject({reason: 'DECLARED_ELSEWHERE', message: expect.stringContaining('(line 13)')});
		expect(await module()).toBe(hidden);
	});
});
