import type {Choice} from '../flow/ask.js';
import {EMULATION_COST, buildAndPush, dockerInfo, imageExists, isEmulated, type BuildEvent, type BuildOptions, type DockerInfo} from '../services/docker.js';
import type {RepositoryRef} from '../services/artifact-registry.js';
import {registryHandle, type RegistryHandle} from '../services/registry-handle.js';
import {CancelledError, StepError, isAbort} from '../services/errors.js';
import {START_DOCKER} from '../services/fixes.js';
import {buildWithFlytekit} from '../services/flytekit-build.js';
import {buildLogPath} from '../services/log-folder.js';
import {findSecrets, redactor} from '../services/secrets.js';
import {DEFAULT_PLATFORM, effectivePlatform, parseGarRegistry, type ImageSpec} from '../services/imagespec.js';
import {detectPython, type PythonInfo} from '../services/python.js';
import {answer, lastImage} from '../flow/answers.js';
import type {StepContext} from './context.js';
import type {AuthoredSpec} from './imagespec.js';

export type Builder = 'local' | 'union';
export type BuildEngine = 'docker' | 'flytekit';

export type BuildOutcome = {pushed: boolean; digest?: string; skipped?: string; logFile?: string; engine?: BuildEngine};

/** BuildOutcome.skipped when the repository already has the tag (not built, and nothing to build). */
export const ALREADY_THERE = 'already in the repository';

/** Where the tag was looked for, and what was found there. */
export type Presence = {
	state: 'present' | 'absent' | 'unknown';
	digest?: string;
	/** Every tag on that digest (Artifact Registry's answer). */
	tags?: string[];
	via?: 'artifact-registry' | 'registry';
	detail?: string;
};

// ---------------------------------------------------------------------------------------------
// Which builder

/**
 * Build here with docker, or let Union build at registration (builder="union", written into the
 * spec). Asked when interactive and --builder was not given; Union comes first (and is the
 * default) where a local build is slow or impossible: arm64 hosts, no usable docker.
 */
export async function chooseBuilder(c: StepContext, options: {docker?: DockerInfo} = {}): Promise<Builder> {
	const given = c.flags.builder;
	if (given === 'local' || given === 'union') return given;
	const saved = lastImage(c)?.builder;
	const previous: Builder | undefined = saved === 'union' || saved === 'local' ? saved : undefined;
	if (!c.ask.interactive || !c.flags.build) return previous ?? 'local';

	const docker = options.docker ?? (await dockerInfo(c.ctx));
	const target = c.flags.platform ?? DEFAULT_PLATFORM;
	const emulated = isEmulated(target, docker, c.ctx.platform.arch);
	const local: Choice = {
		label: 'Build here with Docker, then push',
		value: 'local',
		hint: !docker.cliInstalled
			? 'docker is not installed'
			: !docker.engineReachable
				? 'the Docker engine is not running: start it first'
				: emulated
					? `${target} is ${EMULATION_COST} on this ${docker.engineArch ?? c.ctx.platform.arch} engine`
					: 'a few minutes; you see every step',
		disabled: !docker.cliInstalled,
	};
	const union: Choice = {
		label: 'Let Union build it when you register (builder="union")',
		value: 'union',
		hint: 'nothing to build here; the image appears at union register',
	};
	const preferUnion = emulated || !docker.engineReachable;
	const answer = await c.ask.select({
		flag: 'builder',
		message: 'How should the image be built?',
		choices: preferUnion ? [union, local] : [local, union],
		default: previous ?? (preferUnion ? 'union' : 'local'),
	});
	if (answer === 'union') return 'union';
	// Docker may have been started while the question was up; if not, say so before authoring.
	if (!docker.engineReachable && !(await dockerInfo(c.ctx)).engineReachable) {
		throw new StepError('A local build needs the Docker engine, and it is not running.', {
			fix: `${START_DOCKER} and run imagespec-gar again, or choose to let Union build it (--builder union).`,
			reason: 'DOCKER_DOWN',
		});
	}

	return 'local';
}

/** Whether the checks step must require docker: only when a local build is already certain. */
export const localBuildCertain = (c: Pick<StepContext, 'flags' | 'ask' | 'saved'>): boolean => {
	if (!c.flags.build) return false;
	if (c.flags.builder !== undefined) return c.flags.builder === 'local';
	// A person is asked later (and offered Union when docker is missing); a script builds locally.
	return !c.ask.interactive && lastImage(c)?.builder !== 'union';
};

