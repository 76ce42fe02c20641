import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {FlyteImage} from '../../source/services/flyte-image.js';
import {environmentOf, flyteDeclarationOf, planFlyteModuleUpdate, readFlyteDeclarations, renderFlyteModule} from '../../source/services/flyte-module.js';
import {writeModuleChecked} from '../../source/services/module-write.js';
import {readFlyteModule} from '../../source/services/flyte-reader.js';
import {findPython} from '../../source/services/python.js';
import {currentPlatform, type Platform} from '../../source/services/platform.js';
import {withEnv} from '../support/environment.js';
import {FLYTE_URI_VECTORS, GAR} from '../fixtures/flyte-uri-vectors.js';

// flyte cannot be installed on these machines: a clean PYTHONPATH means the recording stand-in answers.
const platform: Platform = withEnv(currentPlatform(), {PYTHONPATH: undefined});
const ctx = {platform};
let python: string;
let root: string;
beforeAll(async () => {
	root = await mkdtemp(path.join(os.tmpdir(), 'flyte-module-'));
	const found = await findPython(ctx);
	if (!found) throw new Error('these tests run the generated module with Python 3: put python3 on PATH');
	python = found;
});
afterAll(async () => {
	await rm(root, {recursive: true, force: true});
});

let count = 0;
const project = async (files: Record<string, string>) => {
	const folder = path.join(root, `p${++count}`);
	await mkdir(folder, {recursive: true});
	await Promise.all(Object.entries(files).map(async ([name, text]) => writeFile(path.join(folder, name), text)));
	return {folder, moduleFile: path.join(folder, 'images.py')};
};

const TRAINER: FlyteImage = FLYTE_URI_VECTORS.find(vector => vector.id === 'all-layers')!.image;

describe('the generated flyte module, run by Python against the recording stand-in of flyte', () => {
	it.each(FLYTE_URI_VECTORS.map(vector => [vector.id, vector] as const))(
		"%s: every argument arrives as written, and the URI is flyte's",
		async (_id, vector) => {
			const content = renderFlyteModule([vector.image]);
			const {folder, moduleFile} = await project({...vector.files, 'images.py': content});
			const read = await readFlyteModule(ctx, {moduleFile, folder, python, pinnedFlyte: vector.flyteVersion, configRegistry: vector.env.FLYTE_IMAGE_REGISTRY});
			expect(read.via).toBe('stand-in');
			expect(read.images).toHaveLength(1);
			const [image] = read.images;
			// The stand-in reports the platform flyte would use: from_base keeps flyte's amd64 default.
			expect(image!.image).toEqual({...vector.image, platform: vector.image.platform ?? ['linux/amd64']});
			expect(image!.uri).toBe(vector.uri);
			expect(image!.problem).toBeUndefined();
			expect(read.environments).toEqual([
				{variable: `${image!.variable.replace(/_image$/, '')}_env`, name: expect.stringMatching(/^[a-z\d_]+$/), image: image!.variable},
			]);
			// The tool reads its own declaration back without Python too.
			expect(readFlyteDeclarations(content).map(declaration => declaration.image)).toEqual([vector.image]);
		},
	);

	it('writes a readable module: one declaration per image, the platform saying why, an environment for flyte build', () => {
		expect(renderFlyteModule([TRAINER])).toBe(
			[
				'# Managed by imagespec-gar: flyte.Image declarations for Google Artifact Registry.',
				'# To add or change an image, rerun `imagespec-gar --sdk flyte`. It rewrites only its own',
				'# declarations (from `name_image = (` to the closing `)` line)',
				'# and keeps every other line of this file as you wrote it.',
				'import flyte',
				'',
				'trainer_image = (',
				'    flyte.Image.from_debian_base(',
				'        python_version=(3, 12),',
				`        registry="${GAR}",`,
				'        name="trainer",',
				"        # amd64 only: the nodes are amd64; flyte's default adds an emulated arm64 build.",
				'        platform=("linux/amd64",),',
				'    )',
				'    .with_apt_packages("git")',
				'    .with_pip_packages("pandas", "union")',
				'    .with_requirements("requirements.txt")',
				'    .with_env_vars({"A": "1"})',
				'    .with_commands(["echo hi"])',
				')',
				'trainer_env = flyte.TaskEnvironment(name="trainer", image=trainer_image)',
				'',
			].join('\n'),
		);
	});

	it('fails the module as flyte does: a misspelt keyword, layers on a from_base that was not cloned, a requirements file that is not .txt', async () => {
		const cases: Array<[string, RegExp]> = [
			[
				'image = flyte.Image.from_debian_base(python_version=(3, 12), name="x", registy="r")',
				/images\.py:2: TypeError: .*unexpected keyword argument 'registy'/,
			],
			[
				'image = flyte.Image.from_base("python:3.12").with_pip_packages("pandas")',
				/images\.py:2: ValueError: Cannot add additional layers to a non-extendable image/,
			],
			[
				'image = flyte.Image.from_debian_base(name="x").with_requirements("reqs.in")',
				/images\.py:2: ValueError: Requirements file reqs.in must have a .txt extension/,
			],
			['env = flyte.TaskEnvironment(name="My Env")', /images\.py:2: ValueError: Environment name 'My Env' must be in snake_case or kebab-case format/],
		];
		for (const [line, message] of cases) {
			const {folder, moduleFile} = await project({'images.py': `import flyte\n${line}\n`});
			await expect(readFlyteModule(ctx, {moduleFile, folder, python})).rejects.toMatchObject({
				reason: 'MODULE_FAILED',
				message: expect.stringMatching(message),
			});
		}
	});

	it('names what it cannot model, and says when the flyte version is unknown instead of guessing', async () => {
		const {folder, moduleFile} = await project({
			'images.py':
				'import flyte\nfrom flyte.io import File\n' +
				'a_image = flyte.Image.from_debian_base(python_version=(3, 12), name="a").with_workdir("/app")\n' +
				'b_image = flyte.Image.from_debian_base(python_version=(3, 12), registry="r", name="b")\n',
		});
		const read = await readFlyteModule(ctx, {moduleFile, folder, python});
		expect(read.images.map(image => [image.variable, image.uri, image.problem?.reason, image.problem?.message])).toEqual([
			['a_image', undefined, 'FLYTE_IMAGE_UNMODELLED', 'Cannot name a_image: it uses with_workdir, which the tool does not model.'],
			['b_image', undefined, 'FLYTE_VERSION_UNKNOWN', expect.stringContaining('neither importable nor pinned exactly')],
		]);
	});
});

