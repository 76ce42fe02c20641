import {spawnSync} from 'node:child_process';
import {chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile, lstat} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {computeTag, imageUri, pyRepr, type ImageSpec} from '../../source/services/imagespec.js';
import {planRequirementsFile, parseRequirements, renderRequirements} from '../../source/services/requirements.js';
import {
	MODULE_MARKER,
	planModuleUpdate,
	readDeclarations,
	readDeclaredSpecs,
	renderDeclaration,
	renderModule,
	variableName,
	writeFileAtomic,
	type ModulePlan,
	readLiteralSpecs,
} from '../../source/services/spec-module.js';

const STUB = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'union-stub');
const GAR = 'us-central1-docker.pkg.dev/my-project/my-repo';
const union = {sdk: 'union'} as const;
const flytekit = {sdk: 'flytekit'} as const;

const trainer: ImageSpec = {name: 'trainer', python_version: '3.11', registry: GAR, packages: ['pandas', 'union'], platform: 'linux/amd64'};
const server: ImageSpec = {name: 'team/server', python_version: '3.12', registry: GAR, packages: ['fastapi']};

/** Every field, with strings Python would quote or escape differently. */
const everything: ImageSpec = {
	name: 'team/full-img',
	python_version: '3.11',
	builder: 'union',
	env: {QUOTE: `say "hi"`, APOS: "it's", BOTH: `'"`, BACK: 'C:\\path\\x', UNI: 'café 日本 😀', TAB: 'a\tb', NBSP: 'a\u00a0b'},
	registry: GAR,
	packages: ['pandas==2.2.2', 'union[extra]>=0.1', 'torch ; python_version >= "3.9"'],
	requirements: 'requirements.txt',
	apt_packages: ['git', 'libgomp1'],
	base_image: 'ghcr.io/flyteorg/flytekit:py3.11-latest',
	platform: 'linux/amd64,linux/arm64',
	pip_index: 'https://pypi.org/simple',
	pip_extra_index_url: ['https://download.pytorch.org/whl/cpu'],
	commands: [`echo "it's" > /tmp/x`, 'ls -la'],
	tag_format: '{spec_hash}-dev',
};

let dir: string;
beforeAll(async () => {
	dir = await mkdtemp(path.join(os.tmpdir(), 'spec-module-test-'));
});
afterAll(async () => {
	await rm(dir, {recursive: true, force: true});
});

type Recorded = {kwargs: Record<string, unknown>; tag: string; hash_input: string; image_name: string};

/** Runs a module with python3 against the recording stub; returns one record per ImageSpec(...). */
const runModule = async (content: string, cwd: string): Promise<Recorded[]> => {
	await mkdir(cwd, {recursive: true});
	const file = path.join(cwd, 'images.py');
	const out = path.join(cwd, 'recorded.json');
	await writeFile(file, content);
	await rm(out, {force: true});
	const result = spawnSync('python3', [file], {
		cwd,
		env: {...process.env, PYTHONPATH: STUB, PYTHONDONTWRITEBYTECODE: '1', IMAGESPEC_STUB_OUT: out},
		encoding: 'utf8',
	});
	expect(result.status, result.stderr).toBe(0);
	return JSON.parse(await readFile(out, 'utf8')) as Recorded[];
};

/** The text outside the tool's declarations. */
const outside = (content: string): string[] => {
	const parts: string[] = [];
	let last = 0;
	for (const declaration of readDeclarations(content)) {
		parts.push(content.slice(last, declaration.start));
		last = declaration.end;
	}
	parts.push(content.slice(last));
	return parts;
};

const contentOf = (plan: ModulePlan): string => {
	if (plan.kind === 'unmanaged') throw new Error('unexpected unmanaged plan');
	return plan.content;
};