// ---------------------------------------------------------------------------------------------
// Is it there?

/** What the lookup needs of an image, whichever SDK declared it. */
export type RepositoryImage = Pick<AuthoredSpec, 'tag' | 'uri'> & {spec: Pick<ImageSpec, 'name' | 'registry'>};

/** project / location / repository of the spec's registry (GAR host, or a private host with the saved location). */
const whereOf = (c: StepContext, authored: RepositoryImage, given?: RepositoryRef): RepositoryRef | undefined => {
	if (given) return given;
	const registry = authored.spec.registry ?? '';
	const gar = parseGarRegistry(registry);
	if (gar) return {project: gar.project, location: gar.location, repository: gar.repository};
	const location = answer(c, 'location');
	const [, project, repository] = registry.split('/');
	return location && project && repository ? {project, location, repository} : undefined;
};

/**
 * Whether the repository has the image's tag. Artifact Registry's own listing first (what the
 * cluster pulls from), through `registry` (the journey's client) or a client opened for this;
 * the registry's manifest endpoint (through docker's credentials) when the API cannot answer.
 * 'unknown' is never taken for 'absent'.
 */
export async function findInRepository(
	c: Pick<StepContext, 'ctx' | 'flags' | 'saved'>,
	authored: RepositoryImage,
	given?: RepositoryRef,
	registry?: RegistryHandle,
): Promise<Presence> {
	const where = whereOf(c as StepContext, authored, given);
	let apiProblem: string | undefined;
	if (where) {
		const own = registry ? undefined : registryHandle(c.ctx);
		try {
			const client = await (registry ?? own!).open();
			const found = await client.findTag(where, authored.spec.name, authored.tag, c.ctx.signal);
			return found ? {state: 'present', digest: found.digest, tags: found.tags, via: 'artifact-registry'} : {state: 'absent', via: 'artifact-registry'};
		} catch (error) {
			if (isAbort(error) || c.ctx.signal.aborted) throw new CancelledError();
			apiProblem = error instanceof Error ? error.message : String(error);
		} finally {
			await own?.close();
		}
	}

	const manifest = await imageExists(c.ctx, authored.uri);
	return {
		state: manifest.state,
		digest: manifest.digest,
		via: 'registry',
		detail: [manifest.detail, apiProblem && `Artifact Registry: ${apiProblem}`].filter(Boolean).join('; ') || undefined,
	};
}

// ---------------------------------------------------------------------------------------------
// Build, push, prove

/**
 * Before a build (unless --force): the outcome when the repository already has the tag, said
 * to the person; undefined when it must be built (a lookup that cannot answer is said too).
 */
export async function skipWhenThere(
	c: StepContext,
	image: RepositoryImage,
	where?: RepositoryRef,
	registry?: RegistryHandle,
): Promise<BuildOutcome | undefined> {
	if (c.flags.force) return undefined;
	c.report({type: 'step', step: 'build', status: 'running', detail: `is ${image.spec.name}:${image.tag} already in the repository?`});
	const before = await findInRepository(c, image, where, registry);
	if (before.state === 'present') {
		c.report({
			type: 'note',
			level: 'info',
			text: `${image.uri} is already in the repository${before.digest ? ` (${before.digest})` : ''}: nothing to build or push. --force rebuilds it.`,
		});
		return {pushed: false, digest: before.digest, skipped: ALREADY_THERE};
	}

	if (before.state === 'unknown')
		c.report({type: 'note', level: 'warn', text: `Could not tell whether ${image.uri} exists (${before.detail ?? 'no answer'}); building it.`});
	return undefined;
}

/**
 * The build step: skip when the tag is already there (unless --force); else build and push (docker, or
 * flytekit's own engine when the person picks it), then prove the repository lists the tag.
 */
