import path from 'node:path';
import type {Flags} from '../flags.js';
import {DEFAULT_FLYTE_MODULE, DEFAULT_MODULE, answer, moduleFileOf} from '../flow/answers.js';
import {plannedChecks, runChecks, type Check, type CheckOptions} from '../services/checks.js';
import type {StartedCredentialHelper} from '../services/credential-helper.js';
import {FLYTE_CHECKS, runFlyteChecks, type FlyteCheckOptions} from '../services/flyte-checks.js';
import {composeRegistry, registryHostOfLocation} from '../services/imagespec.js';
import {detectSdk} from '../services/sdk.js';
import type {ServiceContext} from '../services/context.js';
import {StepError, isAbort} from '../services/errors.js';
import {isRegularFile} from '../services/file-safety.js';
import {dropReadAhead, readModuleSpecs} from '../services/module-reader.js';
import type {Platform} from '../services/platform.js';
import {openStore, projectFolder} from '../services/store.js';
import {doctorPresenter, type DoctorPresenter, type DoctorReport} from '../present/doctor.js';
import {remoteBuilderConfigured} from './builder-access.js';
import {knownRepository} from './prerequisites.js';
import {findKnownSetup, resolveAnswers} from './setup.js';

export type DoctorOptions = {
	flags: Flags;
	cwd: string;
	platform: Platform;
	signal: AbortSignal;
	/** Draw with Ink (a person at a terminal); otherwise plain lines. --json wins over both. */
	ink: boolean;
	stdout: (text: string) => void;
	stderr: (text: string) => void;
	/** Started at launch (cli.tsx), before this folder's repository, the host it is asked about, is known. */
	credentialHelper?: StartedCredentialHelper;
};

/**
 * `imagespec-gar doctor`: every check at once, for this folder's repository (saved answers, else
 * the team's module). Exit 0 when no required check fails, 1 otherwise, 130 on Ctrl-C.
 */