describe('variableName', () => {
	it('makes a Python identifier from the image name', () => {
		expect(variableName('trainer')).toBe('trainer_image');
		expect(variableName('team/my-img')).toBe('team_my_img_image');
		expect(variableName('a.b__c--d')).toBe('a_b_c_d_image');
		expect(variableName('3d-model')).toBe('img_3d_model_image');
		expect(variableName('trainer-image')).toBe('trainer_image');
		expect(variableName('image')).toBe('image');
		expect(variableName('class')).toBe('class_image');
		expect(variableName('Upper')).toBe('upper_image');
		expect(variableName('---')).toBe('custom_image');
	});

	it('every result is a valid, non-keyword identifier', () => {
		const names = ['trainer', 'team/my-img', '3d', 'class', 'None', 'a'.repeat(50), 'x.y', 'if'];
		const script = 'import json,sys,keyword\nprint(json.dumps([n.isidentifier() and not keyword.iskeyword(n) for n in json.load(sys.stdin)]))';
		const result = spawnSync('python3', ['-c', script], {input: JSON.stringify(names.map(variableName)), encoding: 'utf8'});
		expect(result.status, result.stderr).toBe(0);
		expect(JSON.parse(result.stdout)).toEqual(names.map(() => true));
	});
});

describe('renderDeclaration', () => {
	it('is black style: double quotes, 4 spaces, trailing commas, flytekit field order', () => {
		const shuffled: ImageSpec = {platform: 'linux/amd64', packages: ['pandas', 'union'], registry: GAR, python_version: '3.11', name: 'trainer', env: {A: '1'}};
		expect(renderDeclaration(shuffled, union)).toBe(
			[
				'trainer_image = union.ImageSpec(',
				'    name="trainer",',
				'    python_version="3.11",',
				'    env={"A": "1"},',
				`    registry="${GAR}",`,
				'    packages=[',
				'        "pandas",',
				'        "union",',
				'    ],',
				'    platform="linux/amd64",',
				')',
				'',
			].join('\n'),
		);
	});

	it('uses flytekit.ImageSpec for the flytekit SDK', () => {
		expect(renderDeclaration({name: 'x', packages: ['one']}, flytekit)).toBe('x_image = flytekit.ImageSpec(\n    name="x",\n    packages=["one"],\n)\n');
	});

	it('keeps single quotes when the string has double quotes only, like black', () => {
		const text = renderDeclaration({name: 'x', env: {Q: 'say "hi"', B: `'"`}}, union);
		expect(text).toContain(`"Q": 'say "hi"',`);
		expect(text).toContain(`"B": "'\\"",`);
	});

	it('explodes a single long list entry past 88 columns', () => {
		const long = `${'p'.repeat(80)}==1.0`;
		expect(renderDeclaration({name: 'x', packages: [long]}, union)).toContain(`    packages=[\n        "${long}",\n    ],\n`);
	});
});

const hasBlack = spawnSync('black', ['--version']).status === 0;

describe('the generated module runs in Python', () => {
	// black is not a project dependency: checked where it is installed.
	it.skipIf(!hasBlack)('black leaves it unchanged', async () => {
		const file = path.join(dir, 'black.py');
		const module = renderModule([everything, trainer, {name: 'x', env: {A: '1'}, packages: [`${'p'.repeat(90)}`]}], union);
		await writeFile(file, module);
		const result = spawnSync('black', ['-q', file], {encoding: 'utf8'});
		expect(result.status, result.stderr).toBe(0);
		expect(await readFile(file, 'utf8')).toBe(module);
	});

	for (const options of [union, flytekit]) {
		it(`every field arrives with its value (${options.sdk})`, async () => {
			const cwd = path.join(dir, `run-${options.sdk}`);
			await mkdir(cwd, {recursive: true});
			await writeFile(path.join(cwd, 'requirements.txt'), 'pandas==2.2.2\nunion\n');
			const module = renderModule([everything, trainer], options);
			const records = await runModule(module, cwd);
			expect(records).toHaveLength(2);
			expect(records[0]!.kwargs).toEqual(everything);
			expect(records[1]!.kwargs).toEqual(trainer);
			// Key order in Python is flytekit's declaration order.
			expect(Object.keys(records[0]!.kwargs)).toEqual([
				'name',
				'python_version',
				'builder',
				'env',
				'registry',
				'packages',
				'requirements',
				'apt_packages',
				'base_image',
				'platform',
				'pip_index',
				'pip_extra_index_url',
				'commands',
				'tag_format',
			]);
			// The stub computes flytekit's tag with Python's own str(dict): ours must agree.
			expect(await computeTag(everything, {baseDir: cwd})).toBe(records[0]!.tag);
			expect(imageUri(everything, records[0]!.tag)).toBe(records[0]!.image_name);
			expect(await computeTag(trainer, {baseDir: cwd})).toBe(records[1]!.tag);
		});
	}

	it('the header says it is managed and how to add images', () => {
		const module = renderModule([trainer], union);
		expect(module.split('\n')[0]).toContain(MODULE_MARKER);
		expect(module).toContain('rerun `imagespec-gar`');
		expect(module).toContain('\nimport union\n');
		expect(renderModule([trainer], flytekit)).toContain('\nimport flytekit\n');
	});

	it('two images whose names map to one variable get distinct variables', async () => {
		const module = renderModule(
			[
				{name: 'a-b', python_version: '3.11'},
				{name: 'a_b', python_version: '3.11'},
			],
			union,
		);
		expect(module).toContain('a_b_image = union.ImageSpec(');
		expect(module).toContain('a_b_image_2 = union.ImageSpec(');
		expect((await runModule(module, path.join(dir, 'dupvars'))).map(r => r.kwargs.name)).toEqual(['a-b', 'a_b']);
	});
});

