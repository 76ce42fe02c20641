import type {RepositoryRef} from '../services/artifact-registry.js';
import type {RegistryHandle} from '../services/registry-handle.js';
import {flyteSdkCheck} from '../services/flyte-checks.js';
import {plannedChecks, runChecks, runnableFix, type Check, type CheckOptions, type ChecksOutcome} from '../services/checks.js';
import {StepError} from '../services/errors.js';
import {runInTerminal} from '../services/exec.js';
import {executable} from '../services/platform.js';
import {answer} from '../flow/answers.js';
import type {StepContext} from './context.js';

export type PrerequisiteNeeds = {
	docker: boolean;
	adc: boolean;
	/** Opens the client the journey needs anyway: the checks start it early and reuse it. */
	registry?: RegistryHandle;
};

/** How often one fix is offered before the wizard gives up and prints it. */
const MAX_OFFERS = 2;

/** The repository flags or saved answers point at, when all three parts are known. */
export const knownRepository = (c: Pick<StepContext, 'flags' | 'saved'>): RepositoryRef | undefined => {
	const project = answer(c, 'project');
	const location = answer(c, 'location');
	const repository = answer(c, 'repository');
	return project && location && repository ? {project, location, repository} : undefined;
};

/**
 * The checks step: every prerequisite at once. A failed required one whose fix is a login the wizard can
 * run (`gcloud auth login`, `gcloud auth application-default login`) is offered to an
 * interactive person, run on their terminal, and the checks run again; otherwise the run stops
 * with the fixes.
 */
export async function checkPrerequisites(c: StepContext, needs: PrerequisiteNeeds): Promise<ChecksOutcome> {
	const options: CheckOptions = {
		project: answer(c, 'project'),
		needDocker: needs.docker,
		needAdc: needs.adc,
		repository: knownRepository(c),
		mode: 'wizard',
		dockerAuthSaved: c.saved.dockerAuth,
		registry: needs.registry,
		// Only a person is offered flytekit's engine; a script skips the Python probe (~0.3-3 s).
		python: c.ask.interactive,
	};
	// A Flyte 2 project needs flyte (and its CLI, to build here), not union or flytekit.
	const flyte = c.ask.interactive && c.sdk === 'flyte';
	if (flyte) options.python = false;
	const offered = new Map<string, number>();
	for (;;) {
		c.report({type: 'checks-started', ids: [...plannedChecks(options), ...(flyte ? (['flyte-sdk'] as const) : [])]});
		// checks again after each fix
		const [checked, flyteSdk] = await Promise.all([
			runChecks(c.ctx, options, check => c.report({type: 'check', check})),
			flyte ? flyteSdkCheck(c.ctx) : undefined,
		]);
		if (flyteSdk) c.report({type: 'check', check: flyteSdk});
		const outcome = flyteSdk ? {...checked, checks: [...checked.checks, flyteSdk]} : checked;
		const failed = outcome.checks.filter(check => check.required && check.status === 'fail');
		if (failed.length === 0) return outcome;
		// --dry-run changes nothing, not even a login: the fixes are printed instead.
		if (c.flags.dryRun || !(await offerFixes(c, failed, offered))) throw prerequisitesFailed(failed);
	}
}

/** Offers each runnable fix; true when at least one ran (so checking again can tell something new). */
async function offerFixes(c: StepContext, failed: Check[], offered: Map<string, number>): Promise<boolean> {
	if (!c.ask.canHandOverTerminal) return false;
	const fixes = [
		...new Map(
			failed.flatMap(check => {
				const fix = runnableFix(check);
				return fix ? [[fix.command, fix] as const] : [];
			}),
		).values(),
	].filter(fix => (offered.get(fix.command) ?? 0) < MAX_OFFERS);
	let ran = false;
	for (const fix of fixes) {
		offered.set(fix.command, (offered.get(fix.command) ?? 0) + 1);
		// one question, then one login, at a time
		const yes = await c.ask.confirm({
			flag: 'yes',
			message: `Run \`${fix.command}\` now? It opens your browser to sign in; the checks run again afterwards.`,
			default: true,
		});
		if (!yes) {
			// Declined: never asked again in this run.
			offered.set(fix.command, MAX_OFFERS);
			continue;
		}

		const code = await c.ask.handOverTerminal(async () => runInTerminal(c.ctx, executable(c.ctx.platform, 'gcloud'), fix.args));
		if (code !== 0) c.report({type: 'note', level: 'warn', text: `\`${fix.command}\` exited with code ${code}.`});
		ran = true;
	}

	return ran;
}

const prerequisitesFailed = (failed: Check[]) =>
	new StepError(`${failed.length} required prerequisite${failed.length === 1 ? '' : 's'} failed: ${failed.map(check => check.title).join(', ')}`, {
		fix: failed
			.map(check => check.fix)
			.filter(Boolean)
			.join('\n'),
		reason: 'PREREQUISITES',
	});
