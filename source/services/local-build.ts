import {createHash} from 'node:crypto';
import path from 'node:path';
import {StepError} from './errors.js';
import {effectiveCopyMode, FLYTEKIT_FIELD_ORDER, hashedEntries, postInitValues, pyRepr, type ImageSpec, type SpecField} from './imagespec.js';

/**
 * How imagespec-gar's local docker build treats each ImageSpec field, measured against flytekit's
 * default builder (flytekit/image_spec/default_builder.py, v1.16). The README's field table
 * mirrors this one.
 * - built: the image gets what flytekit's builder gives it for this field.
 * - checked: not installed but proven on the built image (see `how`).
 * - tag: only names or tags the image.
 * - ignored: flytekit's default builder ignores it too.
 * - refused: the local build stops before docker runs, naming the field and the fix.
 */
export type LocalSupport = 'built' | 'checked' | 'tag' | 'ignored' | 'refused';

type FieldRule = {
	support: LocalSupport;
	how: string;
	/** For fields refused only for some values: why this spec's value cannot be built here, or undefined. */
	refuses?: (spec: ImageSpec) => string | undefined;
};

/** Builds the field can take elsewhere: Union's builder, or flytekit's own engine driven by this tool. */
const ELSEWHERE_FIX =
	'Set builder="union" (or pass --builder union) so Union builds it at registration, or build with flytekit\'s own engine: ' +
	'run imagespec-gar interactively where a Python imports flytekit and choose "flytekit\'s ImageBuildEngine".';

// flytekit's __post_init__ turns a bare source_root into LOADED_MODULES.
const copiesSource = (spec: ImageSpec): boolean => ['LOADED_MODULES', 'ALL'].includes(effectiveCopyMode(spec) ?? 'NO_COPY');

const lockFile = (spec: ImageSpec): string | undefined => {
	const base = spec.requirements ? path.posix.basename(spec.requirements.replaceAll('\\', '/')) : undefined;
	return base === 'uv.lock' || base === 'poetry.lock' ? base : undefined;
};

/** A refusal for any value but an empty one (None, [], {}): flytekit's builders test truthiness. */
const whenSet =
	(field: SpecField, why: string) =>
	(spec: ImageSpec): string | undefined => {
		const value = spec[field];
		const empty = value === undefined || value === null || (typeof value === 'object' && Object.keys(value).length === 0);
		return empty ? undefined : why;
	};