describe('readDeclaredSpecs', () => {
	it('reads back what renderModule wrote, tricky strings included', () => {
		const specs = [everything, trainer, server, {name: 'bare'}];
		expect(readDeclaredSpecs(renderModule(specs, union))).toEqual(specs);
		expect(readDeclaredSpecs(renderModule(specs, flytekit))).toEqual(specs);
	});

	it('reads hand-written variants: single quotes, comments, bare ImageSpec, raw strings', () => {
		const content = [
			'from union import ImageSpec',
			'',
			'x_image = ImageSpec(  # my image',
			"    name='x',  # the name",
			'    packages=[',
			'        # pinned',
			"        'pandas',",
			'    ],',
			"    env={'P': r'C:\\dir', 'Q': 'a' 'b'},",
			'    python_version="3.1" "1"',
			')',
		].join('\n');
		expect(readDeclaredSpecs(content)).toEqual([{name: 'x', packages: ['pandas'], env: {P: 'C:\\dir', Q: 'ab'}, python_version: '3.11'}]);
	});

	it('leaves non-literal and unknown fields as raw text, and ignores non-declarations', () => {
		const content = [
			'import union',
			'PY = "3.11"',
			'base = union.ImageSpec(',
			'    name="base",',
			')',
			'app_image = union.ImageSpec(',
			'    name="app",',
			'    python_version=PY,',
			'    base_image=base,',
			'    cuda="12.1",',
			')',
			'other = union.ImageSpec(name="inline")',
			'chained = union.ImageSpec(',
			'    name="chained",',
			').with_packages(["x"])',
			')',
		].join('\n');
		const declarations = readDeclarations(content);
		expect(declarations.map(d => d.spec.name)).toEqual(['base', 'app']);
		expect(declarations[1]!.unparsed).toEqual(['python_version', 'base_image']);
		expect(declarations[1]!.rawFields.map(f => f.text)).toEqual(['python_version=PY', 'base_image=base', 'cuda="12.1"']);
	});
});

