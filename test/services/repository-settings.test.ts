import {describe, expect, it} from 'vitest';
import {cleanupPolicies, parseCleanupPreset, parseLabels} from '../../source/services/repository-settings.js';

describe('settings parsing', () => {
	it('reads cleanup presets and says what is wrong with the rest', () => {
		expect(parseCleanupPreset('none')).toEqual({kind: 'none'});
		expect(parseCleanupPreset('keep:10')).toEqual({kind: 'keep', count: 10});
		expect(parseCleanupPreset('delete-untagged:30d')).toEqual({kind: 'delete-untagged', days: 30});
		expect(parseCleanupPreset('delete-untagged:7')).toEqual({kind: 'delete-untagged', days: 7});
		expect(parseCleanupPreset('keep:0')).toBe('keep:N needs N between 1 and 10000');
		expect(parseCleanupPreset('delete-untagged:0d')).toBe('delete-untagged:Dd needs D between 1 and 3650 days');
		expect(parseCleanupPreset('weekly')).toMatch(/^use none, keep:N .* or delete-untagged:Dd/);
		expect(cleanupPolicies({kind: 'none'})).toEqual({});
	});

	it('reads labels by Google’s rules and keeps managed-by for itself', () => {
		expect(parseLabels(['team=ml', 'cost-center=42', 'empty='])).toEqual({team: 'ml', 'cost-center': '42', empty: ''});
		expect(parseLabels(['team'])).toBe('"team": use key=value');
		expect(parseLabels(['Team=ml'])).toMatch(/^"Team": label keys are/);
		expect(parseLabels(['team=ML'])).toMatch(/^"ML": label values are/);
		expect(parseLabels(['managed-by=me'])).toBe('managed-by is always imagespec-gar: imagespec-gar sets it');
	});
});
