import {describe, expect, it} from 'vitest';
import {KNOWN_LOCATIONS, validateLocation} from '../../source/services/locations.js';

describe('validateLocation', () => {
	it('accepts regions and multi-regions, rejects the rest', () => {
		for (const location of ['us', 'europe', 'asia', 'us-central1', 'europe-west12', 'northamerica-south1']) expect(validateLocation(location)).toBeUndefined();
		for (const location of ['', 'US', 'us-central', 'uscentral1', 'us-central1-a', 'eu']) expect(validateLocation(location)).toBeTypeOf('string');
	});

	it('lists multi-regions first', () => {
		expect(KNOWN_LOCATIONS.slice(0, 3)).toEqual(['asia', 'europe', 'us']);
		expect(KNOWN_LOCATIONS).toContain('us-central1');
		expect(new Set(KNOWN_LOCATIONS).size).toBe(KNOWN_LOCATIONS.length);
	});
});
