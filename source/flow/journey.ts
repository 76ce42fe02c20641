import path from 'node:path';
import {CancelledError, StepError} from '../services/errors.js';
import {registryHandle} from '../services/registry-handle.js';
import {detectSdk} from '../services/sdk.js';
import {projectFolder, type AnswerStore, type ProjectAnswers} from '../services/store.js';
import type {StepContext} from '../steps/context.js';
import {checkFlagFiles} from '../steps/flag-files.js';
import {endReadAhead, startReadAhead} from '../steps/read-ahead.js';
import {findKnownSetup, resolveAnswers} from '../steps/setup.js';
import type {Flags} from '../flags.js';
import type {ServiceContext} from '../services/context.js';
import type {Asker} from './ask.js';
import type {JourneyResult, Reporter, StepId} from './events.js';
import {validateFlags} from './flag-rules.js';
import {JOURNEY_STEPS, type Found, type JourneyStep, type LaterOutcome, type StepOutcome} from './journey-steps.js';
import {dryRunRegistry, plan, type PlannedChange} from './plan.js';

export type JourneyOptions = {
	flags: Flags;
	cwd: string;
	ctx: ServiceContext & {signal: AbortSignal};
	ask: Asker;
	report: Reporter;
	store: AnswerStore;
	/** The view's first frame: the client's load (it blocks the event loop) waits for it. */
	viewReady?: Promise<unknown>;
};

/**
 * The wizard: `for (const step of JOURNEY_STEPS)`, each step given the answers (flag, person,
 * saved answer or default: flow/answers.ts), every status reported through `report`, what it
 * found added to the result, and its answers saved as soon as it succeeds. The journey owns the
 * one Artifact Registry client, and closes it however the run ends.
 */
export async function runJourney(options: JourneyOptions): Promise<JourneyResult> {
	const {ctx, ask, flags} = options;
	// --dry-run: every read runs, nothing changes; each change is reported as a plan entry instead.
	const planned: PlannedChange[] = [];
	const result: JourneyResult = {ok: false, pushed: false};
	const report: Reporter = event => {
		if (event.type === 'plan') planned.push(event.change);
		options.report(event);
	};
	const store: AnswerStore = flags.dryRun ? {...options.store, save() {}} : options.store;
	const where = {cwd: options.cwd, folder: projectFolder(options.cwd)};
	// Loading the client blocks the event loop ~0.2-0.5 s: the checks open it once their processes
	// run and after the view's first frame, not once a question is up (keys typed meanwhile arrive
	// as one chunk, and Enter is lost as a paste).
	const registry = registryHandle(ctx, {after: options.viewReady, wrap: flags.dryRun ? client => dryRunRegistry(client, report) : undefined});
	// Steps still going on beside the later ones (LaterOutcome).
	const background: Array<Promise<void>> = [];
	try {
		// Before anything reads them (a FIFO would block the run, a path outside the project leak).
		await checkFlagFiles({flags, ...where});
		// A rerun starts from the saved answers; a new team member from the team's module.
		const saved = store.load();
		const known = await findKnownSetup({flags, saved, ctx, ...where}, {handOn: !ask.interactive});
		// Once per run: every step that differs by SDK reads c.sdk.
		const sdk = flags.sdk ?? (await detectSdk(where.folder));
		report({type: 'sdk', sdk});
		let c: StepContext = {...resolveAnswers(flags, saved, known, sdk), ...where, ctx, ask, report};
		await validateFlags(c, registry);
		startReadAhead(c);
		if (store.problem)
			report({
				type: 'note',
				level: 'warn',
				text: `Saved answers in ${store.path} could not be read (${store.problem}); going on from defaults, and the file is left as it is.`,
			});
		if (known?.source === 'module') {
			report({
				type: 'note',
				level: 'info',
				text:
					`Found your team's setup in ${path.relative(options.cwd, known.moduleFile) || known.moduleFile}: ` +
					`${known.project} · ${known.location} · ${known.repository}. Checking this machine and your access to it.`,
			});
		}

		let found: Found = {};
		const finish = (step: JourneyStep, outcome: StepOutcome) => {
			found = {...found, ...outcome.found};
			Object.assign(result, declared(step, 'adds', outcome.result ?? {}));
			const save = outcome.save;
			if (save) store.save(answers => declared(step, 'saves', save(answers), answers));
			report({type: 'known', result: {...result}});
			report({type: 'step', step: step.id, status: outcome.status, detail: outcome.detail});
		};

		let stopped: string | undefined;
		for (const step of JOURNEY_STEPS) {
			if (stopped) {
				report({type: 'step', step: step.id, status: 'skipped', detail: stopped});
				continue;
			}

			const deps = {registry, planned, known};
			const outcome = await runStep(step.id, c, report, async () => step.run(c, deps, found));
			c = outcome.next ?? c;
			if ('later' in outcome) {
				const settled = outcome.later.then(
					done => finish(step, done),
					(error: unknown) => {
						throw stepFailed(step.id, c, report, error);
					},
				);
				// Handled here (a failure is reported as it happens); the run's end awaits it again.
				settled.catch(() => undefined);
				background.push(settled);
				continue;
			}

			finish(step, outcome);
			stopped = outcome.stop;
		}

		await Promise.all(background);
		if (stopped) return {...result, ok: true};
		if (flags.dryRun) {
			const {project, location, repository} = result;
			report(
				plan({
					kind: 'save-answers',
					step: 'build',
					summary: `remember this setup for ${c.folder} in ${options.store.path}`,
					data: {file: options.store.path, folder: c.folder, project, location, repository, image: found.image?.name},
				}),
			);
			Object.assign(result, {dryRun: true, plan: planned});
		}

		return {...result, ok: true, ...found.next};
	} finally {
		// A step still going on beside a failed one ends first: docker's config is left whole, as when it ran alone.
		await Promise.allSettled(background);
		endReadAhead({ctx});
		await registry.close();
	}
}

