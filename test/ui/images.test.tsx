import {stripVTControlCharacters} from 'node:util';
import {cleanup, render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import type {BuildRow} from '../../source/present/images.js';
import type {ImageStatus} from '../../source/services/image-status.js';
import {BuildTable, StatusTable} from '../../source/ui/images.js';

afterEach(() => {
	cleanup();
});

const rows: ImageStatus[] = [
	{
		variable: 'trainer_image',
		name: 'trainer',
		tag: 'aaa',
		state: 'pushed',
		digest: `sha256:${'1'.repeat(64)}`,
		uploadTime: '2026-11-30T10:00:00.000Z',
		sizeBytes: 2_000_000,
	},
	{variable: 'scorer_image', name: 'scorer', tag: 'bbb', state: 'stale', otherTags: ['old'], changed: 'requirements.txt changed since the last push'},
	{variable: 'fresh_image', name: 'fresh', tag: 'ccc', state: 'missing'},
	{variable: 'shipped_image', name: 'shipped', state: 'cannot-tell', detail: 'the tag depends on union register', fix: 'union register builds it'},
	{variable: 'hub_image', name: 'hub', state: 'not-checked', detail: 'ghcr.io/acme is not an Artifact Registry repository: not checked'},
];

describe('StatusTable', () => {
	it('draws one row per image with its state in words, the details, the fix and the verdict', () => {
		const {lastFrame} = render(<StatusTable module="image_specs.py" rows={rows} verdict="5 images: 1 pushed." ok={false} />);
		const screen = stripVTControlCharacters(lastFrame() ?? '');
		expect(screen).toContain('imagespec-gar status · image_specs.py');
		expect(screen).toMatch(/✔ pushed +trainer:aaa +sha256:111111111111 · uploaded 2026-11-30 10:00 · 1\.9 MB/);
		expect(screen).toMatch(/↻ STALE +scorer:bbb +requirements\.txt changed since the last push; the repository has old/);
		expect(screen).toMatch(/✖ MISSING +fresh:ccc +no tag of this image in the repository/);
		expect(screen).toMatch(/\? cannot tell +shipped +the tag depends on union register/);
		expect(screen).toContain('→ union register builds it');
		expect(screen).toMatch(/· not checked +hub/);
		expect(screen).toContain('5 images: 1 pushed.');
	});
});

describe('BuildTable', () => {
	const building: BuildRow[] = [
		{variable: 'a', name: 'alpha', outcome: 'running', detail: 'Step 2/2 : RUN make'},
		{variable: 'b', name: 'beta', outcome: 'pending'},
		{variable: 'c', name: 'gamma', outcome: 'pushed', digest: `sha256:${'2'.repeat(64)}`},
	];

	it('one live row per image: its current step, waiting, or the pushed digest', () => {
		const {lastFrame} = render(<BuildTable rows={building} jobs={2} finished={false} />);
		const screen = stripVTControlCharacters(lastFrame() ?? '');
		expect(screen).toContain('imagespec-gar build · 3 images, 2 at a time');
		expect(screen).toMatch(/building +alpha +Step 2\/2 : RUN make/);
		expect(screen).toMatch(/· waiting +beta/);
		expect(screen).toMatch(/✔ pushed +gamma +sha256:2222/);
		expect(screen).not.toContain('failed');
	});

	it('finished: the summary, then each failure with its fix and log', () => {
		const done: BuildRow[] = [
			{...building[2]!},
			{
				variable: 'd',
				name: 'delta',
				outcome: 'failed',
				error: {message: 'docker build failed at RUN make', fix: 'Fix the command, then rerun.'},
				logFile: '/tmp/delta.log',
			},
		];
		const {lastFrame} = render(<BuildTable rows={done} jobs={2} finished />);
		const screen = stripVTControlCharacters(lastFrame() ?? '');
		expect(screen).toContain('2 images: 1 pushed, 1 failed.');
		expect(screen).toContain('delta: docker build failed at RUN make');
		expect(screen).toContain('→ Fix the command, then rerun.');
		expect(screen).toContain('log: /tmp/delta.log');
	});
});