export async function runDoctor(options: DoctorOptions): Promise<number> {
	const {flags, platform, signal} = options;
	const ctx = {platform, signal};
	let presenter: DoctorPresenter | undefined;
	try {
		const {checkOptions, note, flyte} = await doctorOptions(options);
		// Chosen once; each is fed the check events as they come.
		presenter = await doctorPresenter(flags.json ? 'json' : options.ink ? 'ink' : 'plain', {note, stdout: options.stdout, stderr: options.stderr});
		const {report: present} = presenter;
		present({type: 'checks-started', ids: [...plannedChecks(checkOptions), ...(flyte ? FLYTE_CHECKS : [])]});
		const onCheck = (check: Check) => present({type: 'check', check});
		const {checks} = await runChecks(ctx, checkOptions, onCheck);
		// A Flyte 2 project gets flyte's own checks after the shared ones.
		const report = toReport(flyte ? [...checks, ...(await runFlyteChecks(ctx, flyte, onCheck))] : checks);
		const ended = presenter;
		presenter = undefined;
		await ended.end(report);
		return report.ok ? 0 : 1;
	} catch (error) {
		// A run that failed still takes its view down, before saying why.
		await presenter?.end();
		if (isAbort(error) || signal.aborted) {
			// conf's when-exit re-sends the signal to us after its cleanup; once main has removed its
			// handlers that second delivery would kill us (no exit 130). Absorb it until we exit.
			for (const name of ['SIGINT', 'SIGTERM'] as const) process.on(name, () => undefined);
			options.stderr('Cancelled: nothing was changed.\n');
			return 130;
		}

		// One line and its fix, never a stack trace.
		if (error instanceof StepError) options.stderr(`Error: ${error.message}\n${error.fix ? `Fix: ${error.fix}\n` : ''}`);
		else options.stderr(`Unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
		return 1;
	}
}

/** What to check: flags first, then saved answers, then the team's module. */
async function doctorOptions({
	flags,
	cwd,
	platform,
	signal,
	credentialHelper,
}: DoctorOptions): Promise<{checkOptions: CheckOptions; note?: string; flyte?: FlyteCheckOptions}> {
	const folder = projectFolder(cwd);
	const store = await openStore({folder, platform});
	const stored = store.problem ? {} : store.load();
	// Handed on: when no repository comes of it, whyNoRepository takes this read's error instead of running the module again.
	const known = await findKnownSetup({cwd, folder, flags, saved: stored, ctx: {platform, signal}}, {handOn: true});
	const sdk = flags.sdk ?? (await detectSdk(folder));
	const answers = resolveAnswers(flags, stored, known, sdk);
	const {saved} = answers;
	const repository = knownRepository(answers);
	const env = platform.env;
	const flyte = answers.sdk === 'flyte';
	const note = repository
		? known?.source === 'module'
			? `Repository from your team's ${path.relative(cwd, known.moduleFile) || known.moduleFile}.`
			: undefined
		: await whyNoRepository({platform, signal}, {moduleFile: moduleFileOf(answers, {cwd, folder}), folder, cwd, flyte});
	dropReadAhead({platform, signal});
	const remote = await remoteBuilderConfigured({...flags, sdk: answers.sdk}, [...Object.values(saved.images ?? {}), ...(known?.images ?? [])], {
		folder,
		platform,
	});
	const dataPlane = saved.dataPlane;
	const flyteOptions: FlyteCheckOptions | undefined = flyte
		? {
				folder,
				...(repository
					? {
							registry: composeRegistry({...repository, hostOverride: env.IMAGESPEC_GAR_REGISTRY_HOST}),
							host: registryHostOfLocation(repository.location, env.IMAGESPEC_GAR_REGISTRY_HOST),
						}
					: {}),
			}
		: undefined;
	return {
		...(flyteOptions ? {flyte: flyteOptions} : {}),
		checkOptions: {
			project: answer(answers, 'project'),
			needDocker: flags.builder !== 'union',
			needAdc: !env.IMAGESPEC_GAR_API_ENDPOINT,
			repository,
			mode: 'doctor',
			credentialHelper,
			dockerAuthSaved: saved.dockerAuth,
			dataPlaneServiceAccount: dataPlane?.sameProject === false ? dataPlane.serviceAccount : undefined,
			...(remote
				? {
						remoteBuilder: {
							sameProject: dataPlane?.sameProject,
							builderServiceAccount: flags.builderSa ?? dataPlane?.builderServiceAccount,
							operatorProxyServiceAccount: flags.operatorProxySa ?? dataPlane?.operatorProxyServiceAccount,
						},
					}
				: {}),
		},
		note,
	};
}

const CHOOSE_ONE = 'run imagespec-gar to choose one; then doctor checks docker auth for it and your access.';

/**
 * Why no repository is known. A team's module that is there but does not run (a syntax error, a
 * failing import) is named with its error: "none declares one" would send a newcomer the wrong way.
 */
async function whyNoRepository(ctx: ServiceContext, where: {moduleFile: string; folder: string; cwd: string; flyte: boolean}): Promise<string> {
	const name = path.relative(where.cwd, where.moduleFile) || where.moduleFile;
	if (!where.flyte && isRegularFile(where.moduleFile)) {
		const problem = await readModuleSpecs(ctx, {moduleFile: where.moduleFile, folder: where.folder}).then(
			() => undefined,
			(error: unknown) => (isAbort(error) ? Promise.reject(error) : error instanceof StepError ? error : undefined),
		);
		if (problem) return `${name} could not be read, so its repository is not known: ${problem.message}${problem.fix ? `\nfix: ${problem.fix}` : ''}`;
	}
	const module = where.flyte ? DEFAULT_FLYTE_MODULE : DEFAULT_MODULE;
	return `No repository is saved for this folder (and no ${module} declares one): ${CHOOSE_ONE}`;
}

const toReport = (checks: Check[]): DoctorReport => ({ok: checks.every(check => !check.required || check.status !== 'fail'), checks});