describe('planModuleUpdate', () => {
	it('creates a module when there is none', () => {
		const plan = planModuleUpdate(undefined, trainer, union);
		expect(plan).toEqual({kind: 'create', content: renderModule([trainer], union), variable: 'trainer_image'});
	});

	it('adds a second image after the first and keeps the first byte for byte', () => {
		const first = contentOf(planModuleUpdate(undefined, trainer, union));
		const plan = planModuleUpdate(first, server, union);
		expect(plan.kind).toBe('add');
		const content = contentOf(plan);
		expect(content.startsWith(first)).toBe(true);
		expect(content.slice(first.length)).toBe(`\n${renderDeclaration(server, union)}`);
		expect(readDeclaredSpecs(content)).toEqual([trainer, server]);
	});

	it('updates the declaration with the same name and nothing else', () => {
		const two = contentOf(planModuleUpdate(contentOf(planModuleUpdate(undefined, trainer, union)), server, union));
		const changed = {...trainer, packages: ['pandas', 'union', 'torch']};
		// flytekit lowercases names, so the match does too.
		expect(planModuleUpdate(two, {...changed, name: 'TRAINER'}, union).kind).toBe('update');
		const plan = planModuleUpdate(two, changed, union);
		expect(plan.kind).toBe('update');
		if (plan.kind !== 'update') return;
		expect(plan.previous).toBe(two);
		const before = two.split('\n');
		const after = plan.content.split('\n');
		// The only difference: one inserted line inside trainer's packages list.
		const inserted = after.findIndex((line, index) => line !== before[index]);
		expect(after[inserted]).toBe('        "torch",');
		expect([...after.slice(0, inserted), ...after.slice(inserted + 1)]).toEqual(before);
		expect(readDeclaredSpecs(plan.content).map(s => s.packages)).toEqual([['pandas', 'union', 'torch'], ['fastapi']]);
	});

	it('says unchanged when the declaration already matches', () => {
		const first = contentOf(planModuleUpdate(undefined, trainer, union));
		expect(planModuleUpdate(first, trainer, union)).toEqual({kind: 'unchanged', content: first, previous: first, variable: 'trainer_image'});
	});

	it('keeps user text before, between and after declarations byte for byte', async () => {
		const start = contentOf(planModuleUpdate(undefined, trainer, union));
		const before = '"""Images for the team."""  \n# tabs\tand trailing spaces   \n\n';
		const between = '\n\n# helper between declarations\nPINNED = {"x": 1}\n\n\n';
		const after = '\n\nif __name__ == "__main__":\n    print(trainer_image)\n# no final newline';
		let content = start.replace('import union\n', `import union\n${before}`);
		content = contentOf(planModuleUpdate(content, server, union));
		// Put text between the two declarations and after them.
		const [first, second] = readDeclarations(content);
		content = content.slice(0, first!.end) + between + content.slice(second!.start, second!.end) + after;
		const expectedOutside = outside(content);
		expect(expectedOutside).toEqual([start.slice(0, start.indexOf('trainer_image')).replace('import union\n', `import union\n${before}`), between, after]);

		// Update the first, update the second, add a third.
		let next = contentOf(planModuleUpdate(content, {...trainer, apt_packages: ['git']}, union));
		next = contentOf(planModuleUpdate(next, {...server, env: {A: 'b'}}, union));
		const third = {name: 'third', python_version: '3.11', registry: GAR};
		next = contentOf(planModuleUpdate(next, third, union));
		const parts = outside(next);
		// The new declaration goes right after the last one: one more (blank-line) part, the rest untouched.
		expect(parts).toEqual([expectedOutside[0], expectedOutside[1], '\n', after]);
		expect(readDeclaredSpecs(next)).toEqual([{...trainer, apt_packages: ['git']}, {...server, env: {A: 'b'}}, third]);
		// And it still runs.
		const records = await runModule(next, path.join(dir, 'preserve'));
		expect(records.map(r => r.kwargs.name)).toEqual(['trainer', 'team/server', 'third']);
	});

	it('keeps the variable name, callee and hand-added fields of the declaration it updates', async () => {
		const content = [
			`# ${MODULE_MARKER}`,
			'from union import ImageSpec',
			'',
			'base = ImageSpec(',
			'    name="base",',
			'    python_version="3.11",',
			')',
			'',
			'my_trainer = ImageSpec(',
			'    name="trainer",',
			'    python_version="3.10",',
			'    base_image=base,',
			'    cuda="12.1",',
			'    entrypoint=["python"],',
			')',
			'',
		].join('\n');
		const plan = planModuleUpdate(content, {name: 'trainer', python_version: '3.11', registry: GAR}, union);
		expect(plan.kind).toBe('update');
		const next = contentOf(plan);
		expect(next).toContain(
			[
				'my_trainer = ImageSpec(',
				'    name="trainer",',
				'    python_version="3.11",',
				`    registry="${GAR}",`,
				'    cuda="12.1",',
				'    base_image=base,',
				'    entrypoint=["python"],',
				')',
			].join('\n'),
		);
		const records = await runModule(next, path.join(dir, 'handwritten'));
		expect(records[1]!.kwargs).toEqual({
			name: 'trainer',
			python_version: '3.11',
			registry: GAR,
			cuda: '12.1',
			base_image: {image_spec: `base:${records[0]!.tag}`},
			entrypoint: ['python'],
		});
	});

	it('keeps CRLF line endings', () => {
		const crlf = renderModule([trainer], union).replaceAll('\n', '\r\n');
		const added = contentOf(planModuleUpdate(crlf, server, union));
		expect(added.replaceAll('\r\n', '')).not.toContain('\n');
		expect(added.startsWith(crlf)).toBe(true);
		const updated = contentOf(planModuleUpdate(added, {...trainer, packages: ['x']}, union));
		expect(updated.replaceAll('\r\n', '')).not.toContain('\n');
		expect(readDeclaredSpecs(updated)).toEqual([{...trainer, packages: ['x']}, server]);
		expect(planModuleUpdate(updated, server, union).kind).toBe('unchanged');
	});

	it('a managed file without declarations gets one at the end; a taken variable gets a suffix', () => {
		const content = `# ${MODULE_MARKER}\nimport union\n\ntrainer_image = "something else"`;
		const plan = planModuleUpdate(content, trainer, union);
		expect(plan.kind).toBe('add');
		const next = contentOf(plan);
		expect(next.startsWith(`${content}\n`)).toBe(true);
		expect(next).toContain('\ntrainer_image_2 = union.ImageSpec(\n');
	});

	it('never overwrites a file without the marker: returns a snippet', async () => {
		const file = path.join(dir, 'mine.py');
		const mine = 'from flytekit import ImageSpec, task\n\nimage = ImageSpec(name="old")\n';
		await writeFile(file, mine);
		const plan = planModuleUpdate(await readFile(file, 'utf8'), trainer, union);
		expect(plan.kind).toBe('unmanaged');
		if (plan.kind !== 'unmanaged') return;
		expect(await readFile(file, 'utf8')).toBe(mine);
		expect(plan).not.toHaveProperty('content');
		// The file's own style is followed, so the snippet pastes in as is.
		expect(plan.snippet).toBe(renderDeclaration(trainer, union, {callee: 'ImageSpec'}));
		expect(plan.importLine).toBe('from flytekit import ImageSpec');
		expect(plan.hasImport).toBe(true);
		const records = await runModule(`${mine}\n${plan.snippet}`, path.join(dir, 'snippet'));
		expect(records[1]!.kwargs).toEqual(trainer);
	});

	it('an empty existing file is unmanaged too', () => {
		expect(planModuleUpdate('', trainer, flytekit)).toMatchObject({kind: 'unmanaged', importLine: 'import flytekit', hasImport: false});
		expect(planModuleUpdate('import union\n', trainer, flytekit)).toMatchObject({kind: 'unmanaged', importLine: 'import union', hasImport: true});
	});
});

