import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CancelledError, StepError} from '../../source/services/errors.js';
import {type PyLiteral, computeTag} from '../../source/services/imagespec.js';
import {readModuleSpecs, type ModuleSpecs, type ReadSpec} from '../../source/services/module-reader.js';
import {currentPlatform, type Platform} from '../../source/services/platform.js';
import {STAND_IN} from '../../source/services/python-stand-in.js';
import {pathHiding, withEnv} from '../support/environment.js';
import {BASE_PYTHON, TAG_VECTORS} from '../fixtures/tag-vectors.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
// No flytekit on this machine: a clean PYTHONPATH means the stand-in answers.
const platform: Platform = withEnv(currentPlatform(), {PYTHONPATH: undefined, FAKE_FLYTEKIT_IMAGE_NAME: undefined});
const ctx = {platform};

let root: string;
beforeAll(async () => {
	root = await mkdtemp(path.join(os.tmpdir(), 'module-reader-'));
});
afterAll(async () => {
	await rm(root, {recursive: true, force: true});
});

let count = 0;
/** A project folder with these files; returns the folder and the module's path. */
const project = async (files: Record<string, string>, module = 'image_specs.py') => {
	const folder = path.join(root, `p${++count}`);
	for (const [file, content] of Object.entries(files)) {
		await mkdir(path.dirname(path.join(folder, file)), {recursive: true});
		await writeFile(path.join(folder, file), content);
	}
	return {folder, moduleFile: path.join(folder, module)};
};

const byVariable = (result: ModuleSpecs, variable: string): ReadSpec => {
	const found = result.specs.find(spec => spec.variables.includes(variable) || spec.variable === variable);
	if (!found) throw new Error(`no spec ${variable} in ${result.specs.map(spec => spec.variable).join(', ')}`);
	return found;
};

const failure = async (promise: Promise<unknown>): Promise<StepError> => {
	const error = await promise.then(
		() => undefined,
		(error_: unknown) => error_,
	);
	expect(error).toBeInstanceOf(StepError);
	return error as StepError;
};

/** All vectors in one module: `v0 = ImageSpec(...)`, ...; their files merged into one folder. */
const vectorProject = async (header: string) => {
	const files: Record<string, string> = {};
	for (const vector of TAG_VECTORS) {
		for (const [file, content] of Object.entries(vector.files)) {
			if (files[file] !== undefined && files[file] !== content) throw new Error(`vectors disagree on ${file}`);
			files[file] = content;
		}
	}
	const lines = TAG_VECTORS.map((vector, index) => `v${index} = ImageSpec(${vector.python})`);
	files['image_specs.py'] = `${header}\nBASE = ImageSpec(${BASE_PYTHON})\n${lines.join('\n')}\n`;
	return project(files);
};
// The machine's own architecture decides flytekit's localhost: platform default.
const vectorsForThisMachine = TAG_VECTORS.map((vector, index) => ({vector, index})).filter(
	({vector}) => (vector.arch ?? 'x64') === (process.arch === 'arm64' ? 'arm64' : 'x64') || !vector.spec.registry?.startsWith('localhost:'),
);

describe('the Python reader with the stand-in gives the tags flytekit computed (test/fixtures/tag-vectors.ts)', () => {
	let result: ModuleSpecs;
	beforeAll(async () => {
		const box = await vectorProject('from flytekit import ImageSpec\nfrom flytekit.constants import CopyFileDetection');
		result = await readModuleSpecs(ctx, box);
	}, 60_000);

	it('reads through the stand-in', () => {
		expect(result.via).toBe('stand-in');
		expect(byVariable(result, 'BASE').spec.packages).toEqual(['numpy']);
	});

	for (const {vector, index} of vectorsForThisMachine) {
		it(vector.id, () => {
			const read = byVariable(result, `v${index}`);
			expect(read.problem).toBeUndefined();
			expect(read.tag).toBe(vector.tag);
		});
	}
});