export async function buildImage(
	c: StepContext,
	authored: AuthoredSpec,
	where?: RepositoryRef,
	registry?: RegistryHandle,
	{buildkit}: Pick<BuildOptions, 'buildkit'> = {},
): Promise<BuildOutcome> {
	const {ctx, report} = c;
	const progress = (detail: string) => report({type: 'step', step: 'build', status: 'running', detail});
	const tagged = `${authored.spec.name}:${authored.tag}`;
	const there = await skipWhenThere(c, authored, where, registry);
	if (there) return there;

	const logFile = buildLogPath(ctx.platform, authored.spec.name, authored.tag);
	const engine = await chooseEngine(c, authored);
	report({type: 'note', level: 'info', text: `Full build log: ${logFile}`});
	// Secrets in the spec (an --env token the person insisted on) never reach the screen or the log.
	const redact = redactor(findSecrets(authored.spec));
	const onEvent = (event: BuildEvent) => {
		if (event.type === 'log') report({type: 'log', line: redact(event.line)});
		else if (event.type === 'step') report({type: 'build-step', text: redact(event.text)});
		else if (event.type === 'layer') report({type: 'layer', id: event.id, status: event.status, current: event.current, total: event.total});
		else progress(PHASE_TEXT[event.phase](tagged));
	};

	let pushedDigest: string | undefined;
	if (engine.kind === 'flytekit') {
		await buildWithFlytekit(
			ctx,
			{python: engine.python, moduleFile: authored.moduleFile, name: authored.spec.name, imageUri: authored.uri, force: c.flags.force, logFile, redact},
			onEvent,
		);
	} else {
		// flytekit pins the flytekit it appends to the one doing the build: union register here.
		const localFlytekit = (await detectPython(ctx)).flytekit;
		const pushed = await buildAndPush(
			ctx,
			{
				imageRef: authored.uri,
				spec: authored.spec,
				contextDir: c.folder,
				platform: effectivePlatform(authored.spec, ctx.platform.arch),
				logFile,
				redact,
				localFlytekit,
				buildkit,
			},
			onEvent,
		);
		pushedDigest = pushed.digest;
	}

	// The proof: the repository itself lists the tag, on the digest that was pushed.
	progress(`checking that the repository lists ${tagged}`);
	const after = await findInRepository(c, authored, where, registry);
	if (after.state !== 'present' || (pushedDigest && after.digest && after.digest !== pushedDigest)) {
		throw new StepError(
			after.state === 'present'
				? `Pushed ${authored.uri} as ${pushedDigest}, but the repository lists the tag on ${after.digest}.`
				: `Pushed ${authored.uri}, but the repository does not list it${after.detail ? ` (${after.detail})` : ''}.`,
			{fix: `Check the repository: gcloud artifacts docker images list ${authored.spec.registry} --include-tags`, reason: 'NOT_LISTED'},
		);
	}

	const listed = after.via === 'artifact-registry' ? `Artifact Registry lists ${tagged}` : `The registry has ${tagged}`;
	report({
		type: 'note',
		level: 'info',
		text: `${listed} → ${after.digest ?? pushedDigest ?? 'digest unknown'}${after.tags && after.tags.length > 1 ? ` (tags: ${after.tags.join(', ')})` : ''}.`,
	});
	return {pushed: true, digest: pushedDigest ?? after.digest, logFile, engine: engine.kind};
}

/** What the build step says while each phase of a build runs. */
const PHASE_TEXT: Record<Extract<BuildEvent, {type: 'phase'}>['phase'], (tagged: string) => string> = {
	base: () => 'building the base ImageSpec first',
	build: tagged => `building ${tagged}`,
	check: tagged => `checking that ${tagged} can run a Flyte task (import flytekit)`,
	push: tagged => `pushing ${tagged}`,
};

type Engine = {kind: 'docker'} | {kind: 'flytekit'; python: string};

/**
 * flytekit's ImageBuildEngine builds byte for byte what `union register` would; offered when a
 * Python here imports flytekit and the module was written. Scripts always build with docker.
 */
async function chooseEngine(c: StepContext, authored: AuthoredSpec, known?: PythonInfo): Promise<Engine> {
	if (!c.ask.interactive || !authored.specFile) return {kind: 'docker'};
	const python = known ?? (await detectPython(c.ctx));
	if (!python.executable || !python.flytekit) return {kind: 'docker'};
	const answer = await c.ask.select({
		flag: 'builder',
		message: 'Build with:',
		choices: [
			{label: "Docker, from the spec (imagespec-gar's Dockerfile)", value: 'docker', hint: 'works with any docker'},
			{label: `flytekit ${python.flytekit}'s ImageBuildEngine`, value: 'flytekit', hint: 'exactly what union register builds; needs BuildKit (docker buildx)'},
		],
		default: 'docker',
	});
	return answer === 'flytekit' ? {kind: 'flytekit', python: python.executable} : {kind: 'docker'};
}
