import {cleanup, render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import type {JourneyResult} from '../../source/flow/events.js';
import {Summary} from '../../source/ui/summary.js';

afterEach(() => {
	cleanup();
});

const written: JourneyResult = {
	ok: true,
	project: 'acme-ml',
	location: 'us-east1',
	repository: 'images',
	imageUri: 'us-east1-docker.pkg.dev/acme-ml/images/trainer:0123abcd',
	pushed: false,
	checks: [],
};

describe('the final panel', () => {
	it("names what the module declares in the SDK's own word: flyte.Image for Flyte 2, ImageSpec otherwise", () => {
		expect(render(<Summary result={{...written, sdk: 'flyte'}} />).lastFrame()).toContain('Your flyte.Image is ready');
		expect(render(<Summary result={{...written, sdk: 'union'}} />).lastFrame()).toContain('Your ImageSpec is ready');
		expect(render(<Summary result={written} />).lastFrame()).toContain('Your ImageSpec is ready');
	});

	it('labels the file it wrote "Module" for either SDK: a flyte_images.py holds no spec', () => {
		const frame = render(<Summary result={{...written, sdk: 'flyte', specFile: '/work/p/flyte_images.py'}} />).lastFrame() ?? '';
		expect(frame).toMatch(/Module\s+\/work\/p\/flyte_images\.py/);
		expect(frame).not.toMatch(/spec file/i);
	});
});