describe('writeFileAtomic', () => {
	it('creates, replaces, keeps the mode and leaves no temp files', async () => {
		const folder = path.join(dir, 'atomic');
		await mkdir(folder);
		const file = path.join(folder, 'images.py');
		await writeFileAtomic(file, 'one\n');
		expect(await readFile(file, 'utf8')).toBe('one\n');
		// 0o666 is what a usual umask (022) would strip; 0o640 is narrower than the default.
		for (const mode of [0o666, 0o640]) {
			await chmod(file, mode);
			await writeFileAtomic(file, `mode ${mode}\n`);
			expect(await readFile(file, 'utf8')).toBe(`mode ${mode}\n`);
			expect((await stat(file)).mode & 0o777).toBe(mode);
		}
		expect(await readdir(folder)).toEqual(['images.py']);
	});

	it('writes through a symlink and keeps the link', async () => {
		const folder = path.join(dir, 'atomic-link');
		await mkdir(folder);
		await writeFile(path.join(folder, 'real.py'), 'old\n');
		await symlink('real.py', path.join(folder, 'link.py'));
		await writeFileAtomic(path.join(folder, 'link.py'), 'new\n');
		expect((await lstat(path.join(folder, 'link.py'))).isSymbolicLink()).toBe(true);
		expect(await readFile(path.join(folder, 'real.py'), 'utf8')).toBe('new\n');
		expect((await readdir(folder)).sort()).toEqual(['link.py', 'real.py']);
	});

	it('removes its temp file when the rename fails', async () => {
		const folder = path.join(dir, 'atomic-fail');
		await mkdir(path.join(folder, 'images.py'), {recursive: true});
		await writeFile(path.join(folder, 'images.py', 'keep'), 'x');
		await expect(writeFileAtomic(path.join(folder, 'images.py'), 'content')).rejects.toThrow();
		expect(await readdir(folder)).toEqual(['images.py']);
	});
});

