import {spawnSync} from 'node:child_process';
import {mkdir, mkdtemp, rm, symlink, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {StepError, UsageError} from '../../source/services/errors.js';
import {
	DEFAULT_PLATFORM,
	composeRegistry,
	computeTag,
	copyDigest,
	defaultBaseImage,
	hashInput,
	imageUri,
	parseGarRegistry,
	pyRepr,
	registryHostOfLocation,
	requirementsDigest,
	specHash,
	tagFromHash,
	validateImageName,
	validateImageReference,
	validatePackage,
	validatePlatform,
	validatePythonVersion,
	validateRegistry,
	validateSpec,
	type ImageSpec,
} from '../../source/services/imagespec.js';
import {TAG_VECTORS} from '../fixtures/tag-vectors.js';

const GAR = 'us-central1-docker.pkg.dev/my-project/my-repo';
const base: ImageSpec = {name: 'my-image', registry: GAR, python_version: '3.11', packages: ['pandas', 'union']};

let dir: string;
beforeAll(async () => {
	dir = await mkdtemp(path.join(os.tmpdir(), 'imagespec-test-'));
});
afterAll(async () => {
	await rm(dir, {recursive: true, force: true});
});

const tag = (spec: ImageSpec) => computeTag(spec, {baseDir: dir});

describe('computeTag reproduces flytekit (facts/imagespec.md)', () => {
	it('ImageSpec() defaults', async () => {
		expect(hashInput({name: 'flytekit'})).toBe("{'name': 'flytekit', 'platform': 'linux/amd64'}");
		expect(await tag({name: 'flytekit'})).toBe('fv8aVGdGU6GT1t5W98ZQPA');
	});

	it('GAR registry, python_version, packages', async () => {
		expect(hashInput(base)).toBe(
			"{'name': 'my-image', 'python_version': '3.11', 'registry': 'us-central1-docker.pkg.dev/my-project/my-repo', " +
				"'packages': ['pandas', 'union'], 'platform': 'linux/amd64'}",
		);
		expect(await tag(base)).toBe('_bwqv2mCpygzPK4M5b1_Vg');
	});

	it('tag_format', async () => {
		expect(await tag({...base, tag_format: '{spec_hash}-dev'})).toBe('2g2H2ntAAM3TzbZB1MhYsg-dev');
	});

	it('platform linux/arm64', async () => {
		expect(await tag({...base, platform: 'linux/arm64'})).toBe('rxKKFhRq_Xi7LoLMPMGquw');
	});

	it('an explicit linux/amd64 platform is the default', async () => {
		expect(await tag({...base, platform: DEFAULT_PLATFORM})).toBe('_bwqv2mCpygzPK4M5b1_Vg');
	});

	it('requirements file: SHA-1 of the stripped bytes', async () => {
		await writeFile(path.join(dir, 'requirements.txt'), 'pandas==2.2.2\nunion\n');
		const spec: ImageSpec = {name: 'my-image', registry: GAR, python_version: '3.11', requirements: 'requirements.txt'};
		expect(requirementsDigest('pandas==2.2.2\nunion\n')).toBe('313a8a6250d18f1377674848fffcaf480fd0f9dd');
		expect(hashInput(spec, {requirements: '313a8a6250d18f1377674848fffcaf480fd0f9dd'})).toContain("'requirements': '313a8a6250d18f1377674848fffcaf480fd0f9dd'");
		expect(await tag(spec)).toBe('NZ6Y8WZoI5gDs3SsBFUppQ');
	});

	it('requirements: surrounding whitespace is stripped, CRLF inside is not', async () => {
		await writeFile(path.join(dir, 'padded.txt'), ' \r\n\tpandas==2.2.2\nunion\r\n\n  ');
		await writeFile(path.join(dir, 'crlf.txt'), 'pandas==2.2.2\r\nunion\r\n');
		const spec: ImageSpec = {name: 'my-image', registry: GAR, python_version: '3.11', requirements: 'padded.txt'};
		expect(await tag(spec)).toBe('NZ6Y8WZoI5gDs3SsBFUppQ');
		// flytekit strips only the ends: an inner \r changes the bytes and so the tag.
		expect(await tag({...spec, requirements: 'crlf.txt'})).not.toBe('NZ6Y8WZoI5gDs3SsBFUppQ');
		expect(requirementsDigest('pandas==2.2.2\r\nunion\r\n')).toBe(requirementsDigest('pandas==2.2.2\r\nunion'));
	});

	it('a missing requirements file is a StepError with a fix', async () => {
		const error = await tag({...base, requirements: 'nope.txt'}).catch((error_: unknown) => error_);
		expect(error).toBeInstanceOf(StepError);
		expect((error as StepError).fix).toContain('nope.txt');
	});

	it('hashInput refuses requirements without a digest', () => {
		expect(() => hashInput({...base, requirements: 'requirements.txt'})).toThrow(/SHA-1/);
	});

	it('registry with an extra path segment and a base_image', async () => {
		const spec: ImageSpec = {
			name: 'simple-example-image',
			registry: 'us-east1-docker.pkg.dev/my-union-dataplane/my-registry/my-image-repository',
			base_image: 'ghcr.io/flyteorg/flytekit:py3.11-latest',
			packages: ['union', 'pandas'],
		};
		expect(await tag(spec)).toBe('_ufbu7eDSOzHJMN54_9VSQ');
	});

	it('the str(dict) with source_copy_mode and builder_options hashes to the listed tag', () => {
		const input =
			`{'name': 'x', 'env': {'Q': 'say "hi"'}, 'packages': ["it's"], 'platform': 'linux/amd64', ` +
			`'source_copy_mode': <CopyFileDetection.NO_COPY: 3>, 'builder_options': {'flag': True, 'n': 1}}`;
		expect(specHash(input)).toBe('1JVo_Ca0_XD06xhHWwKJdw');
		// Our renderer gives the same text for the part it owns.
		const ours = hashInput({name: 'x', packages: ["it's"], env: {Q: 'say "hi"'}});
		expect(ours).toBe(`{'name': 'x', 'env': {'Q': 'say "hi"'}, 'packages': ["it's"], 'platform': 'linux/amd64'}`);
		expect(pyRepr({flag: true, n: 1})).toBe("{'flag': True, 'n': 1}");
	});

	it('upper-case name and registry hash like lowercase', async () => {
		expect(await tag({...base, name: 'My-Image', registry: GAR.toUpperCase()})).toBe('_bwqv2mCpygzPK4M5b1_Vg');
	});

	it('builder does not change the tag', async () => {
		expect(await tag({...base, builder: 'union'})).toBe('_bwqv2mCpygzPK4M5b1_Vg');
		expect(hashInput({...base, builder: 'union'})).not.toContain('builder');
	});

	it('field order follows flytekit, not the object literal', () => {
		const shuffled: ImageSpec = {packages: ['pandas', 'union'], python_version: '3.11', registry: GAR, name: 'my-image'};
		expect(hashInput(shuffled)).toBe(hashInput(base));
	});

	it('every field the wizard writes changes the tag', async () => {
		const before = specHash(hashInput(base));
		const variants: ImageSpec[] = [
			{...base, env: {A: '1'}},
			{...base, apt_packages: ['git']},
			{...base, base_image: 'ghcr.io/flyteorg/flytekit:py3.11-latest'},
			{...base, pip_index: 'https://pypi.org/simple'},
			{...base, pip_extra_index_url: ['https://example.com/simple']},
			{...base, commands: ['echo hi']},
			{...base, python_version: '3.12'},
		];
		for (const variant of variants) expect(specHash(hashInput(variant))).not.toBe(before);
	});

	it('tag_format follows Python str.format', () => {
		expect(tagFromHash('abc', 'v1-{spec_hash}')).toBe('v1-abc');
		expect(tagFromHash('abc', '{{x}}{spec_hash}')).toBe('{x}abc');
		expect(() => tagFromHash('abc', '{other}')).toThrow(UsageError);
		expect(() => tagFromHash('abc', '{spec_hash')).toThrow(UsageError);
	});

	it('imageUri lowercases like flytekit and drops an empty registry', () => {
		expect(imageUri({...base, name: 'My-Image', registry: GAR.toUpperCase()}, 'AbC_1')).toBe(`${GAR}/my-image:AbC_1`);
		expect(imageUri({name: 'x'}, 't')).toBe('x:t');
		expect(imageUri({name: 'x', registry: ''}, 't')).toBe('x:t');
	});
});

describe('pyRepr', () => {
	it('strings: quote choice and escapes', () => {
		expect(pyRepr('plain')).toBe("'plain'");
		expect(pyRepr("it's")).toBe(`"it's"`);
		expect(pyRepr('say "hi"')).toBe(`'say "hi"'`);
		expect(pyRepr(`both ' and "`)).toBe(`'both \\' and "'`);
		expect(pyRepr('back\\slash')).toBe("'back\\\\slash'");
		expect(pyRepr('a\nb\tc\rd')).toBe("'a\\nb\\tc\\rd'");
		expect(pyRepr('\u0000\u001b\u007f')).toBe("'\\x00\\x1b\\x7f'");
		expect(pyRepr('café ü 日本 😀')).toBe("'café ü 日本 😀'");
		expect(pyRepr('\u00a0\u00ad\u2028\u200b')).toBe("'\\xa0\\xad\\u2028\\u200b'");
		expect(pyRepr('\u{e0001}')).toBe("'\\U000e0001'");
	});

	it('scalars, lists, nested dicts in insertion order', () => {
		expect(pyRepr(null)).toBe('None');
		expect(pyRepr(undefined)).toBe('None');
		expect(pyRepr(true)).toBe('True');
		expect(pyRepr(false)).toBe('False');
		expect(pyRepr(42)).toBe('42');
		expect(pyRepr(-7)).toBe('-7');
		expect(pyRepr([])).toBe('[]');
		expect(pyRepr({})).toBe('{}');
		expect(pyRepr({z: 1, a: {y: [1, 'b'], b: null}})).toBe("{'z': 1, 'a': {'y': [1, 'b'], 'b': None}}");
		expect(
			pyRepr(
				new Map<string, unknown>([
					['2', 1],
					['1', 2],
				]),
			),
		).toBe("{'2': 1, '1': 2}");
	});

	it('matches python3 repr() on tricky values', () => {
		const values: unknown[] = [
			'',
			"'",
			'"',
			`'"`,
			`it's "quoted"`,
			'\\',
			"\\'",
			'tab\there',
			'line\nbreak\r\n',
			'\u0000\u0007\u001f\u007f\u0080\u009f',
			'\u00a0\u00a9\u00ff\u0100',
			'\u00ad\u061c\u200b\u200e\u2028\u2029\u3000\ufeff\ufffd',
			'\ud800 lone \udfff',
			'\ue000 private',
			'emoji 😀 and \u{1f600}',
			'\u{e0001}\u{10ffff}',
			'Ωmega ß ﬁ İ',
			'combining e\u0301',
			'ansi \u001b[31mred',
			['a', "b'", 'c"', 1, true, false, null],
			{key: "v'", 'k"': 'v', nested: {list: ['x', {deep: 'y\n'}]}},
			0.1,
			1.5,
			-2.25,
			1.5e-7,
			1.2345e20,
			123456789.125,
			1e-5,
			0.0001,
		];
		const script = 'import json,sys\nprint(json.dumps([repr(v) for v in json.load(sys.stdin)]))';
		const result = spawnSync('python3', ['-c', script], {input: JSON.stringify(values), encoding: 'utf8'});
		expect(result.status, result.stderr).toBe(0);
		const expected = JSON.parse(result.stdout) as string[];
		expect(values.map(value => pyRepr(value))).toEqual(expected);
	});
});

describe('registry composition', () => {
	it('builds host/project/repository, lowercase', () => {
		expect(registryHostOfLocation('us-central1')).toBe('us-central1-docker.pkg.dev');
		expect(registryHostOfLocation('europe-west4', 'localhost:5000')).toBe('localhost:5000');
		expect(composeRegistry({location: 'us-central1', project: 'My-Project', repository: 'Repo'})).toBe('us-central1-docker.pkg.dev/my-project/repo');
		expect(composeRegistry({location: 'us', project: 'example.com:proj', repository: 'images'})).toBe('us-docker.pkg.dev/example.com/proj/images');
		expect(composeRegistry({location: 'us-east1', project: 'p', repository: 'r', hostOverride: '127.0.0.1:5000'})).toBe('127.0.0.1:5000/p/r');
		expect(defaultBaseImage('3.11')).toBe('ghcr.io/flyteorg/flytekit:py3.11-latest');
	});

	it('composed registries validate', () => {
		expect(validateRegistry(composeRegistry({location: 'asia-east1', project: 'example.com:proj', repository: 'r-1'}))).toBeUndefined();
	});

	it('parses a GAR registry back', () => {
		expect(parseGarRegistry(GAR)).toEqual({location: 'us-central1', project: 'my-project', repository: 'my-repo'});
		expect(parseGarRegistry('us-docker.pkg.dev/example.com/proj/images')).toEqual({location: 'us', project: 'example.com:proj', repository: 'images'});
		expect(parseGarRegistry('us-east1-docker.pkg.dev/p/r/extra/more')).toEqual({location: 'us-east1', project: 'p', repository: 'r', rest: 'extra/more'});
		expect(parseGarRegistry('ghcr.io/me')).toBeUndefined();
	});
});

describe('validation', () => {
	it('registry: each rule names itself', () => {
		expect(validateRegistry(`https://${GAR}`)).toMatch(/no scheme/);
		expect(validateRegistry(`${GAR}/`)).toMatch(/no trailing slash/);
		expect(validateRegistry(`${GAR}:latest`)).toMatch(/no tag/);
		expect(validateRegistry(`${GAR}@sha256:${'a'.repeat(64)}`)).toMatch(/no digest/);
		expect(validateRegistry(GAR.toUpperCase())).toMatch(/lowercase/);
		expect(validateRegistry('us-central1-docker.pkg.dev//repo')).toMatch(/empty path segment/);
		expect(validateRegistry('')).toMatch(/empty/);
		expect(validateRegistry('my registry')).toMatch(/spaces/);
		expect(validateRegistry('-bad-.example.com/p')).toMatch(/not a valid host/);
		expect(validateRegistry('host.io/-p')).toMatch(/path segment "-p"/);
		expect(validateRegistry('host.io:999999/p')).toMatch(/Invalid container registry name/);
	});

	it('registry: good values pass', () => {
		for (const good of [GAR, 'localhost:30000', 'ghcr.io/username', 'docker.io/username', 'us-east1-docker.pkg.dev/a/b/c', '127.0.0.1:5000/p/r', 'myuser']) {
			expect(validateRegistry(good), good).toBeUndefined();
		}
	});

	it('image name', () => {
		for (const good of ['trainer', 'my-image', 'team/my_img', 'a.b', 'a__b', 'a--b', 'x'.repeat(255)]) expect(validateImageName(good), good).toBeUndefined();
		expect(validateImageName('Trainer')).toMatch(/lowercase/);
		expect(validateImageName('trainer:v1')).toMatch(/no tag/);
		expect(validateImageName('-trainer')).toMatch(/starts and ends/);
		expect(validateImageName('a___b')).toMatch(/separated/);
		expect(validateImageName('team//x')).toMatch(/double/);
		expect(validateImageName('x'.repeat(256))).toMatch(/255/);
		expect(validateImageName('')).toMatch(/empty/);
		expect(validateImageName('my image')).toMatch(/spaces/);
	});

	it('python version', () => {
		for (const good of ['3.9', '3.10', '3.11', '3.12', '3.13']) expect(validatePythonVersion(good)).toBeUndefined();
		expect(validatePythonVersion('3.11.4')).toMatch(/major.minor/);
		expect(validatePythonVersion('3.8')).toMatch(/one of/);
		expect(validatePythonVersion('py3.11')).toMatch(/major.minor/);
	});

	it('platform', () => {
		for (const good of ['linux/amd64', 'linux/arm64', 'linux/amd64,linux/arm64']) expect(validatePlatform(good)).toBeUndefined();
		expect(validatePlatform('linux/amd64, linux/arm64')).toMatch(/no spaces/);
		expect(validatePlatform('amd64')).toMatch(/not a build platform/);
		expect(validatePlatform('darwin/arm64')).toMatch(/not a build platform/);
		expect(validatePlatform('linux/amd64,linux/amd64')).toMatch(/duplicate/);
	});

	it('packages', () => {
		for (const good of [
			'pandas',
			'pandas==2.2.2',
			'Flyte_Kit>=1.0,<2',
			'union[extra1,extra2]>=0.1',
			'torch ; python_version >= "3.9"',
			'pkg @ https://x.io/p.whl',
			'git+https://github.com/org/repo.git@main',
			'a',
		]) {
			expect(validatePackage(good), good).toBeUndefined();
		}
		expect(validatePackage('')).toMatch(/empty/);
		expect(validatePackage('--pre')).toMatch(/pip options/);
		expect(validatePackage('pandas,numpy')).toMatch(/not a requirement/);
		expect(validatePackage('-pandas')).toMatch(/pip options/);
		expect(validatePackage('pandas>=')).toMatch(/no version/);
		expect(validatePackage('pandas[sql')).toMatch(/extras/);
		expect(validatePackage('a\nb')).toMatch(/line breaks/);
	});

	it('base image reference', () => {
		for (const good of ['ghcr.io/flyteorg/flytekit:py3.11-latest', 'python:3.11-slim', 'localhost:5000/x', `debian@sha256:${'a'.repeat(64)}`]) {
			expect(validateImageReference(good), good).toBeUndefined();
		}
		expect(validateImageReference('https://ghcr.io/x')).toMatch(/scheme/);
		expect(validateImageReference('Ghcr/X')).toMatch(/lowercase/);
		expect(validateImageReference('x:.bad')).toMatch(/tag/);
	});

	it('validateSpec: a good spec passes', () => {
		const good: ImageSpec = {
			...base,
			builder: 'union',
			env: {HF_HOME: '/tmp/hf', _X: 'y'},
			apt_packages: ['git', 'libgomp1=12.2.0-14'],
			base_image: defaultBaseImage('3.11'),
			platform: 'linux/amd64,linux/arm64',
			pip_index: 'https://pypi.org/simple',
			pip_extra_index_url: ['https://download.pytorch.org/whl/cpu'],
			commands: ['echo hi && ls'],
			tag_format: '{spec_hash}-dev',
			requirements: 'requirements.txt',
		};
		expect(validateSpec(good)).toEqual([]);
	});

	it('validateSpec: each rule reports field, value and rule', () => {
		const cases: Array<[Partial<ImageSpec>, string, string, RegExp]> = [
			[{name: 'Bad Name'}, 'name', 'Bad Name', /spaces|lowercase/],
			[{python_version: undefined}, 'python_version', '', /set it/],
			[{python_version: '2.7'}, 'python_version', '2.7', /one of/],
			[{builder: 'has space'}, 'builder', 'has space', /builder name/],
			[{env: {'1BAD': 'x'}}, 'env', '1BAD', /environment variable names/],
			[{env: {'A-B': 'x'}}, 'env', 'A-B', /environment variable names/],
			[{env: {A: 'x\ny'}}, 'env', 'A=x\ny', /line breaks/],
			[{registry: `https://${GAR}`}, 'registry', `https://${GAR}`, /no scheme/],
			[{registry: `${GAR}/`}, 'registry', `${GAR}/`, /trailing slash/],
			[{registry: `${GAR}:v1`}, 'registry', `${GAR}:v1`, /no tag/],
			[{name: 'x'.repeat(240)}, 'name', `${GAR}/${'x'.repeat(240)}`, /255/],
			[{packages: ['pandas', 'Pandas==2']}, 'packages', 'Pandas==2', /twice/],
			[{packages: ['flyte_kit', 'Flyte-Kit']}, 'packages', 'Flyte-Kit', /twice/],
			[{packages: ['--pre']}, 'packages', '--pre', /pip options/],
			[{requirements: '/abs/requirements.txt'}, 'requirements', '/abs/requirements.txt', /relative/],
			[{requirements: 'sub\\req.txt'}, 'requirements', 'sub\\req.txt', /"\/"/],
			[{requirements: ' '}, 'requirements', ' ', /path/],
			[{apt_packages: ['Git']}, 'apt_packages', 'Git', /Debian package/],
			[{apt_packages: ['git', 'git=1:2.39']}, 'apt_packages', 'git=1:2.39', /twice/],
			[{base_image: 'https://ghcr.io/x'}, 'base_image', 'https://ghcr.io/x', /scheme/],
			[{platform: 'linux/amd64 '}, 'platform', 'linux/amd64 ', /spaces/],
			[{platform: 'windows/amd64'}, 'platform', 'windows/amd64', /not a build platform/],
			[{pip_index: 'pypi.org/simple'}, 'pip_index', 'pypi.org/simple', /http/],
			[{pip_extra_index_url: ['ftp://x']}, 'pip_extra_index_url', 'ftp://x', /http/],
			[{pip_extra_index_url: ['https://a.io/s', 'https://a.io/s']}, 'pip_extra_index_url', 'https://a.io/s', /twice/],
			[{commands: ['']}, 'commands', '', /empty/],
			[{commands: ['a\nb']}, 'commands', 'a\nb', /line breaks/],
			[{tag_format: 'dev'}, 'tag_format', 'dev', /\{spec_hash\}/],
			[{tag_format: '{spec_hash}-{user}'}, 'tag_format', '{spec_hash}-{user}', /only use \{spec_hash\}/],
			[{tag_format: '{spec_hash}/x'}, 'tag_format', '{spec_hash}/x', /letters, digits/],
		];
		for (const [patch, field, value, rule] of cases) {
			const problems = validateSpec({...base, ...patch});
			const problem = problems.find(p => p.field === field && p.value === value);
			expect(problem, `${JSON.stringify(patch)} -> ${JSON.stringify(problems)}`).toBeDefined();
			expect(problem!.rule).toMatch(rule);
		}
	});

	it('validateSpec reports all problems at once', () => {
		const problems = validateSpec({name: 'Bad', registry: 'https://x/', packages: ['--pre'], platform: 'mac'});
		expect(problems.map(p => p.field).sort()).toEqual(['name', 'packages', 'platform', 'python_version', 'registry']);
	});
});

describe('computeTag matches the tags flytekit itself computed (test/fixtures/tag-vectors.ts)', () => {
	for (const vector of TAG_VECTORS) {
		it(vector.id, async () => {
			const project = await mkdtemp(path.join(os.tmpdir(), 'imagespec-vector-'));
			try {
				for (const [file, content] of Object.entries(vector.files)) {
					await mkdir(path.dirname(path.join(project, file)), {recursive: true});
					await writeFile(path.join(project, file), content);
				}
				expect(await computeTag(vector.spec, {baseDir: project, arch: vector.arch ?? 'x64'})).toBe(vector.tag);
			} finally {
				await rm(project, {recursive: true, force: true});
			}
		});
	}
});

describe('copy digest walks folders like os.walk', () => {
	it('subfolders in the file system order, files sorted: the same digest as Python over the same tree', async () => {
		const project = await mkdtemp(path.join(os.tmpdir(), 'imagespec-walk-'));
		try {
			// Many sibling folders, so the file system's order is unlikely to be the sorted one.
			for (const name of ['zeta', 'alpha', 'mid', 'Beta', 'é-accent', '10', '9']) {
				await mkdir(path.join(project, 'tree', name, 'inner'), {recursive: true});
				await writeFile(path.join(project, 'tree', name, 'f.txt'), name);
				await writeFile(path.join(project, 'tree', name, 'inner', 'g.txt'), `${name}!`);
			}
			await writeFile(path.join(project, 'tree', 'b.txt'), 'b');
			await writeFile(path.join(project, 'tree', 'a.txt'), 'a');
			await symlink(path.join(project, 'tree', 'alpha'), path.join(project, 'tree', 'linked-folder'));
			await symlink(path.join(project, 'tree', 'a.txt'), path.join(project, 'tree', 'linked-file'));
			await symlink(path.join(project, 'nowhere'), path.join(project, 'tree', 'dangling'));
			// The oracle: Python's os.walk (topdown, followlinks=False) with compute_digest's per-file rule.
			const python = [
				'import hashlib, os, sys',
				'h = hashlib.md5()',
				'src = sys.argv[1]',
				'for root, _, files in os.walk(src, topdown=True):',
				'    files.sort()',
				'    for f in files:',
				'        p = os.path.join(root, f)',
				'        if not os.path.exists(p): continue',
				'        h.update(open(p, "rb").read()); h.update("".join(os.path.relpath(p, src).split(os.sep)).encode())',
				'print(h.hexdigest())',
			].join('\n');
			const result = spawnSync('python3', ['-c', python, 'tree'], {cwd: project, encoding: 'utf8'});
			expect(result.status, result.stderr).toBe(0);
			expect(await copyDigest(['tree'], project)).toBe(result.stdout.trim());
		} finally {
			await rm(project, {recursive: true, force: true});
		}
	});
});

describe('computeTag says plainly when it cannot tell', () => {
	it('source_root alone (LOADED_MODULES by default) depends on what union register loads', async () => {
		const error = await tag({name: 'x', source_root: '.'}).catch((error_: unknown) => error_);
		expect(error).toBeInstanceOf(StepError);
		expect((error as StepError).reason).toBe('TAG_DEPENDS_ON_REGISTER');
	});

	it('ALL without source_root depends on register; with it, only flytekit can digest the files', async () => {
		const withoutRoot = await tag({name: 'x', source_copy_mode: 'ALL'}).catch((error_: unknown) => error_);
		expect((withoutRoot as StepError).reason).toBe('TAG_DEPENDS_ON_REGISTER');
		const withRoot = await tag({name: 'x', source_root: '.', source_copy_mode: 'ALL'}).catch((error_: unknown) => error_);
		expect((withRoot as StepError).reason).toBe('TAG_NEEDS_FLYTEKIT');
		expect((withRoot as StepError).fix).toMatch(/flytekit/);
		// Given flytekit's digest, the rest of the tag is the tool's.
		expect(hashInput({name: 'x', source_root: '.', source_copy_mode: 'ALL'}, {sourceRoot: 'abc'})).toBe(
			"{'name': 'x', 'source_root': 'abc', 'platform': 'linux/amd64', 'source_copy_mode': <CopyFileDetection.ALL: 2>}",
		);
	});

	it('a tag_format Python could format but the tool does not repeat', async () => {
		const error = await tag({name: 'x', tag_format: '{spec_hash:.8}'}).catch((error_: unknown) => error_);
		expect((error as StepError).reason).toBe('TAG_FORMAT_INVALID');
	});
});