export const LOCAL_BUILD: Record<SpecField, FieldRule> = {
	name: {support: 'tag', how: 'the image name'},
	python_version: {
		support: 'checked',
		how:
			"flytekit installs this Python with micromamba; the local build uses the base image's Python and, without python_exec, " +
			'refuses to push when its version differs',
	},
	builder: {support: 'ignored', how: 'chooses the builder; the local build is the docker build'},
	source_root: {
		support: 'refused',
		how: 'refused with source_copy_mode LOADED_MODULES or ALL (the refusal names source_copy_mode); unused otherwise',
	},
	env: {support: 'built', how: 'ENV after PYTHONPATH=/root, as flytekit writes it'},
	registry: {support: 'tag', how: 'where the image is pushed'},
	packages: {support: 'built', how: "installed with the requirements file's lines; flytekit is appended when none of them is flytekit"},
	conda_packages: {support: 'refused', how: 'needs micromamba and conda-forge', refuses: whenSet('conda_packages', 'conda packages need micromamba')},
	conda_channels: {support: 'refused', how: 'needs micromamba and conda-forge', refuses: whenSet('conda_channels', 'conda channels need micromamba')},
	requirements: {
		support: 'built',
		how: "a requirements file's lines are installed like flytekit's requirements_uv.txt; uv.lock and poetry.lock are refused (uv sync / poetry install)",
		refuses: spec => {
			const lock = lockFile(spec);
			return lock ? `${lock} needs ${lock === 'uv.lock' ? 'uv sync' : 'poetry install'} with its pyproject.toml` : undefined;
		},
	},
	apt_packages: {support: 'built', how: 'apt-get install --no-install-recommends, first, as flytekit does'},
	cuda: {
		support: 'refused',
		how: "flytekit's default builder refuses it too",
		refuses: whenSet('cuda', "flytekit's own builder refuses cuda as well"),
	},
	cudnn: {
		support: 'refused',
		how: "flytekit's default builder refuses it too",
		refuses: whenSet('cudnn', "flytekit's own builder refuses cudnn as well"),
	},
	base_image: {support: 'built', how: 'FROM; a nested ImageSpec is built and pushed first when its registry lacks it, as flytekit does'},
	platform: {
		support: 'built',
		how: 'docker build --platform, and the check runs the image on it; a list of platforms is refused (one platform per local build)',
		refuses: spec => (spec.platform?.includes(',') ? `the classic docker builder builds one platform, not ${spec.platform}` : undefined),
	},
	pip_index: {support: 'built', how: "--index-url; an index on this machine's loopback is reached with the host network"},
	pip_extra_index_url: {support: 'built', how: '--extra-index-url, one per URL'},
	pip_secret_mounts: {
		support: 'refused',
		how: 'needs BuildKit secret mounts',
		refuses: whenSet('pip_secret_mounts', 'secret mounts need BuildKit'),
	},
	pip_extra_args: {support: 'built', how: 'passed as written to the installer (uv when the image has it, else pip)'},
	registry_config: {support: 'ignored', how: "flytekit's default builder ignores it too"},
	entrypoint: {support: 'built', how: 'ENTRYPOINT in JSON form'},
	commands: {support: 'built', how: 'one RUN joined with &&, after the packages and copies, as root'},
	tag_format: {support: 'tag', how: 'the tag'},
	source_copy_mode: {
		support: 'refused',
		how: 'refused when it copies the source (LOADED_MODULES or ALL: which files ship depends on what union register loads); NO_COPY builds',
		refuses: spec => (copiesSource(spec) ? `source_copy_mode=${effectiveCopyMode(spec)} copies ${spec.source_root ?? 'the source'} into the image` : undefined),
	},
	copy: {support: 'built', how: 'COPY --chown=flytekit into /root, folders as folders; absolute paths and ".." refused as flytekit does'},
	python_exec: {support: 'built', how: 'a venv at /root/.venv from that Python with system site packages; packages go there'},
	runtime_packages: {support: 'ignored', how: "installed when the task starts, not at build (flytekit's builder ignores it too)"},
	builder_options: {support: 'ignored', how: "flytekit's default builder ignores it too"},
	builder_config: {
		support: 'refused',
		how: "picks flytekit's uv and micromamba images, which the local build does not use",
		refuses: whenSet('builder_config', "it picks the uv and micromamba images of flytekit's builder"),
	},
};

/** The first field this spec sets that the local build cannot honour, as a StepError; undefined when it can build. */
export const localBuildRefusal = (spec: ImageSpec): StepError | undefined => {
	for (const field of FLYTEKIT_FIELD_ORDER) {
		const why = LOCAL_BUILD[field].refuses?.(spec);
		if (why === undefined) continue;
		const cudaFix = 'Remove it and use a base_image with CUDA installed (flytekit\'s default builder refuses it too), or set builder="union".';
		return new StepError(`The local docker build cannot honour ${field} (${why}); nothing was built.`, {
			fix: field === 'cuda' || field === 'cudnn' ? cudaFix : ELSEWHERE_FIX,
			reason: 'FIELD_NOT_BUILT_LOCALLY',
		});
	}
	return undefined;
};

// flytekit's _PACKAGE_NAME_RE and _is_flytekit: the leading [\w-]+ must be exactly "flytekit".
const isFlytekit = (requirement: string): boolean => /^[\w-]+/.exec(requirement)?.[0] === 'flytekit';

/** flytekit's get_flytekit_for_pypi: pinned to the flytekit doing the build, bare for none or a dev version. */
export const flytekitRequirement = (localVersion?: string): string =>
	!localVersion || localVersion.includes('dev') ? 'flytekit' : `flytekit==${localVersion}`;

/**
 * flytekit's requirements_uv.txt: the requirements file's lines (stripped), then packages, then
 * flytekit when none of them is flytekit. Lock files never get here (refused).
 */
export const requirementLines = (spec: ImageSpec, fileContent: string | undefined, localFlytekit?: string): string[] => {
	// Python's readlines(): an empty file has no lines.
	const lines = fileContent ? fileContent.split(/(?<=\n)/).map(line => line.trim()) : [];
	lines.push(...(spec.packages ?? []));
	if (!lines.some(isFlytekit)) lines.push(flytekitRequirement(localFlytekit));
	return lines;
};

/**
 * flytekit's ImageSpec.id (the _F_IMG_ID the image carries; flytekit's is_container() compares
 * it): like the tag's hash but over the fields as written (requirements as its path, copy as its
 * list), with '-' kept. A nested base counts as its image name.
 */