describe('with flyte importable (a stub of the SDK on PYTHONPATH): flyte itself is asked, and must agree', () => {
	const STUB = fileURLToPath(new URL('../fixtures/flyte-sdk-stub', import.meta.url));
	const vector = FLYTE_URI_VECTORS.find(candidate => candidate.id === 'debian-py312-pip')!;
	const read = async (answer: string) => {
		const {folder, moduleFile} = await project({'images.py': renderFlyteModule([vector.image])});
		const stubbed = {platform: withEnv(currentPlatform(), {PYTHONPATH: STUB, IMAGESPEC_STUB_FLYTE_URI: answer})};
		return readFlyteModule(stubbed, {moduleFile, folder, python});
	};

	it("flyte's image.uri is kept beside the tool's, for the flyte version that imports", async () => {
		const result = await read(vector.uri);
		expect(result).toMatchObject({via: 'flyte', flyteVersion: '2.6.5'});
		expect(result.images[0]).toMatchObject({uri: vector.uri, sdkUri: vector.uri});
		// The SDK resolves from_debian_base itself: the tool hashes the base image flyte reports.
		expect(result.images[0]!.image!.base).toEqual({kind: 'base', uri: vector.baseImage});
	});

	it('a different answer stops the run, naming both', async () => {
		const other = `${GAR}/trainer:0123456789abcdef0123456789abcdef`;
		await expect(read(other)).rejects.toMatchObject({
			reason: 'TAG_MISMATCH',
			message: `The URI of trainer_image differs: flyte 2.6.5 names ${other}, imagespec-gar computed ${vector.uri}.`,
		});
	});

	it("flyte failing to name it is that image's problem, not a guess", async () => {
		const result = await read('raise');
		expect(result.images[0]).toMatchObject({problem: {reason: 'SDK_TAG_FAILED', message: expect.stringContaining('stub flyte cannot name this image')}});
		expect(result.images[0]!.uri).toBeUndefined();
	});
});