describe('the literal reader (no Python) gives the same tags for literal declarations', () => {
	let result: ModuleSpecs;
	beforeAll(async () => {
		const box = await vectorProject('from flytekit import ImageSpec\nfrom flytekit.constants import CopyFileDetection');
		result = await readModuleSpecs(ctx, {...box, python: false});
	});

	for (const {vector, index} of vectorsForThisMachine) {
		it(vector.id, () => {
			const read = byVariable(result, `v${index}`);
			if (vector.python.includes(').with_')) {
				// A derived spec needs Python: named, not guessed.
				expect(read.tag).toBeUndefined();
				expect(read.problem?.reason).toBe('FIELD_UNREADABLE');
				return;
			}
			expect(read.problem).toBeUndefined();
			expect(read.tag).toBe(vector.tag);
		});
	}
});

// image_specs.py of a team, and the tags flytekit v1.16.24 itself gave for it (commit e96c7203,
// its own image_spec.py run on these files with flytekit/union shells around it, as for the vectors).
const TEAM_MODULE = `from flytekit import ImageSpec, task
from flytekit.constants import CopyFileDetection
import union
from flytekit.types.file import FlyteFile

PACKAGES = ["pandas", "pyarrow"]
ENV = {"MODE": "prod"}

base = ImageSpec(
    name="Team-Base",
    registry="us-central1-docker.pkg.dev/acme/images",
    python_version="3.11",
    packages=PACKAGES,
    env=ENV,
    conda_packages=["numpy"],
    cuda="12.1",
    pip_extra_args="--no-cache-dir",
    builder_options={"imagepullpolicy": "Always", "retries": (1, 2.5)},
)
trainer = base.with_packages(["torch"]).with_apt_packages("git")
alias = trainer
layered = union.ImageSpec(
    name="layered",
    base_image=ImageSpec(name="inner", python_version="3.12", requirements="requirements.txt"),
    copy=["src", "settings.toml"],
    source_copy_mode=CopyFileDetection.NO_COPY,
    tag_format="{spec_hash}-gpu",
)
loaded = ImageSpec(name="loaded", source_root="src")


@task(container_image=trainer)
def train(x: FlyteFile) -> int:
    return 1


print("module says hello")
`;
const TEAM_FILES = {'image_specs.py': TEAM_MODULE, 'requirements.txt': 'pandas==2.2.2\n', 'src/pkg/mod.py': 'x = 1\n', 'settings.toml': 'cfg'};
const TEAM_TAGS = {
	base: 'us-central1-docker.pkg.dev/acme/images/team-base:ykUtpUSYaN7R9CpL14vdmg',
	trainer: 'us-central1-docker.pkg.dev/acme/images/team-base:lVWdR2DkF0CTEQTQv3cfkQ',
	layered: 'layered:_Sw_obLCT_IygVppS37QTA-gpu',
	inner: 'inner:4mzpoV1HAO3OcOG4UqjIlQ',
};