export const imageSpecId = (spec: ImageSpec, baseImage?: string, arch: string = process.arch): string => {
	const values = {...postInitValues(spec, arch), base_image: typeof spec.base_image === 'object' ? baseImage : spec.base_image};
	return createHash('md5')
		.update(pyRepr(new Map(hashedEntries(values))), 'utf8')
		.digest('base64url');
};

/** Where the build context keeps the generated requirements (flytekit's name for it). */
export const REQUIREMENTS_IN_CONTEXT = 'requirements_uv.txt';
/** The venv flytekit makes from python_exec, and its interpreter: what runs the task. */
const VENV = '/root/.venv';

/** Printed by the install step when the base image has no Python (mapDockerFailure knows it). */
export const NO_PYTHON_MARKER = 'imagespec-gar: the base image has no Python';

// Quoted Dockerfile values: backslash and quote escaped; `$` stays live, as in flytekit's unquoted ENV.
const dockerfileQuote = (value: string): string => `"${value.replace(/[\\"]/g, c => `\\${c}`)}"`;

const shellQuote = (value: string): string => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`);

/** Whether a URL's host is this machine's loopback: a build container reaches it only with the host network. */
export const isLoopbackUrl = (url: string): boolean => {
	try {
		return /^(localhost|127(\.\d+){3}|\[::1\])$/.test(new URL(url).hostname);
	} catch {
		return false;
	}
};

export type LocalBuildPlan = {
	dockerfile: string;
	/** The image the Dockerfile starts FROM. */
	from: string;
	/** requirements_uv.txt's content. */
	requirements: string;
	/** copy entries to place in the build context at the same relative path. */
	copy: string[];
	/** The interpreter that runs tasks in the image, for the check (found on the image's PATH when bare). */
	python: string;
	/** The python_version the image's Python must have (base-Python builds only). */
	expectPython?: string;
	/** An index on loopback: build with --network host. */
	hostNetwork: boolean;
};

export type PlanOptions = {
	/** requirements file content, when spec.requirements is set. */
	requirementsText?: string;
	/** The version of the flytekit doing the build here, if any (flytekit pins to it). */
	localFlytekit?: string;
	/** A nested base ImageSpec's image name. */
	baseImage?: string;
	/** This machine's architecture (process.arch naming): flytekit's default platform depends on it. */
	arch?: string;
};

const defaultBase = (spec: ImageSpec): string => `python:${spec.python_version ?? '3.12'}-slim`;

/** Refuses copy entries flytekit refuses (absolute, ".."). */
const copyEntries = (spec: ImageSpec): string[] =>
	(spec.copy ?? []).map(entry => {
		const posix = entry.replaceAll('\\', '/');
		if (path.posix.isAbsolute(posix) || /^[A-Za-z]:\//.test(posix) || posix.split('/').includes('..')) {
			throw new StepError(`copy: "${entry}" is absolute or contains "..", which flytekit refuses in COPY.`, {
				fix: 'Give copy entries relative to the project folder, inside it.',
				reason: 'BAD_SPEC',
			});
		}
		return path.posix.normalize(posix).replace(/\/$/, '');
	});

/**
 * The Dockerfile flytekit's default builder would write, in its order, for the fields the local
 * build honours (LOCAL_BUILD), in a form the classic builder accepts as well as BuildKit: no
 * --mount, no heredocs. Python: with python_exec, flytekit's venv at /root/.venv; without it the
 * base image's own Python (flytekit would install python_version with micromamba).
 * `isDir` tells folders from files among copy entries.
 */
export const planLocalBuild = (spec: ImageSpec, options: PlanOptions = {}, isDir: (entry: string) => boolean = () => false): LocalBuildPlan => {
	const refusal = localBuildRefusal(spec);
	if (refusal) throw refusal;
	const env = Object.entries({PYTHONPATH: '/root', ...spec.env});
	for (const [key] of env) {
		if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new StepError(`"${key}" is not a valid environment variable name.`, {reason: 'BAD_SPEC'});
	}
	const from = (typeof spec.base_image === 'object' ? options.baseImage : spec.base_image) ?? defaultBase(spec);
	const lines = [`FROM ${from}`, 'WORKDIR /', 'USER root'];
	const apt = spec.apt_packages ?? [];
	if (apt.length > 0) {
		const install = `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${apt.map(shellQuote).join(' ')}`;
		lines.push(`RUN apt-get update && ${install} && rm -rf /var/lib/apt/lists/*`);
	}
	lines.push('RUN id -u flytekit || useradd --create-home --shell /bin/bash flytekit', 'RUN chown -R flytekit /root && chown -R flytekit /home');

	const args: string[] = [];
	if (spec.pip_index) args.push('--index-url', shellQuote(spec.pip_index));
	for (const url of spec.pip_extra_index_url ?? []) args.push('--extra-index-url', shellQuote(url));
	// As written: flytekit pastes it into the command line.
	if (spec.pip_extra_args) args.push(spec.pip_extra_args);
	args.push('--requirement', `/tmp/imagespec/${REQUIREMENTS_IN_CONTEXT}`);
	const install = (python: string) =>
		`if command -v uv >/dev/null 2>&1; then uv pip install --python "${python}" --no-cache ${args.join(' ')}; ` +
		`else "${python}" -m pip install --no-cache-dir ${args.join(' ')}; fi`;

	const userEnv = env.map(([key, value]) => `${key}=${dockerfileQuote(value.replace(/\r?\n/g, ' '))}`).join(' ');
	const runtimeEnv = 'UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy FLYTE_SDK_RICH_TRACEBACKS=0 SSL_CERT_DIR=/etc/ssl/certs';
	lines.push(`COPY ${REQUIREMENTS_IN_CONTEXT} /tmp/imagespec/${REQUIREMENTS_IN_CONTEXT}`);
	let python: string;
	if (spec.python_exec) {
		python = `${VENV}/bin/python`;
		const exec = shellQuote(spec.python_exec);
		lines.push(`ENV PATH="${VENV}/bin:$PATH" UV_PYTHON=${python} ${runtimeEnv} ${userEnv}`);
		lines.push(
			`RUN if command -v uv >/dev/null 2>&1; then uv venv --python ${exec} --system-site-packages ${VENV}; ` +
				`else ${exec} -m venv --system-site-packages ${VENV}; fi && ${install(python)} && chown -R flytekit ${VENV}`,
		);
	} else {
		python = 'python3';
		lines.push(`ENV ${runtimeEnv} ${userEnv}`);
		lines.push(
			'RUN PY="$(command -v python3 || command -v python)"; ' +
				`if [ -z "$PY" ]; then echo "${NO_PYTHON_MARKER} (no python3 or python on its PATH)" >&2; exit 1; fi; ${install('$PY')}`,
		);
	}
	lines.push('ENV PATH="$PATH:/usr/local/nvidia/bin:/usr/local/cuda/bin" LD_LIBRARY_PATH="/usr/local/nvidia/lib64:$LD_LIBRARY_PATH"');
	if (spec.entrypoint) lines.push(`ENTRYPOINT ${JSON.stringify(spec.entrypoint)}`);
	const copy = copyEntries(spec);
	for (const entry of copy) {
		const target = isDir(entry) ? `/root/${entry}/` : `/root/${path.posix.dirname(entry) === '.' ? '' : `${path.posix.dirname(entry)}/`}`;
		lines.push(`COPY --chown=flytekit ${JSON.stringify([entry, target])}`);
	}
	const commands = (spec.commands ?? []).join(' && ');
	// A multi-line command would break the Dockerfile; exec form keeps it whole.
	if (commands) lines.push(/[\r\n]/.test(commands) ? `RUN ${JSON.stringify(['/bin/sh', '-c', commands])}` : `RUN ${commands}`);
	lines.push('WORKDIR /root', 'SHELL ["/bin/bash", "-c"]', 'USER flytekit', 'RUN mkdir -p $HOME && echo "export PATH=$PATH" >> $HOME/.profile');
	// Last, as flytekit does: the id changes with every spec and would void the layer cache.
	lines.push(`ENV _F_IMG_ID=${imageSpecId(spec, options.baseImage, options.arch)}`);
	return {
		dockerfile: `${lines.join('\n')}\n`,
		from,
		requirements: `${requirementLines(spec, options.requirementsText, options.localFlytekit).join('\n')}\n`,
		copy,
		python,
		expectPython: spec.python_exec ? undefined : spec.python_version,
		hostNetwork: [spec.pip_index, ...(spec.pip_extra_index_url ?? [])].some(url => url !== undefined && isLoopbackUrl(url)),
	};
};

/** The check's marker line: what the image's Python says about itself once flytekit imported. */
export const SDK_CHECK_MARKER = 'IMAGESPEC_GAR_SDK ';

/** Run by the image's task Python: imports flytekit as a task would, prints its version and the Python's. */
export const SDK_CHECK_SCRIPT = [
	'import json, sys',
	'import flytekit',
	`print(${JSON.stringify(SDK_CHECK_MARKER)} + json.dumps({"python": "%d.%d" % sys.version_info[:2], "flytekit": getattr(flytekit, "__version__", "")}))`,
].join('\n');