describe('planFlyteModuleUpdate: the managed-module rules', () => {
	const USER_TOP = '# my notes\nimport os  # keep\n';
	const USER_BOTTOM = '\n\n@trainer_env.task\ndef train(x: int) -> int:\n    return x  # mine\n';
	const managed = () => {
		const module = renderFlyteModule([TRAINER]);
		const [header, rest] = [module.slice(0, module.indexOf('import flyte')), module.slice(module.indexOf('import flyte'))];
		return `${header}${USER_TOP}${rest}${USER_BOTTOM}`;
	};

	it('an update replaces only the declaration; every other byte is kept', () => {
		const existing = managed();
		const changed: FlyteImage = {...TRAINER, layers: [...TRAINER.layers, {kind: 'apt_packages', packages: ['curl']}]};
		const plan = planFlyteModuleUpdate(existing, changed);
		expect(plan.kind).toBe('update');
		const content = (plan as {content: string}).content;
		const [old] = readFlyteDeclarations(existing);
		const [now] = readFlyteDeclarations(content);
		expect(content.slice(0, now!.start)).toBe(existing.slice(0, old!.start));
		expect(content.slice(now!.end)).toBe(existing.slice(old!.end));
		expect(now!.image).toEqual(changed);
		expect(planFlyteModuleUpdate(content, changed).kind).toBe('unchanged');
	});

	it('a new image goes after the last declaration and its environment, with an environment of its own', async () => {
		const existing = managed();
		const other: FlyteImage = {...TRAINER, name: 'team/serve', layers: [{kind: 'pip_packages', packages: ['fastapi']}]};
		const plan = planFlyteModuleUpdate(existing, other);
		expect(plan).toMatchObject({kind: 'add', variable: 'team_serve_image', environment: 'team_serve_env'});
		const content = (plan as {content: string}).content;
		expect(content.startsWith(existing.slice(0, existing.indexOf(USER_BOTTOM)))).toBe(true);
		expect(content.endsWith(USER_BOTTOM)).toBe(true);
		const {folder, moduleFile} = await project({'images.py': content, 'requirements.txt': 'x\n'});
		const read = await readFlyteModule(ctx, {moduleFile, folder, python, pinnedFlyte: '2.6.5'});
		expect(read.images.map(image => image.image?.name)).toEqual(['trainer', 'team/serve']);
		expect(read.environments.map(env => [env.variable, env.name, env.image])).toEqual([
			['trainer_env', 'trainer', 'trainer_image'],
			['team_serve_env', 'team_serve', 'team_serve_image'],
		]);
	});

	it('a file without the marker is never written: the snippet is shown instead', () => {
		const plan = planFlyteModuleUpdate('import flyte\n\ntrainer_image = 1\n', TRAINER);
		expect(plan).toMatchObject({kind: 'unmanaged', importLine: 'import flyte', hasImport: true, variable: 'trainer_image_2'});
		expect((plan as {snippet: string}).snippet).toContain('trainer_image_2 = (\n    flyte.Image.from_debian_base(');
	});

	it('a declaration edited by hand is not rewritten: the plan names its line and gives the snippet', () => {
		const existing = managed().replace('    .with_pip_packages("pandas", "union")\n', '    .with_pip_packages("pandas", "union")  # pinned by ops\n');
		const plan = planFlyteModuleUpdate(existing, {...TRAINER, layers: []});
		expect(plan).toMatchObject({kind: 'edited', variable: 'trainer_image', line: 9});
	});

	it('keeps CRLF line endings', () => {
		const existing = managed().replaceAll('\n', '\r\n');
		const plan = planFlyteModuleUpdate(existing, {...TRAINER, layers: []});
		expect(plan.kind).toBe('update');
		expect((plan as {content: string}).content.replaceAll('\r\n', '')).not.toContain('\n');
	});

	it('a file changed after it was shown gets the new image merged into its new content; a change to the same image writes nothing', async () => {
		const shown = managed();
		const {moduleFile} = await project({'images.py': `${shown}# added meanwhile\n`});
		const other: FlyteImage = {...TRAINER, name: 'serve', layers: []};
		const change = (image: FlyteImage) => ({
			shown,
			content: (planFlyteModuleUpdate(shown, image) as {content: string}).content,
			name: image.name,
			replan: (current: string) => (planFlyteModuleUpdate(current, image) as {content?: string}).content,
			declarationOf: flyteDeclarationOf,
			label: 'flyte.Image module',
		});
		expect(await writeModuleChecked(moduleFile, change(other))).toEqual({kind: 'merged'});
		const merged = await readFile(moduleFile, 'utf8');
		expect(merged).toContain('# added meanwhile\n');
		expect(readFlyteDeclarations(merged).map(declaration => declaration.name)).toEqual(['trainer', 'serve']);
		await writeFile(moduleFile, merged.replace('"union"', '"union==1.0"'));
		await expect(writeModuleChecked(moduleFile, change({...TRAINER, layers: []}))).rejects.toMatchObject({reason: 'MODULE_CHANGED'});
	});
});

describe('environmentOf: the TaskEnvironment `flyte build` builds an image through, read without Python', () => {
	it('finds the environment line the tool writes under each declaration, and nothing for an image no environment uses', () => {
		const scorer: FlyteImage = {...TRAINER, name: 'scorer'};
		const module = renderFlyteModule([TRAINER, scorer]);
		const [trainer, second] = readFlyteDeclarations(module);
		expect(environmentOf(module, trainer!.variable)).toBe(`${trainer!.variable.replace(/_image$/, '')}_env`);
		expect(environmentOf(module, second!.variable)).toBe('scorer_env');
		// Someone's own environment, named as they like, still counts; an image without one has none.
		const theirs = `${module}\nmy_env = flyte.TaskEnvironment(name="mine", image=other_image, resources=None)\n`;
		expect(environmentOf(theirs, 'other_image')).toBe('my_env');
		expect(environmentOf(module, 'other_image')).toBeUndefined();
		// A prefix of another variable is not that variable.
		expect(environmentOf(module, 'scorer')).toBeUndefined();
	});
});
