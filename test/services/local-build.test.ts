import {readFile} from 'node:fs/promises';
import {describe, expect, it} from 'vitest';
import {StepError} from '../../source/services/errors.js';
import {FLYTEKIT_FIELD_ORDER, UNHASHED_FIELDS, type ImageSpec} from '../../source/services/imagespec.js';
import {
	flytekitRequirement,
	imageSpecId,
	isLoopbackUrl,
	LOCAL_BUILD,
	localBuildRefusal,
	NO_PYTHON_MARKER,
	planLocalBuild,
	requirementLines,
} from '../../source/services/local-build.js';

describe('the local build field table', () => {
	it('says something for every flytekit field, and every refused field refuses a value', () => {
		expect(Object.keys(LOCAL_BUILD).sort()).toEqual([...FLYTEKIT_FIELD_ORDER].sort());
		const samples: Partial<ImageSpec> = {
			source_root: '.',
			conda_packages: ['numpy'],
			conda_channels: ['nvidia'],
			requirements: 'uv.lock',
			cuda: '12.1',
			cudnn: '8',
			platform: 'linux/amd64,linux/arm64',
			pip_secret_mounts: [['~/.netrc', '/root/.netrc']],
			source_copy_mode: 'ALL',
			builder_config: {uv_image: 'ghcr.io/astral-sh/uv:0.5.2'},
		};
		for (const field of FLYTEKIT_FIELD_ORDER.filter(name => LOCAL_BUILD[name].support === 'refused')) {
			const spec = {name: 'x', [field]: samples[field], ...(field === 'source_root' ? {source_copy_mode: 'ALL'} : {})} as ImageSpec;
			const refusal = localBuildRefusal(spec);
			expect(refusal, field).toBeInstanceOf(StepError);
			// source_root is refused through the mode that copies it.
			expect(refusal?.message, field).toContain(`cannot honour ${field === 'source_root' ? 'source_copy_mode' : field} (`);
			expect(refusal?.reason).toBe('FIELD_NOT_BUILT_LOCALLY');
		}
	});

	it('is the table the README shows, row for row', async () => {
		const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
		const rows = readme
			.split('\n')
			.map(line => /^\| `(\w+)` \| ([^|]+) \| (built|checked|tag|ignored|refused) \| (.*) \|$/.exec(line))
			.filter(match => match !== null);
		expect(rows.map(([, field, , support, how]) => `${field} ${support} ${how}`)).toEqual(
			FLYTEKIT_FIELD_ORDER.map(field => `${field} ${LOCAL_BUILD[field].support} ${LOCAL_BUILD[field].how}`),
		);
		// "no" in the tag column: exactly what flytekit leaves out of the hash (registry_config is nulled).
		const untagged = rows.filter(([, , tag]) => tag === 'no').map(([, field]) => field);
		expect(untagged).toEqual(FLYTEKIT_FIELD_ORDER.filter(field => UNHASHED_FIELDS.has(field) || field === 'registry_config'));
	});

	it('names the field and the fix, and refuses only the values it cannot build', () => {
		const conda = localBuildRefusal({name: 'x', conda_packages: ['numpy']});
		expect(conda?.message).toBe('The local docker build cannot honour conda_packages (conda packages need micromamba); nothing was built.');
		expect(conda?.fix).toContain('builder="union"');
		expect(conda?.fix).toContain("flytekit's ImageBuildEngine");
		expect(localBuildRefusal({name: 'x', cuda: '12.1'})?.fix).toContain('base_image with CUDA');
		expect(localBuildRefusal({name: 'x', requirements: 'deps/poetry.lock'})?.message).toContain('poetry.lock needs poetry install');
		// What it can build passes: a requirements.txt, NO_COPY, one platform, empty lists.
		for (const spec of [
			{name: 'x', requirements: 'requirements.txt'},
			{name: 'x', source_root: '.', source_copy_mode: 'NO_COPY'},
			{name: 'x', platform: 'linux/arm64'},
			{name: 'x', conda_packages: [], builder_options: {a: 1}, registry_config: 'cfg.json', runtime_packages: ['x']},
		] as ImageSpec[]) {
			expect(localBuildRefusal(spec), JSON.stringify(spec)).toBeUndefined();
		}
		expect(() => planLocalBuild({name: 'x', conda_packages: ['numpy']})).toThrow(/conda_packages/);
	});
});