describe('a team module read with the stand-in', () => {
	let result: ModuleSpecs;
	beforeAll(async () => {
		result = await readModuleSpecs(ctx, await project(TEAM_FILES));
	}, 60_000);

	it('every spec with its variables, the nested base too, in module order', () => {
		expect(result.specs.map(spec => spec.variables)).toEqual([['base'], ['trainer', 'alias'], ['layered'], ['loaded'], []]);
		expect(result.specs.at(-1)?.variable).toBe('layered.base_image');
	});

	it("the tags are flytekit's", () => {
		expect(byVariable(result, 'base').uri).toBe(TEAM_TAGS.base);
		expect(byVariable(result, 'trainer').uri).toBe(TEAM_TAGS.trainer);
		expect(byVariable(result, 'layered').uri).toBe(TEAM_TAGS.layered);
		expect(byVariable(result, 'layered.base_image').uri).toBe(TEAM_TAGS.inner);
	});

	it('real values: post_init normalisation, derived fields, Python-only values', () => {
		const base = byVariable(result, 'base').spec;
		expect(base.name).toBe('team-base');
		expect(base.platform).toBe('linux/amd64');
		expect(base.packages).toEqual(['pandas', 'pyarrow']);
		expect((base.builder_options!.retries as PyLiteral).repr).toBe('(1, 2.5)');
		const trainer = byVariable(result, 'trainer').spec;
		expect(trainer.packages).toEqual(['pandas', 'pyarrow', 'torch']);
		expect(trainer.apt_packages).toEqual(['git']);
		const layered = byVariable(result, 'layered').spec;
		expect(layered.source_copy_mode).toBe('NO_COPY');
		expect(typeof layered.base_image === 'object' && layered.base_image.name).toBe('inner');
	});

	it('source_root alone: a plain reason instead of a tag, the others unaffected', () => {
		const loaded = byVariable(result, 'loaded');
		expect(loaded.spec.source_copy_mode).toBe('LOADED_MODULES');
		expect(loaded.tag).toBeUndefined();
		expect(loaded.problem?.reason).toBe('TAG_DEPENDS_ON_REGISTER');
	});

	it('without Python, the literal reader reads the literal ones and names the rest', async () => {
		const literal = await readModuleSpecs(ctx, {...(await project(TEAM_FILES)), python: false});
		expect(literal.via).toBe('literal');
		// PACKAGES and ENV are module-level names bound to literals.
		expect(byVariable(literal, 'base').uri).toBe(TEAM_TAGS.base);
		expect(byVariable(literal, 'trainer').problem?.message).toMatch(/trainer = base\.with_packages\(\["torch"\]\).* is derived from another spec/);
		expect(byVariable(literal, 'trainer').problem?.fix).toMatch(/Install a Python 3.*flytekit \(or union\)/);
		// An inline base_image=ImageSpec(...) of literals, copy, CopyFileDetection.NO_COPY, tag_format.
		expect(byVariable(literal, 'layered').uri).toBe(TEAM_TAGS.layered);
		expect(byVariable(literal, 'loaded').problem?.reason).toBe('TAG_DEPENDS_ON_REGISTER');
	});
});

describe('a module that fails gets one line', () => {
	it('a misspelt keyword fails as in flytekit, with file:line', async () => {
		const box = await project({'image_specs.py': 'import union\n\nimg = union.ImageSpec(name="x", packges=["pandas"])\n'});
		const error = await failure(readModuleSpecs(ctx, box));
		expect(error.reason).toBe('MODULE_FAILED');
		expect(error.message).toBe("image_specs.py:3: TypeError: ImageSpec.__init__() got an unexpected keyword argument 'packges'");
	});

	it("the module's own exception, raised from a helper module it imports", async () => {
		const box = await project({
			'image_specs.py': 'from helpers import registry\nimport flytekit\nimg = flytekit.ImageSpec(name="x", registry=registry())\n',
			'helpers.py': 'def registry():\n    raise RuntimeError("set REGISTRY first")\n',
		});
		const error = await failure(readModuleSpecs(ctx, box));
		expect(error.message).toBe('helpers.py:2: RuntimeError: set REGISTRY first');
		expect(error.message).not.toContain('Traceback');
	});

	it('a syntax error', async () => {
		const box = await project({'image_specs.py': 'import union\nimg = union.ImageSpec(name="x"\n'});
		const error = await failure(readModuleSpecs(ctx, box));
		expect(error.message).toMatch(/^image_specs\.py:2: SyntaxError: /);
	});

	it('flytekit checks the stand-in repeats: an invalid registry, a tuple for packages', async () => {
		const registry = await project({'image_specs.py': 'from union import ImageSpec\nimg = ImageSpec(name="x", registry="https://gcr.io/x")\n'});
		expect((await failure(readModuleSpecs(ctx, registry))).message).toBe("image_specs.py:2: ValueError: Invalid container registry name: 'https://gcr.io/x'.");
		const tuple = await project({'image_specs.py': 'from union import ImageSpec\nimg = ImageSpec(name="x", packages=("a",))\n'});
		expect((await failure(readModuleSpecs(ctx, tuple))).message).toBe('image_specs.py:2: ValueError: packages must be a list of strings or None');
	});

	it('a module in a package is imported with its package (relative imports work)', async () => {
		const box = await project(
			{
				'workflows/__init__.py': '',
				'workflows/common.py': 'PACKAGES = ["pandas"]\n',
				'workflows/image_specs.py': 'from .common import PACKAGES\nfrom flytekit import ImageSpec\nimg = ImageSpec(name="x", packages=PACKAGES)\n',
			},
			'workflows/image_specs.py',
		);
		const result = await readModuleSpecs(ctx, box);
		expect(byVariable(result, 'img').spec.packages).toEqual(['pandas']);
	});

	it('honours the timeout and the AbortSignal', async () => {
		const box = await project({'image_specs.py': 'import time\ntime.sleep(30)\n'});
		const timedOut = await failure(readModuleSpecs(ctx, {...box, timeout: 1500}));
		expect(timedOut.reason).toBe('TIMEOUT');
		const controller = new AbortController();
		const started = Date.now();
		setTimeout(() => controller.abort(), 300);
		await expect(readModuleSpecs({platform, signal: controller.signal}, box)).rejects.toBeInstanceOf(CancelledError);
		expect(Date.now() - started).toBeLessThan(10_000);
	}, 30_000);
});

