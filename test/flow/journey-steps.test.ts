import {describe, expect, it} from 'vitest';
import {STEPS} from '../../source/flow/events.js';
import {declared} from '../../source/flow/journey.js';
import {JOURNEY_STEPS, need} from '../../source/flow/journey-steps.js';

describe('the table of steps', () => {
	it('runs the steps of the user journey, in its order, each once, by id', () => {
		expect(JOURNEY_STEPS.map(step => step.id)).toEqual(STEPS.map(step => step.id));
	});

	it('a step run before the one that finds what it needs is a bug, said as one', () => {
		expect(need({project: 'acme-ml', location: 'us-east1'}, 'project', 'location')).toEqual({project: 'acme-ml', location: 'us-east1'});
		expect(() => need({project: 'acme-ml'}, 'project', 'repository')).toThrow('finds its repository');
	});

	it('a step that writes a field it does not declare fails the run, naming the step and the field', () => {
		const project = JOURNEY_STEPS.find(step => step.id === 'project')!;
		expect(declared(project, 'saves', {project: 'acme-ml'})).toEqual({project: 'acme-ml'});
		expect(() => declared(project, 'saves', {project: 'acme-ml', repository: 'union-images'})).toThrow(
			'The project step saves repository without declaring it',
		);
		// Saving again what the answers already hold is not a write.
		expect(declared(project, 'saves', {project: 'acme-ml', repository: 'r'}, {repository: 'r'})).toEqual({project: 'acme-ml', repository: 'r'});
		expect(() => declared(project, 'adds', {checks: []})).toThrow('The project step adds checks without declaring it');
	});
});