describe("flytekit appended the way flytekit's default builder does", () => {
	it('appends flytekit, pinned to the flytekit doing the build, when no requirement is flytekit', () => {
		expect(requirementLines({name: 'x', packages: ['pandas']}, undefined)).toEqual(['pandas', 'flytekit']);
		expect(requirementLines({name: 'x', packages: ['pandas']}, undefined, '1.16.24')).toEqual(['pandas', 'flytekit==1.16.24']);
		expect(flytekitRequirement('1.17.0.dev3')).toBe('flytekit');
		// union depends on flytekit, yet flytekit's rule looks for the name flytekit only.
		const lines = requirementLines({name: 'x', packages: ['union', 'flytekit-plugins']}, undefined, '1.16.24');
		expect(lines).toEqual(['union', 'flytekit-plugins', 'flytekit==1.16.24']);
		expect(requirementLines({name: 'x'}, undefined)).toEqual(['flytekit']);
	});

	it('leaves the list alone when one entry is flytekit, in packages or the requirements file', () => {
		expect(requirementLines({name: 'x', packages: ['flytekit~=1.15', 'pandas']}, undefined, '1.16.24')).toEqual(['flytekit~=1.15', 'pandas']);
		expect(requirementLines({name: 'x', packages: ['flytekit[all]']}, undefined)).toEqual(['flytekit[all]']);
		// The file first, lines stripped, then packages (flytekit's requirements_uv.txt).
		expect(requirementLines({name: 'x', packages: ['pandas']}, '  flytekit==1.16.0 \nnumpy\n')).toEqual(['flytekit==1.16.0', 'numpy', 'pandas']);
		expect(requirementLines({name: 'x'}, '')).toEqual(['flytekit']);
	});
});

const myImage = {name: 'my-image', registry: 'us-central1-docker.pkg.dev/my-project/my-repo', python_version: '3.11', packages: ['pandas', 'union']};

describe('imageSpecId (_F_IMG_ID)', () => {
	// The tags of facts/imagespec.md, computed by flytekit: for a spec without requirements or a
	// nested base, flytekit's id is its tag before '-' becomes '_'.
	it.each([
		[{name: 'flytekit'}, 'fv8aVGdGU6GT1t5W98ZQPA'],
		[{...myImage}, '_bwqv2mCpygzPK4M5b1_Vg'],
		[{...myImage, platform: 'linux/arm64'}, 'rxKKFhRq_Xi7LoLMPMGquw'],
		[{name: 'x', packages: ["it's"], env: {Q: 'say "hi"'}, source_copy_mode: 'NO_COPY', builder_options: {flag: true, n: 1}}, '1JVo_Ca0_XD06xhHWwKJdw'],
	] as Array<[ImageSpec, string]>)('%o', (spec, tag) => {
		const id = imageSpecId(spec);
		expect(id).toMatch(/^[\w-]{22}$/);
		expect(id.replaceAll('-', '_')).toBe(tag);
	});

	it("settles platform and copy mode as flytekit's __post_init__ does", () => {
		const local = {name: 'x', registry: 'localhost:5000/t'};
		expect(imageSpecId(local, undefined, 'arm64')).toBe(imageSpecId({...local, platform: 'linux/arm64'}, undefined, 'x64'));
		expect(imageSpecId(local, undefined, 'x64')).toBe(imageSpecId({...local, platform: 'linux/amd64'}, undefined, 'arm64'));
		// A bare source_root means LOADED_MODULES: hashed so, and refused by the local build.
		expect(imageSpecId({name: 'x', source_root: '.'})).toBe(imageSpecId({name: 'x', source_root: '.', source_copy_mode: 'LOADED_MODULES'}));
		const refusal = localBuildRefusal({name: 'x', source_root: '.'});
		expect(refusal?.message).toContain('cannot honour source_copy_mode (source_copy_mode=LOADED_MODULES copies . into the image)');
	});

	it('hashes requirements as its path and a nested base as its image name', () => {
		const withFile = imageSpecId({name: 'x', requirements: 'requirements.txt'});
		expect(withFile).not.toBe(imageSpecId({name: 'x', requirements: 'other.txt'}));
		const nested = {name: 'x', base_image: {name: 'base'}} as ImageSpec;
		expect(imageSpecId(nested, 'reg/base:abc')).toBe(imageSpecId({name: 'x', base_image: 'reg/base:abc'}));
	});
});