describe('with flytekit importable, its image_name() is the reference', () => {
	const answers = (value: string) => ({
		platform: withEnv(platform, {PYTHONPATH: path.join(FIXTURES, 'flytekit-answers'), IMAGESPEC_GAR_STAND_IN: STAND_IN, FAKE_FLYTEKIT_IMAGE_NAME: value}),
	});
	const module = {'image_specs.py': 'from flytekit import ImageSpec, task\nimg = ImageSpec(name="x", registry="ghcr.io/org", packages=["pandas"])\n'};
	// flytekit's tag for that spec (the same recipe as the vectors: `ImageSpec(name="x", registry="ghcr.io/org", packages=["pandas"]).image_name()`).
	const right = 'ghcr.io/org/x:2p337E8eUGV9XUB_F4psDg';

	it('agreeing: via flytekit, both names kept', async () => {
		const result = await readModuleSpecs(answers(right), await project(module));
		expect(result.via).toBe('flytekit');
		expect(byVariable(result, 'img')).toMatchObject({uri: right, sdkUri: right});
	});

	it("source_copy_mode ALL: the files' digest is flytekit's own (ls_files), the rest of the tag the tool's", async () => {
		const all = {
			'image_specs.py':
				'from flytekit import ImageSpec\nfrom flytekit.constants import CopyFileDetection\n' +
				'img = ImageSpec(name="x", source_root="src", source_copy_mode=CopyFileDetection.ALL)\n',
		};
		const expected = `x:${await computeTag({name: 'x', source_root: 'src', source_copy_mode: 'ALL'}, {baseDir: root, sourceRootDigest: 'f00d'})}`;
		const context = {platform: withEnv(answers(expected).platform, {FAKE_FLYTEKIT_LS_DIGEST: 'f00d'})};
		const result = await readModuleSpecs(context, await project(all));
		expect(byVariable(result, 'img')).toMatchObject({uri: expected, sdkUri: expected});
		// Without flytekit the same spec has no tag, and says why.
		const standIn = await readModuleSpecs(ctx, await project(all));
		expect(byVariable(standIn, 'img').problem?.reason).toBe('TAG_NEEDS_FLYTEKIT');
	});

	it('disagreeing: TAG_MISMATCH with both values', async () => {
		const error = await failure(readModuleSpecs(answers('ghcr.io/org/x:somethingElse'), await project(module)));
		expect(error.reason).toBe('TAG_MISMATCH');
		expect(error.message).toContain('flytekit 1.16.24+answers names ghcr.io/org/x:somethingElse');
		expect(error.message).toContain(right);
	});

	it("flytekit failing to name a spec is that spec's problem", async () => {
		const result = await readModuleSpecs(answers('raise'), await project(module));
		const img = byVariable(result, 'img');
		expect(img.uri).toBeUndefined();
		expect(img.problem?.message).toMatch(/flytekit cannot name img: .*FileNotFoundError/);
	});

	it('a flytekit that does not import is said plainly', async () => {
		const broken = {platform: withEnv(platform, {PYTHONPATH: path.join(FIXTURES, 'flytekit-broken')})};
		const error = await failure(readModuleSpecs(broken, await project(module)));
		expect(error.reason).toBe('SDK_BROKEN');
		expect(error.message).toContain('a_dependency_that_is_not_installed');
	});
});