describe('requirements file', () => {
	it('renders one requirement per line', () => {
		expect(renderRequirements(['pandas==2.2.2', ' union '])).toBe('pandas==2.2.2\nunion\n');
		expect(renderRequirements([])).toBe('');
	});

	it('parses requirement lines', () => {
		expect(parseRequirements('# c\npandas  # pinned\r\n\n-r other.txt\n--index-url x\nunion\n')).toEqual(['pandas', 'union']);
	});

	it('creates, sees no change, and never clobbers', () => {
		expect(planRequirementsFile(undefined, ['pandas', 'union'])).toEqual({kind: 'create', content: 'pandas\nunion\n'});
		expect(planRequirementsFile('pandas\nunion\n\n\n', ['pandas', 'union'])).toEqual({kind: 'unchanged', content: 'pandas\nunion\n\n\n'});
		const existing = '# mine\nPandas >= 2\nnumpy\n';
		expect(planRequirementsFile(existing, ['pandas>=2', 'union'])).toEqual({
			kind: 'keep',
			content: existing,
			wanted: 'pandas>=2\nunion\n',
			missing: ['union'],
			extra: ['numpy'],
		});
	});
});

describe('readLiteralSpecs: any module, without Python', () => {
	it('every field as Python spells it: tuples, floats, enums, nested specs, names bound before', () => {
		const specs = readLiteralSpecs(
			[
				'from flytekit import ImageSpec',
				'from flytekit.constants import CopyFileDetection',
				'PACKAGES = ["old"]',
				'PACKAGES = ["pandas"]  # the one in force',
				'base = ImageSpec(name="base", packages=PACKAGES)',
				'PACKAGES = ["later"]',
				'app = ImageSpec(name="app", base_image=base, builder_options={"t": (1, 2.0), "one": ("x",), "p": ("y"), 3: 1e-5},',
				'    source_copy_mode=CopyFileDetection.NO_COPY, cuda="12.1")',
				'',
			].join('\n'),
		);
		expect(specs.map(spec => spec.variable)).toEqual(['base', 'app']);
		expect(specs[0]!.spec.packages).toEqual(['pandas']);
		const app = specs[1]!;
		expect(app.unreadable).toEqual([]);
		expect(app.spec.base_image).toBe(specs[0]!.spec);
		expect(app.spec.source_copy_mode).toBe('NO_COPY');
		expect(pyRepr(app.spec.builder_options)).toBe("{'t': (1, 2.0), 'one': ('x',), 'p': 'y', 3: 1e-05}");
	});

	it('names what it cannot read, never a guess', () => {
		const specs = readLiteralSpecs(
			[
				'import os, union',
				'PACKAGES = ["pandas"]',
				'PACKAGES = PACKAGES + ["numpy"]',
				'a = union.ImageSpec(name="a", packages=PACKAGES, registry=os.environ["R"])',
				'b = union.ImageSpec(name="b").with_packages(["x"])',
				'c = a.force_push()',
				'',
			].join('\n'),
		);
		expect(specs.find(spec => spec.variable === 'a')?.unreadable).toEqual([
			{field: 'packages', text: 'PACKAGES'},
			{field: 'registry', text: 'os.environ["R"]'},
		]);
		expect(specs.find(spec => spec.variable === 'b')?.unreadable).toEqual([{field: '', text: 'union.ImageSpec(name="b").with_packages(["x"])'}]);
		expect(specs.find(spec => spec.variable === 'c')?.unreadable).toEqual([{field: '', text: 'a.force_push()'}]);
	});

	it("a tuple where flytekit wants a list of strings is not read as one (flytekit's __post_init__ rejects it)", () => {
		const [spec] = readLiteralSpecs('img = ImageSpec(name="x", packages=("a", "b"))\n');
		expect(spec?.unreadable).toEqual([{field: 'packages', text: '("a", "b")'}]);
	});
});
