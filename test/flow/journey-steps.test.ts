import {describe, expect, it} from 'vitest';
import {STEPS} from '../../source/flow/events.js';
import {JOURNEY_STEPS, need} from '../../source/flow/journey-steps.js';

describe('the table of steps', () => {
	it('runs the steps of the user journey, in its order, each once, by id', () => {
		expect(JOURNEY_STEPS.map(step => step.id)).toEqual(STEPS.map(step => step.id));
	});

	it('a step run before the one that finds what it needs is a bug, said as one', () => {
		expect(need({project: 'acme-ml', location: 'us-east1'}, 'project', 'location')).toEqual({project: 'acme-ml', location: 'us-east1'});
		expect(() => need({project: 'acme-ml'}, 'project', 'repository')).toThrow('finds its repository');
	});
});