describe('without any Python on PATH', () => {
	it('reads literal declarations and names an unreadable field with what to install', async () => {
		const noPython = {platform: withEnv(platform, {PATH: await pathHiding(process.env.PATH ?? '', ['python3', 'python'])})};
		const box = await project({
			'image_specs.py': [
				'import os',
				'import union',
				'PACKAGES = ["pandas"]',
				'base = union.ImageSpec(name="base", registry="ghcr.io/org", packages=PACKAGES)',
				'app = union.ImageSpec(name="app", base_image=base, commands=["ls"])',
				'other = union.ImageSpec(name="other", registry=os.environ["REGISTRY"])',
				'',
			].join('\n'),
		});
		const result = await readModuleSpecs(noPython, box);
		expect(result.via).toBe('literal');
		expect(byVariable(result, 'base').spec.packages).toEqual(['pandas']);
		// flytekit v1.16.24's image_name() for these two (computed as the vectors were).
		expect(byVariable(result, 'base').uri).toBe('ghcr.io/org/base:l2yV1BoBNxQTPqQHD1F8Yw');
		expect(typeof byVariable(result, 'app').spec.base_image).toBe('object');
		expect(byVariable(result, 'app').uri).toBe('app:vtRjc3sBWN_6_Se61DhEFw');
		const other = byVariable(result, 'other');
		expect(other.tag).toBeUndefined();
		expect(other.problem?.message).toBe('Cannot read other without Python: registry=os.environ["REGISTRY"] is not a literal the tool can read.');
		expect(other.problem?.fix).toMatch(/Install a Python 3/);
	});
});

describe('imports this Python lacks (no flytekit: not the team environment)', () => {
	it('a task signature using pandas does not stop the read; a spec field made from it is named', async () => {
		const box = await project({
			'image_specs.py': [
				'import pandas as pd',
				'from sklearn.linear_model import LinearRegression',
				'from flytekit import ImageSpec, task',
				'',
				'img = ImageSpec(name="x", packages=["pandas"])',
				'odd = ImageSpec(name="odd", python_version=pd.__version__)',
				'named = ImageSpec(name=pd.NAME)',
				'',
				'@task(container_image=img)',
				'def t(df: pd.DataFrame) -> LinearRegression:',
				'    return LinearRegression()',
				'',
			].join('\n'),
		});
		const result = await readModuleSpecs(ctx, box);
		expect(result.missing).toEqual(['pandas', 'sklearn']);
		// flytekit v1.16.24: ImageSpec(name="x", packages=["pandas"]).tag (computed as the vectors were).
		expect(byVariable(result, 'img').tag).toBe('wCFCigjTu0uUdmlG5EwIoQ');
		const odd = byVariable(result, 'odd');
		expect(odd.tag).toBeUndefined();
		expect(odd.problem?.reason).toBe('FIELD_FROM_MISSING_MODULE');
		expect(odd.problem?.message).toBe('odd: python_version comes from a module this Python cannot import (pandas, sklearn).');
		expect(byVariable(result, 'named').problem?.message).toMatch(/^named: name comes from/);
	});

	it('with flytekit importable (the team environment) a missing import fails as union register would', async () => {
		const box = await project({'image_specs.py': 'import pandas\nfrom flytekit import ImageSpec\nimg = ImageSpec(name="x")\n'});
		const withFlytekit = {platform: withEnv(platform, {PYTHONPATH: path.join(FIXTURES, 'flytekit-answers'), IMAGESPEC_GAR_STAND_IN: STAND_IN})};
		const error = await failure(readModuleSpecs(withFlytekit, box));
		expect(error.message).toBe("image_specs.py:1: ModuleNotFoundError: No module named 'pandas'");
	});
});
