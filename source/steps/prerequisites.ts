import {CHECK_ORDER, runChecks, type ChecksOutcome} from '../services/checks.js';
import {StepError} from '../services/errors.js';
import type {StepContext} from './context.js';

/** Step 1: every prerequisite at once; a failed required one stops the run with its fix. */
export async function checkPrerequisites(c: StepContext, needs: {docker: boolean; adc: boolean}): Promise<ChecksOutcome> {
	c.report({type: 'checks-started', ids: [...CHECK_ORDER]});
	const outcome = await runChecks(
		c.ctx,
		{project: c.flags.project ?? c.saved.project, needDocker: needs.docker, needAdc: needs.adc},
		check => c.report({type: 'check', check}),
	);
	const failed = outcome.checks.filter(check => check.required && check.status === 'fail');
	if (failed.length > 0) {
		throw new StepError(`${failed.length} required prerequisite${failed.length === 1 ? '' : 's'} failed: ${failed.map(check => check.title).join(', ')}`, {
			fix: failed
				.map(check => check.fix)
				.filter(Boolean)
				.join('\n'),
			reason: 'PREREQUISITES',
		});
	}

	return outcome;
}