/** One step's run: its statuses on screen, and a Ctrl-C during it ends it as cancelled. */
async function runStep<T extends StepOutcome | LaterOutcome>(id: StepId, c: StepContext, report: Reporter, work: () => Promise<T>): Promise<T> {
	const {signal} = c.ctx;
	if (signal.aborted) throw new CancelledError();
	report({type: 'step', step: id, status: 'running'});
	try {
		const outcome = await work();
		// A service may finish (or swallow the abort) after Ctrl-C: never start the next step.
		if (signal.aborted) throw new CancelledError();
		return outcome;
	} catch (error) {
		throw stepFailed(id, c, report, error);
	}
}

/** A step's failure on screen (cancelled, not a spinner left turning above the resume line); returns what to throw. */
function stepFailed(id: StepId, c: StepContext, report: Reporter, error: unknown): unknown {
	if (c.ctx.signal.aborted || error instanceof CancelledError) {
		report({type: 'step', step: id, status: 'cancelled'});
		return new CancelledError();
	}

	// Stopped by the docker authentication beside it (its push waited for it): skipped, and the run
	// fails with that step's own error, as when it ran alone (it is on screen already).
	if (error instanceof StepError && error.reason === 'DOCKER_AUTH_FAILED') {
		report({type: 'step', step: id, status: 'skipped', detail: error.message});
		return error.cause ?? error;
	}

	report({
		type: 'step',
		step: id,
		status: 'failed',
		detail: error instanceof Error ? error.message : String(error),
		fix: error instanceof StepError ? error.fix : undefined,
	});
	return error;
}

/**
 * A step writes only what it declares (`adds` to the result, `saves` to the answers): a field it
 * did not declare is a bug in the table, found by any run of that step.
 */
export function declared<T extends Partial<JourneyResult> | ProjectAnswers>(step: JourneyStep, list: 'adds' | 'saves', written: T, before?: T): T {
	const allowed = new Set<string>(step[list]);
	const keys = Object.keys(written).filter(key => before === undefined || written[key as keyof T] !== before[key as keyof T]);
	const undeclared = keys.filter(key => !allowed.has(key));
	if (undeclared.length > 0) throw new Error(`The ${step.id} step ${list === 'adds' ? 'adds' : 'saves'} ${undeclared.join(', ')} without declaring it`);
	return written;
}