describe('planLocalBuild', () => {
	it("writes flytekit's recipe for python_exec: venv with system site packages, env, copy, commands, user, _F_IMG_ID", () => {
		const spec: ImageSpec = {
			name: 'trainer',
			python_version: '3.11',
			env: {MODE: 'prod', GREETING: 'say "hi"'},
			packages: ['pandas==2.2.2'],
			base_image: 'registry.example/base:1',
			pip_index: 'https://pypi.example/simple',
			pip_extra_index_url: ['https://extra.example/simple'],
			pip_extra_args: '--no-deps',
			entrypoint: ['python', '-m', 'trainer'],
			commands: ['echo one', 'echo two'],
			copy: ['conf', 'data/a.txt', 'b.txt'],
			python_exec: '/usr/bin/python3',
		};
		const plan = planLocalBuild(spec, {localFlytekit: '1.16.24'}, entry => entry === 'conf');
		const args = [
			'--index-url https://pypi.example/simple --extra-index-url https://extra.example/simple',
			'--no-deps --requirement /tmp/imagespec/requirements_uv.txt',
		].join(' ');
		const runtime = 'UV_PYTHON=/root/.venv/bin/python UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy FLYTE_SDK_RICH_TRACEBACKS=0 SSL_CERT_DIR=/etc/ssl/certs';
		const venv = 'uv venv --python /usr/bin/python3 --system-site-packages /root/.venv; else /usr/bin/python3 -m venv --system-site-packages /root/.venv; fi';
		const python = '"/root/.venv/bin/python"';
		const install = `uv pip install --python ${python} --no-cache ${args}; else ${python} -m pip install --no-cache-dir ${args}; fi`;
		expect(plan.dockerfile).toBe(
			[
				'FROM registry.example/base:1',
				'WORKDIR /',
				'USER root',
				'RUN id -u flytekit || useradd --create-home --shell /bin/bash flytekit',
				'RUN chown -R flytekit /root && chown -R flytekit /home',
				'COPY requirements_uv.txt /tmp/imagespec/requirements_uv.txt',
				`ENV PATH="/root/.venv/bin:$PATH" ${runtime} PYTHONPATH="/root" MODE="prod" GREETING="say \\"hi\\""`,
				`RUN if command -v uv >/dev/null 2>&1; then ${venv} && if command -v uv >/dev/null 2>&1; then ${install} && chown -R flytekit /root/.venv`,
				'ENV PATH="$PATH:/usr/local/nvidia/bin:/usr/local/cuda/bin" LD_LIBRARY_PATH="/usr/local/nvidia/lib64:$LD_LIBRARY_PATH"',
				'ENTRYPOINT ["python","-m","trainer"]',
				'COPY --chown=flytekit ["conf","/root/conf/"]',
				'COPY --chown=flytekit ["data/a.txt","/root/data/"]',
				'COPY --chown=flytekit ["b.txt","/root/"]',
				'RUN echo one && echo two',
				'WORKDIR /root',
				'SHELL ["/bin/bash", "-c"]',
				'USER flytekit',
				'RUN mkdir -p $HOME && echo "export PATH=$PATH" >> $HOME/.profile',
				`ENV _F_IMG_ID=${imageSpecId(spec)}`,
				'',
			].join('\n'),
		);
		expect(plan.requirements).toBe('pandas==2.2.2\nflytekit==1.16.24\n');
		expect(plan).toMatchObject({python: '/root/.venv/bin/python', expectPython: undefined, hostNetwork: false, copy: ['conf', 'data/a.txt', 'b.txt']});
	});

	it("without python_exec installs into the base image's Python and expects python_version there", () => {
		const plan = planLocalBuild({name: 'x', python_version: '3.11', apt_packages: ['git']});
		expect(plan.dockerfile.split('\n').slice(0, 4)).toEqual([
			'FROM python:3.11-slim',
			'WORKDIR /',
			'USER root',
			'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*',
		]);
		expect(plan.dockerfile).toContain(`if [ -z "$PY" ]; then echo "${NO_PYTHON_MARKER} (no python3 or python on its PATH)" >&2; exit 1; fi;`);
		expect(plan.dockerfile).toContain('"$PY" -m pip install --no-cache-dir --requirement /tmp/imagespec/requirements_uv.txt');
		expect(plan).toMatchObject({python: 'python3', expectPython: '3.11', requirements: 'flytekit\n'});
		expect(plan.dockerfile).not.toMatch(/^#\s*syntax|--mount|<</m);
	});

	it('builds FROM a nested base by its image name, and on the host network only for a loopback index', () => {
		const nested = {name: 'x', base_image: {name: 'base', registry: 'r.example/p'}} as ImageSpec;
		expect(planLocalBuild(nested, {baseImage: 'r.example/p/base:abc'}).dockerfile).toMatch(/^FROM r\.example\/p\/base:abc\n/);
		expect(planLocalBuild({name: 'x', pip_index: 'http://127.0.0.1:8080/simple'}).hostNetwork).toBe(true);
		expect(planLocalBuild({name: 'x', pip_extra_index_url: ['http://localhost:3141/root/pypi/+simple/']}).hostNetwork).toBe(true);
		expect(isLoopbackUrl('https://pypi.org/simple')).toBe(false);
	});

	it('refuses what flytekit refuses in copy, and env names docker cannot take', () => {
		expect(() => planLocalBuild({name: 'x', copy: ['/etc/passwd']})).toThrow(/absolute or contains "\.\."/);
		expect(() => planLocalBuild({name: 'x', copy: ['src/../../secret']})).toThrow(StepError);
		expect(() => planLocalBuild({name: 'x', env: {'BAD NAME': '1'}})).toThrow(/not a valid environment variable name/);
	});

	it('keeps a multi-line command whole', () => {
		expect(planLocalBuild({name: 'x', commands: ['echo one\necho two', 'true']}).dockerfile).toContain('RUN ["/bin/sh","-c","echo one\\necho two && true"]');
	});
});
