import {stripVTControlCharacters} from 'node:util';
import {cleanup, render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import {App} from '../../source/app.js';
import type {JourneyResult} from '../../source/flow/events.js';
import {plan, planThenApply, type PlannedChange} from '../../source/flow/plan.js';
import {createInkSession} from '../../source/present/ink-session.js';

const tick = async (ms = 30) => new Promise(resolve => setTimeout(resolve, ms));

afterEach(() => {
	cleanup();
});

const CHANGE: PlannedChange = {
	kind: 'create-repository',
	step: 'repository',
	summary: 'create repository ml-images in acme-ml · us-east1',
	content: 'format          Docker (standard repository)',
	command: 'gcloud artifacts repositories create ml-images --project acme-ml --location us-east1 --repository-format=docker',
};

describe('the plan screen of an interactive --dry-run', () => {
	it('shows each planned change and the numbered plan, then asks "Apply these changes?"; y applies', async () => {
		const session = createInkSession();
		const view = render(<App session={session} onCancel={() => undefined} />);
		const controller = new AbortController();
		const runs: boolean[] = [];
		// The journey's side, as the view sees it: events in, a result out.
		const run = async (_person: unknown, dryRun: boolean): Promise<JourneyResult> => {
			runs.push(dryRun);
			if (!dryRun) return {ok: true, pushed: false, repository: 'ml-images', repositoryCreated: true};
			session.report(plan(CHANGE));
			return {ok: true, pushed: false, dryRun: true, plan: [CHANGE]};
		};

		const applied = planThenApply(session.prompter, controller.signal, run, planned => {
			session.report({type: 'done', result: planned});
		});
		await tick(100);
		const frame = stripVTControlCharacters(view.lastFrame() ?? '');
		expect(stripVTControlCharacters(view.frames.join('\n'))).toContain('--dry-run: would create repository ml-images in acme-ml · us-east1');
		expect(frame).toContain('Dry run: nothing was changed. The plan, in order:');
		expect(frame).toContain(`1. ${CHANGE.summary}  (gcloud artifacts repositories create`);
		expect(stripVTControlCharacters(view.frames.join('\n'))).toContain('$ gcloud artifacts repositories create ml-images');
		expect(frame).toContain('Apply these changes?');
		expect(runs).toEqual([true]);

		// Every question ends with Enter, yes/no ones too.
		view.stdin.write('y');
		await tick();
		view.stdin.write('\r');
		await expect(applied).resolves.toMatchObject({repositoryCreated: true});
		expect(runs).toEqual([true, false]);
	});
});
