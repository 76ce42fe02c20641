import {describe, expect, it} from 'vitest';
import {initialState, isCompleted, reduce, LOG_TAIL_LINES, currentStep} from '../../source/flow/state.js';
import type {JourneyEvent} from '../../source/flow/events.js';

const run = (...events: JourneyEvent[]) => events.reduce(reduce, initialState());

describe('flow state', () => {
	it('starts with every step pending, in journey order', () => {
		expect(initialState().steps.map(step => [step.id, step.status])).toEqual([
			['checks', 'pending'],
			['project', 'pending'],
			['repository', 'pending'],
			['access', 'pending'],
			['docker-auth', 'pending'],
			['imagespec', 'pending'],
			['build', 'pending'],
		]);
	});

	it("names the image step after what the run's SDK declares, in the transcript too", () => {
		const title = (state: ReturnType<typeof run>) => state.steps.find(step => step.id === 'imagespec')?.title;
		expect(title(run())).toBe('ImageSpec');
		expect(title(run({type: 'sdk', sdk: 'union'}))).toBe('ImageSpec');
		const flyte = run({type: 'sdk', sdk: 'flyte'}, {type: 'step', step: 'imagespec', status: 'done', detail: 'uri'});
		expect(title(flyte)).toBe('flyte.Image');
		expect(flyte.transcript).toEqual([{kind: 'step', step: expect.objectContaining({id: 'imagespec', title: 'flyte.Image'}), checks: undefined}]);
		// Every other step keeps its title.
		expect(flyte.steps.filter(step => step.id !== 'imagespec').map(step => step.title)).toEqual(
			run()
				.steps.filter(step => step.id !== 'imagespec')
				.map(step => step.title),
		);
	});

	it('moves a finished step into the transcript once, with the checks it ran', () => {
		const state = run(
			{type: 'step', step: 'checks', status: 'running'},
			{type: 'checks-started', ids: ['gcloud', 'docker-cli']},
			{type: 'check', check: {id: 'gcloud', title: 'gcloud installed', status: 'ok', detail: '528.0.0', required: true}},
		);
		expect(currentStep(state)?.id).toBe('checks');
		expect(state.checks).toHaveLength(2);
		expect(state.transcript).toEqual([]);

		const finished = reduce(state, {type: 'step', step: 'checks', status: 'done', detail: '1/1 ok'});
		expect(currentStep(finished)).toBeUndefined();
		expect(finished.transcript).toHaveLength(1);
		const [item] = finished.transcript;
		expect(item).toMatchObject({kind: 'step', step: {id: 'checks', status: 'done', detail: '1/1 ok'}});
		// The pending docker-cli check is not written as if it had finished.
		expect(item?.kind === 'step' ? item.checks?.map(check => check.id) : undefined).toEqual(['gcloud']);
	});

	it('shows the latest running step: docker authentication still running behind the build leaves the build in front', () => {
		const state = run(
			{type: 'step', step: 'docker-auth', status: 'running'},
			{type: 'step', step: 'imagespec', status: 'running'},
			{type: 'step', step: 'imagespec', status: 'done', detail: 'uri'},
			{type: 'step', step: 'build', status: 'running', detail: 'building'},
		);
		expect(currentStep(state)?.id).toBe('build');
		const authenticated = reduce(state, {type: 'step', step: 'docker-auth', status: 'done', detail: 'host → gcloud credential helper'});
		expect(currentStep(authenticated)?.id).toBe('build');
		expect(authenticated.transcript.map(item => (item.kind === 'step' ? item.step.id : item.kind))).toEqual(['imagespec', 'docker-auth']);
	});

	it('keeps notes and code in the order they happened', () => {
		const state = run(
			{type: 'note', level: 'info', text: 'first'},
			{type: 'code', title: 'Create image_specs.py', code: 'import union\n'},
			{type: 'note', level: 'warn', text: 'second'},
		);
		expect(state.transcript.map(item => item.kind)).toEqual(['note', 'code', 'note']);
	});

	it('keeps only the tail of the log and one entry per layer', () => {
		const lines = Array.from({length: 12}, (_, index): JourneyEvent => ({type: 'log', line: `line ${index}`}));
		const state = run(
			...lines,
			{type: 'layer', id: 'abc', status: 'Pushing', current: 10, total: 100},
			{type: 'layer', id: 'abc', status: 'Pushed'},
			{type: 'layer', id: 'def', status: 'Preparing'},
		);
		expect(state.logTail).toHaveLength(LOG_TAIL_LINES);
		expect(state.logTail.at(-1)).toBe('line 11');
		expect(state.layers).toEqual([
			{id: 'abc', status: 'Pushed', current: undefined, total: undefined},
			{id: 'def', status: 'Preparing', current: undefined, total: undefined},
		]);
	});

	it('ends a cancelled step in the transcript, and does not count it as completed', () => {
		const state = run({type: 'step', step: 'build', status: 'running'}, {type: 'step', step: 'build', status: 'cancelled'});
		expect(currentStep(state)).toBeUndefined();
		expect(state.transcript).toMatchObject([{kind: 'step', step: {id: 'build', status: 'cancelled'}}]);
		expect(isCompleted('cancelled')).toBe(false);
		expect(isCompleted('skipped')).toBe(true);
	});
});
