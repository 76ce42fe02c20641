import {cp, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type {ServiceContext} from './context.js';
import {dockerAuthDone, isGcloudHelperRegistered, readDockerConfig} from './docker-config.js';
import {StepError, isAbort} from './errors.js';
import {credentialHelperOnPath} from './credential-helper.js';
import {runTool, streamTool} from './exec.js';
import {fileError} from './file-safety.js';
import {GCLOUD_LOGIN, ROLES, START_DOCKER, configureDockerCommand} from './fixes.js';
import {openLogFile} from './log-folder.js';
import {executable} from './platform.js';
import {imageExists, registryHostOfImage} from './registry-manifest.js';
import {computeTag, effectivePlatform, imageUri, type ImageSpec} from './imagespec.js';
import {
	NO_PYTHON_MARKER,
	REQUIREMENTS_IN_CONTEXT,
	SDK_CHECK_MARKER,
	SDK_CHECK_SCRIPT,
	localBuildRefusal,
	planLocalBuild,
	type LocalBuildPlan,
	type PlanOptions,
} from './local-build.js';

export {NO_PYTHON_MARKER, REQUIREMENTS_IN_CONTEXT} from './local-build.js';

export type DockerInfo = {
	cliInstalled: boolean;
	cliVersion?: string;
	engineReachable: boolean;
	engineVersion?: string;
	/** The engine's architecture as Go names it (amd64, arm64): what a build runs on natively. */
	engineArch?: string;
	/** Why the engine (or CLI) could not be used, in docker's words. */
	error?: string;
};

type VersionJson = {Client?: {Version?: string} | null; Server?: {Version?: string; Arch?: string} | null};

/** How much slower an emulated linux/amd64 build is, said before anyone builds one. */
export const EMULATION_COST = 'built under emulation, often 5-20x slower';

/**
 * Does building platform run emulated? The engine's own architecture decides (a remote or
 * Docker Desktop engine), else this machine's; Node's x64 is Go's amd64.
 */
export const isEmulated = (platform: string, docker: Pick<DockerInfo, 'engineArch'>, hostArch: string): boolean => {
	const native = docker.engineArch ?? (hostArch === 'x64' ? 'amd64' : hostArch);
	return platform.split('/')[1] !== native;
};

/** One `docker version`: tells a missing CLI from a stopped engine. */
export const dockerInfo = async (ctx: ServiceContext): Promise<DockerInfo> => {
	let result;
	try {
		// A hung engine must not hang the checks.
		result = await runTool(ctx, executable(ctx.platform, 'docker'), ['version', '--format', '{{json .}}'], {timeout: 20_000});
	} catch (error) {
		if (error instanceof StepError && error.reason === 'TOOL_NOT_FOUND') {
			return {cliInstalled: false, engineReachable: false, error: error.message};
		}
		if (error instanceof StepError && error.reason === 'TIMEOUT') {
			return {cliInstalled: true, engineReachable: false, error: 'The Docker engine did not answer within 20 s.'};
		}
		throw error;
	}
	let parsed: VersionJson = {};
	try {
		// The engine-down case still prints the client half, with "Server": null.
		parsed = JSON.parse(result.stdout.trim().split('\n')[0] ?? '{}') as VersionJson;
	} catch {
		// Old clients print nothing useful when the engine is down; stderr says why.
	}
	const engineVersion = parsed.Server?.Version;
	const reachable = result.exitCode === 0 && Boolean(engineVersion);
	return {
		cliInstalled: true,
		cliVersion: parsed.Client?.Version,
		engineReachable: reachable,
		engineVersion: reachable ? engineVersion : undefined,
		engineArch: reachable ? parsed.Server?.Arch : undefined,
		error: reachable ? undefined : result.stderr.trim() || `docker version exited with ${result.exitCode}`,
	};
};

/** Whether this docker has the buildx plugin (BuildKit builds). */
export const hasBuildx = async (ctx: ServiceContext): Promise<boolean> => {
	try {
		return (await runTool(ctx, executable(ctx.platform, 'docker'), ['buildx', 'version'], {timeout: 10_000})).exitCode === 0;
	} catch (error) {
		if (isAbort(error)) throw error;
		return false;
	}
};

export {imageExists} from './registry-manifest.js';

/** A local build reads the whole spec: LOCAL_BUILD (local-build.ts) says what each field does. */
export type BuildSpec = ImageSpec;

/** The Dockerfile a local build of spec writes (local-build.ts plans it). */
export const renderDockerfile = (spec: ImageSpec, options?: PlanOptions): string => planLocalBuild(spec, options).dockerfile;

export type BuildEvent =
	/** base: a nested base ImageSpec is built first; check: the built image is run once to import flytekit. */
	| {type: 'phase'; phase: 'base' | 'build' | 'check' | 'push'}
	| {type: 'log'; line: string}
	| {type: 'step'; text: string; index?: number; total?: number}
	| {type: 'layer'; id: string; status: string; current?: number; total?: number};

export type BuildOptions = {
	imageRef: string;
	spec: BuildSpec;
	/** The project folder: spec.requirements is relative to it. */
	contextDir: string;
	/** Target platform; defaults to the one flytekit settles on for spec. */
	platform?: string;
	/** The full build and push output goes here (see openLogFile). */
	logFile: string;
	/** Masks secrets in what the log records. */
	redact?: (line: string) => string;
	/** The flytekit version importable here: flytekit pins the flytekit it appends to it. */
	localFlytekit?: string;
	/** Whether this docker has buildx, when asked earlier (a first run asks beside its checks); else asked before the build. */
	buildkit?: Promise<boolean>;
};

export type BuildResult = {imageRef: string; digest: string; size?: number};

const sizeUnits: Record<string, number> = {B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12};

const parseSize = (text: string): number | undefined => {
	const match = /^([\d.]+)\s*([kKMGT]?B)$/.exec(text.trim());
	if (!match) return undefined;
	return Math.round(Number(match[1]) * (sizeUnits[match[2] ?? 'B'] ?? 1));
};

/** Turns one build output line into a step event, for the classic builder and BuildKit's plain output. */
/**
 * Turns a build tool's output lines (flytekit's engine, flyte build: docker underneath) into
 * build events; `failingStep()` is the Dockerfile step that ran last, for a failure.
 */
export const buildOutputHandler = (onEvent: (event: BuildEvent) => void) => {
	let failingStep: string | undefined;
	return {
		onLine(line: string) {
			onEvent({type: 'log', line});
			const step = parseBuildLine(line);
			if (step) {
				failingStep = /^Step \d+\/\d+ : (.*)$/.exec(step.text)?.[1];
				onEvent(step);
			}
			const layer = parsePushLine(line);
			if (layer) onEvent(layer);
		},
		failingStep: () => failingStep,
	};
};

export const parseBuildLine = (line: string): Extract<BuildEvent, {type: 'step'}> | undefined => {
	const classic = /^Step (\d+)\/(\d+) : (.*)$/.exec(line);
	if (classic) return {type: 'step', text: line, index: Number(classic[1]), total: Number(classic[2])};
	const buildkit = /^#\d+ \[(?:[^\]\s]+ )?(\d+)\/(\d+)\] (.*)$/.exec(line);
	if (buildkit) return {type: 'step', text: `Step ${buildkit[1]}/${buildkit[2]} : ${buildkit[3]}`, index: Number(buildkit[1]), total: Number(buildkit[2])};
	return undefined;
};

/** Turns one `docker push` line into a layer event ("3d362a67dfbb: Pushing [==>  ] 1.2MB/3MB"). */
export const parsePushLine = (line: string): Extract<BuildEvent, {type: 'layer'}> | undefined => {
	const match = /^([0-9a-f]{12,64}): (.+?)\s*$/.exec(line);
	if (!match) return undefined;
	const id = match[1] ?? '';
	let status = match[2] ?? '';
	const progress = /^(\S+)\s+\[[=> ]*\]\s+([\d.]+\s*[kKMGT]?B)\/([\d.]+\s*[kKMGT]?B)/.exec(status);
	if (progress) {
		status = progress[1] ?? status;
		return {type: 'layer', id, status, current: parseSize(progress[2] ?? ''), total: parseSize(progress[3] ?? '')};
	}
	return {type: 'layer', id, status};
};

const digestLine = /^\S+: digest: (sha256:[0-9a-f]{64}) size: (\d+)/;

/**
 * Docker's failure text → what the user should do. Exported so each mapping can be tested
 * with the exact lines docker and GAR print.
 */
export const mapDockerFailure = (
	phase: 'build' | 'push',
	output: string,
	imageRef: string,
	context: {
		/** The Dockerfile instruction that was running ("FROM ..."). */
		failingStep?: string;
		/** Whether docker's config sends this host's credentials through gcloud. */
		gcloudHelper?: boolean;
		/** gcloud is the helper but docker-credential-gcloud is not on PATH. */
		helperMissing?: boolean;
	} = {},
): StepError => {
	const host = registryHostOfImage(imageRef);
	const last = output.trim().split('\n').filter(Boolean).slice(-3).join(' ').trim();
	const gar = host.endsWith('-docker.pkg.dev');
	if (/Cannot connect to the Docker daemon|error during connect|docker daemon is not running|connection refused.*docker\.sock/i.test(output)) {
		return new StepError('The Docker engine is not running.', {
			fix: `${START_DOCKER}, then retry.`,
			reason: 'DOCKER_DOWN',
		});
	}
	// A push without its helper only says "no basic auth credentials": docker goes on anonymously.
	const anonymous = /no basic auth credentials|authentication required|unauthorized/i.test(output);
	if (
		/docker-credential-gcloud.*(not found|executable file not found)|executable file not found.*docker-credential-gcloud/i.test(output) ||
		(context.helperMissing && anonymous)
	) {
		return new StepError('docker cannot find docker-credential-gcloud, the helper that hands it your gcloud login.', {
			fix: "Put the Google Cloud SDK's bin folder on PATH for docker (a Snap-installed docker cannot see it), then retry.",
			reason: 'CREDENTIAL_HELPER_MISSING',
		});
	}
	if (/no space left on device/i.test(output)) {
		return new StepError('The Docker engine ran out of disk space.', {
			fix: "Free space with `docker system prune` (or raise Docker Desktop's disk limit), then retry.",
			reason: 'NO_SPACE',
		});
	}
	if (phase === 'build') {
		// The marker as printed, not inside the RUN line the classic builder echoes (colour codes stripped).
		const said = output.split('\n').map(line => line.replace(/\u001B\[[\d;]*m/g, '').trim());
		if (said.some(line => line.startsWith(NO_PYTHON_MARKER))) {
			return new StepError('The base image has no Python, so the packages cannot be installed into it.', {
				fix: 'Use a base image with Python (e.g. --base-image ghcr.io/flyteorg/flytekit:py3.12-latest), or leave out the packages.',
				reason: 'NO_PYTHON_IN_BASE',
			});
		}
		if (/externally-managed-environment/.test(output)) {
			return new StepError("The base image's Python is externally managed (PEP 668): packages cannot be installed into it.", {
				fix: 'Set python_exec to that Python (e.g. python_exec="/usr/bin/python3"): the packages then go into a venv, as flytekit\'s builder does for such images.',
				reason: 'EXTERNALLY_MANAGED_PYTHON',
			});
		}
		const fromStep = /^FROM\b/i.test(context.failingStep ?? '');
		if (fromStep || /pull access denied|failed to resolve source metadata|manifest for \S+ not found/i.test(output)) {
			const base = /^FROM\s+(?:--platform=\S+\s+)?(\S+)/i.exec(context.failingStep ?? '')?.[1] ?? 'BASE_IMAGE';
			const baseHost = base === 'BASE_IMAGE' ? 'HOST' : registryHostOfImage(base);
			const login = baseHost.endsWith('-docker.pkg.dev') || baseHost.endsWith('gcr.io') ? configureDockerCommand(baseHost) : `docker login ${baseHost}`;
			return new StepError(`The base image could not be pulled: ${last}`, {
				fix: `Check the base_image name and tag, and that you can pull it (\`docker pull ${base}\`; \`${login}\` if it is private).`,
				reason: 'BASE_IMAGE_UNAVAILABLE',
			});
		}
		return new StepError(`docker build failed: ${last}`, {fix: 'Read the build log for the failing step, fix the spec, then retry.', reason: 'BUILD_FAILED'});
	}
	if (/Unauthenticated request|no basic auth credentials|authentication required|unauthorized|active account/i.test(output)) {
		return new StepError(`${host} did not accept your credentials: ${last}`, {
			fix:
				gar || host.endsWith('gcr.io') || context.gcloudHelper
					? `Run \`${configureDockerCommand(host)}\` and \`${GCLOUD_LOGIN}\`, then retry.`
					: `Log in to ${host} (\`docker login ${host}\`), then retry.`,
			reason: 'PUSH_UNAUTHENTICATED',
		});
	}
	if (/uploadArtifacts|denied: Permission/i.test(output)) {
		return new StepError(`Artifact Registry refused the push to ${host}: ${last}`, {
			fix:
				`Your account needs ${ROLES.writer} on the repository, and the repository must exist at ${host}; ` +
				`if you ran configure-docker for another region's host, run \`${configureDockerCommand(host)}\`.`,
			reason: 'PUSH_DENIED',
		});
	}
	if (/name unknown|repository .* not found/i.test(output)) {
		return new StepError(`The repository for ${imageRef} does not exist: ${last}`, {
			fix: 'Create the Artifact Registry repository first (this wizard can), then retry.',
			reason: 'REPOSITORY_MISSING',
		});
	}
	return new StepError(`docker push failed: ${last}`, {fix: 'Read the push log, then retry.', reason: 'PUSH_FAILED'});
};

type OnEvent = (event: BuildEvent) => void;

type Recorder = {record: (line: string) => void; emit: (line: string) => void};

/** One line for the check's failure: the last thing the image's Python said. */
const lastLine = (text: string): string => text.trim().split('\n').filter(Boolean).at(-1)?.trim() ?? '';

/**
 * Runs the built image once, the way a task starts (its default user, its PATH), and imports
 * flytekit: an image that cannot must not be pushed. Proves python_version too where the local
 * build used the base image's Python in place of flytekit's micromamba one.
 */
const checkCanRunTasks = async (ctx: ServiceContext, imageRef: string, platform: string, plan: LocalBuildPlan, out: Recorder): Promise<void> => {
	const args = ['run', '--rm', '--network', 'none', '--platform', platform, '--entrypoint', plan.python, imageRef, '-c', SDK_CHECK_SCRIPT];
	out.record(`$ docker ${args.slice(0, -1).join(' ')} '<import flytekit>'`);
	const result = await runTool(ctx, executable(ctx.platform, 'docker'), args, {timeout: 300_000});
	for (const line of `${result.stdout}\n${result.stderr}`.trim().split('\n')) if (line) out.emit(line);
	const said = result.stdout.split('\n').find(line => line.startsWith(SDK_CHECK_MARKER));
	if (result.exitCode !== 0 || !said) {
		const why = lastLine(result.stderr) || lastLine(result.stdout) || `exit ${result.exitCode}`;
		throw new StepError(`The built image cannot run a Flyte task: ${plan.python} -c "import flytekit" failed (${why}); nothing was pushed.`, {
			fix:
				"Make flytekit importable by the image's Python (list flytekit or union in packages; check pip_index, pip_extra_args, " +
				'python_exec and the base image); ' +
				`inspect it with \`docker run --rm -it --entrypoint sh ${imageRef}\`.`,
			reason: 'SDK_NOT_IMPORTABLE',
		});
	}
	const found = JSON.parse(said.slice(SDK_CHECK_MARKER.length)) as {python: string; flytekit: string};
	if (plan.expectPython && found.python !== plan.expectPython) {
		throw new StepError(`The built image runs Python ${found.python}, but the spec's python_version is ${plan.expectPython}; nothing was pushed.`, {
			fix: `Use a base image with Python ${plan.expectPython} (flytekit's builder would install it with micromamba), or set python_version="${found.python}".`,
			reason: 'PYTHON_VERSION_MISMATCH',
		});
	}
	out.record(`# the image imports flytekit ${found.flytekit || '(no version)'} on Python ${found.python}`);
};

/** Writes the build context: Dockerfile, requirements_uv.txt, and the copy entries at their relative paths. */
const writeContext = async (options: BuildOptions, buildDir: string, planOptions: PlanOptions): Promise<LocalBuildPlan> => {
	const {spec, contextDir} = options;
	let requirementsText: string | undefined;
	if (spec.requirements) {
		const source = path.resolve(contextDir, spec.requirements);
		requirementsText = await readFile(source, 'utf8').catch((error: unknown) => {
			throw new StepError(`Cannot read the requirements file ${source}.`, {
				fix: 'Create it, or fix the requirements path in the spec.',
				reason: 'REQUIREMENTS_MISSING',
				cause: error,
			});
		});
	}
	const kinds = new Map<string, boolean>();
	for (const entry of spec.copy ?? []) {
		const info = await stat(path.resolve(contextDir, entry)).catch(() => undefined);
		if (!info) {
			throw new StepError(`copy: ${path.resolve(contextDir, entry)} does not exist.`, {
				fix: 'Create it, or fix the copy entry (relative to the project folder).',
				reason: 'COPY_MISSING',
			});
		}
		kinds.set(entry.replaceAll('\\', '/').replace(/\/$/, ''), info.isDirectory());
	}
	const plan = planLocalBuild(spec, {...planOptions, requirementsText}, entry => kinds.get(entry) ?? false);
	await writeFile(path.join(buildDir, 'Dockerfile'), plan.dockerfile);
	await writeFile(path.join(buildDir, REQUIREMENTS_IN_CONTEXT), plan.requirements);
	for (const entry of plan.copy) await cp(path.resolve(contextDir, entry), path.join(buildDir, entry), {recursive: true});
	return plan;
};

/**
 * A nested base ImageSpec: its image name, built (and pushed, when it has a registry) first
 * when its registry does not have it, as flytekit's ImageBuildEngine does.
 */
const resolveBase = async (ctx: ServiceContext, options: BuildOptions, onEvent: OnEvent, out: Recorder): Promise<string | undefined> => {
	const base = options.spec.base_image;
	if (typeof base !== 'object') return undefined;
	const baseRef = imageUri(base, await computeTag(base, {baseDir: options.contextDir, arch: ctx.platform.arch}));
	if (base.registry && (await imageExists(ctx, baseRef)).state === 'present') {
		out.record(`# base ImageSpec ${baseRef} is in its registry`);
		return baseRef;
	}
	onEvent({type: 'phase', phase: 'base'});
	out.record(`# building the base ImageSpec first: ${baseRef}`);
	// The base on its own platform, as flytekit builds it.
	await buildCheckPush(ctx, {...options, imageRef: baseRef, spec: base, platform: undefined}, onEvent, out, Boolean(base.registry));
	return baseRef;
};

/** Build, check, and (unless push is false: a base without a registry) push; the nested base first. */
const buildCheckPush = async (ctx: ServiceContext, options: BuildOptions, onEvent: OnEvent, out: Recorder, push = true): Promise<BuildResult> => {
	const {imageRef, spec} = options;
	const platform = options.platform ?? effectivePlatform(spec, ctx.platform.arch);
	// Before anything runs: a field this build cannot honour would give an image unlike its tag.
	const refusal = localBuildRefusal(spec);
	if (refusal) throw refusal;
	const baseImage = await resolveBase(ctx, options, onEvent, out);
	const buildDir = await mkdtemp(path.join(os.tmpdir(), 'imagespec-gar-build-')).catch((error: unknown) => {
		throw fileError(error, 'create a build folder in', os.tmpdir());
	});
	try {
		const plan = await writeContext(options, buildDir, {baseImage, localFlytekit: options.localFlytekit, arch: ctx.platform.arch}).catch((error: unknown) => {
			throw fileError(error, 'write the build context in', buildDir);
		});
		const docker = executable(ctx.platform, 'docker');
		// BuildKit when this docker has buildx; else the classic builder, said explicitly (a docker
		// 23+ CLI without buildx otherwise prints a deprecation notice first).
		const buildkit = await (options.buildkit ?? hasBuildx(ctx));
		const env = {BUILDKIT_PROGRESS: 'plain', DOCKER_BUILDKIT: buildkit ? '1' : '0'};

		// A base image pulled from the host being configured waits for its credentials; any other build starts at once.
		await dockerAuthDone(ctx, registryHostOfImage(plan.from));
		onEvent({type: 'phase', phase: 'build'});
		let currentStep: string | undefined;
		// --force-rm: a failed or cancelled step leaves no stopped container behind. The host
		// network only for an index on this machine's loopback (the build could not reach it).
		const buildArgs = ['build', '--force-rm', ...(plan.hostNetwork ? ['--network', 'host'] : []), '--platform', platform, '-t', imageRef, buildDir];
		out.record(`$ DOCKER_BUILDKIT=${env.DOCKER_BUILDKIT} docker ${buildArgs.join(' ')}`);
		for (const line of plan.dockerfile.trimEnd().split('\n')) out.record(`# ${line}`);
		for (const line of plan.requirements.trimEnd().split('\n')) out.record(`# ${REQUIREMENTS_IN_CONTEXT}: ${line}`);
		const build = await streamTool(
			ctx,
			docker,
			buildArgs,
			line => {
				out.emit(line);
				const step = parseBuildLine(line);
				if (step) {
					currentStep = /^Step \d+\/\d+ : (.*)$/.exec(step.text)?.[1];
					onEvent(step);
				}
			},
			{env},
		);
		if (build.exitCode !== 0) throw mapDockerFailure('build', build.tail.join('\n'), imageRef, {failingStep: currentStep});

		onEvent({type: 'phase', phase: 'check'});
		await checkCanRunTasks(ctx, imageRef, platform, plan, out);
		if (!push) return {imageRef, digest: ''};

		await dockerAuthDone(ctx, registryHostOfImage(imageRef));
		onEvent({type: 'phase', phase: 'push'});
		out.record(`$ docker push ${imageRef}`);
		let digest: string | undefined;
		let size: number | undefined;
		const pushed = await streamTool(ctx, docker, ['push', imageRef], line => {
			out.emit(line);
			const done = digestLine.exec(line);
			if (done) {
				digest = done[1];
				size = Number(done[2]);
				return;
			}
			const layer = parsePushLine(line);
			if (layer) onEvent(layer);
		});
		if (pushed.exitCode !== 0) {
			const config = await readDockerConfig(ctx.platform).catch(() => undefined);
			const gcloudHelper = isGcloudHelperRegistered(config, registryHostOfImage(imageRef));
			const helperMissing = gcloudHelper && !(await credentialHelperOnPath(ctx.platform));
			throw mapDockerFailure('push', pushed.tail.join('\n'), imageRef, {gcloudHelper, helperMissing});
		}
		if (!digest) {
			throw new StepError(`docker push ${imageRef} finished without printing a digest.`, {fix: `Check the log at ${options.logFile}.`, reason: 'NO_DIGEST'});
		}
		return {imageRef, digest, size};
	} finally {
		await rm(buildDir, {recursive: true, force: true});
	}
};

/**
 * Builds spec into imageRef in a scratch build context, runs it once to prove a Flyte task can
 * start in it (flytekit imports), and only then pushes, streaming events. A field the local
 * build cannot honour stops it before docker runs. Abort kills the docker child and throws
 * CancelledError.
 */
export const buildAndPush = async (ctx: ServiceContext, options: BuildOptions, onEvent: (event: BuildEvent) => void): Promise<BuildResult> => {
	const log = await openLogFile(options.logFile, options.redact);
	const record = (line: string) => {
		log.write(line);
	};
	const out: Recorder = {
		record,
		emit(line) {
			record(line);
			onEvent({type: 'log', line});
		},
	};
	try {
		return await buildCheckPush(ctx, options, onEvent, out);
	} catch (error) {
		if (!isAbort(error)) record(`! ${(error as Error).message}`);
		throw error;
	} finally {
		await log.close();
	}
};
