import path from 'node:path';
import type {Flags} from '../flags.js';
import {answer} from '../flow/answers.js';
import {plannedChecks, runChecks, type Check, type CheckOptions} from '../services/checks.js';
import {FLYTE_CHECKS, runFlyteChecks, type FlyteCheckOptions} from '../services/flyte-checks.js';
import {composeRegistry, registryHostOfLocation} from '../services/imagespec.js';
import {detectSdk} from '../services/sdk.js';
import {isAbort} from '../services/errors.js';
import type {Platform} from '../services/platform.js';
import {openStore, projectFolder} from '../services/store.js';
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
};

/** The document `doctor --json` prints (schema/doctor.schema.json). */
export type DoctorReport = {ok: boolean; checks: Check[]};

const WORD = {ok: 'ok', warn: 'warn', fail: 'FAIL'} as const;

/**
 * `imagespec-gar doctor`: every check at once, for this folder's repository (saved answers, else
 * the team's module). Exit 0 when no required check fails, 1 otherwise, 130 on Ctrl-C.
 */
export async function runDoctor(options: DoctorOptions): Promise<number> {
	const {flags, platform, signal} = options;
	const ctx = {platform, signal};
	try {
		const {checkOptions, note, flyte} = await doctorOptions(options);
		const planned = [...plannedChecks(checkOptions), ...(flyte ? FLYTE_CHECKS : [])];
		// A Flyte 2 project gets flyte's own checks after the shared ones.
		const run = async (onCheck?: (check: Check) => void) => {
			const {checks} = await runChecks(ctx, checkOptions, onCheck);
			return {checks: flyte ? [...checks, ...(await runFlyteChecks(ctx, flyte, onCheck))] : checks};
		};
		let report: DoctorReport;
		if (flags.json) {
			report = toReport((await run()).checks);
			options.stdout(`${JSON.stringify(report, null, 2)}\n`);
		} else if (options.ink) {
			report = await withInk(planned, note, run);
		} else {
			options.stderr('Checking gcloud, credentials, docker, your repository and Python…\n');
			report = toReport((await run()).checks);
			options.stdout(plainTable(report.checks, note, verdict(report)));
		}

		return report.ok ? 0 : 1;
	} catch (error) {
		if (isAbort(error) || signal.aborted) {
			// conf's when-exit re-sends the signal to us after its cleanup; once main has removed its
			// handlers that second delivery would kill us (no exit 130). Absorb it until we exit.
			for (const name of ['SIGINT', 'SIGTERM'] as const) process.on(name, () => undefined);
			options.stderr('Cancelled: nothing was changed.\n');
			return 130;
		}

		options.stderr(`Unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
		return 1;
	}
}

/** What to check: flags first, then saved answers, then the team's module. */
async function doctorOptions({flags, cwd, platform, signal}: DoctorOptions): Promise<{checkOptions: CheckOptions; note?: string; flyte?: FlyteCheckOptions}> {
	const folder = projectFolder(cwd);
	const store = await openStore({folder, platform});
	const stored = store.problem ? {} : store.load();
	const known = await findKnownSetup({cwd, folder, flags, saved: stored, ctx: {platform, signal}});
	const answers = resolveAnswers(flags, stored, known);
	const {saved} = answers;
	const repository = knownRepository(answers);
	const env = platform.env;
	const note = repository
		? known?.source === 'module'
			? `Repository from your team's ${path.relative(cwd, known.moduleFile) || known.moduleFile}.`
			: undefined
		: 'No repository is saved for this folder (and no image_specs.py declares one): run imagespec-gar to choose one; then doctor checks docker auth for it and your access.';
	const flyte = (flags.sdk ?? (await detectSdk(folder))) === 'flyte';
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
			dockerAuthSaved: saved.dockerAuth,
			dataPlaneServiceAccount: saved.dataPlane?.sameProject === false ? saved.dataPlane.serviceAccount : undefined,
		},
		note,
	};
}

const toReport = (checks: Check[]): DoctorReport => ({ok: checks.every(check => !check.required || check.status !== 'fail'), checks});

const verdict = (report: DoctorReport): string => {
	if (report.ok) return 'Ready: nothing required is missing.';
	const failed = report.checks.filter(check => check.required && check.status === 'fail').length;
	return `${failed} required check${failed === 1 ? '' : 's'} failed: run the fixes above, then imagespec-gar doctor again.`;
};

/** One row per check, in order, with words (not only symbols) for logs and screen readers. */
export const plainTable = (checks: readonly Check[], note: string | undefined, closing: string): string => {
	const width = Math.max(...checks.map(check => check.title.length));
	const lines: string[] = [];
	for (const check of checks) {
		lines.push(
			`${WORD[check.status].padEnd(4)}  ${check.title.padEnd(width)}  ${check.detail}${check.status === 'warn' && !check.required ? ' (optional)' : ''}`,
		);
		if (check.fix) for (const fix of check.fix.split('\n')) lines.push(`${' '.repeat(width + 8)}fix: ${fix}`);
	}

	if (note) lines.push('', note);
	lines.push('', closing);
	return `${lines.join('\n')}\n`;
};

async function withInk(
	planned: readonly Check['id'][],
	note: string | undefined,
	run: (onCheck: (check: Check) => void) => Promise<{checks: Check[]}>,
): Promise<DoctorReport> {
	const [{render}, {createElement}, {DoctorView}] = await Promise.all([import('ink'), import('react'), import('../ui/doctor.js')]);
	const rows = new Map<Check['id'], Check | {id: Check['id']; pending: true}>(planned.map(id => [id, {id, pending: true as const}]));
	const view = (verdictText?: string) => createElement(DoctorView, {rows: [...rows.values()], verdict: verdictText, note: verdictText ? note : undefined});
	const instance = render(view(), {exitOnCtrlC: false});
	try {
		const {checks} = await run(check => {
			rows.set(check.id, check);
			instance.rerender(view());
		});
		const report = toReport(checks);
		instance.rerender(view(verdict(report)));
		return report;
	} finally {
		await instance.waitUntilRenderFlush();
		instance.unmount();
		await instance.waitUntilExit();
	}
}
