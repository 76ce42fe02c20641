import {describe, expect, it} from 'vitest';
import {defaultFlags} from '../../source/flags.js';
import {answer, lastImage, moduleFileOf} from '../../source/flow/answers.js';
import {planRerun, resolveAnswers, type KnownSetup} from '../../source/steps/setup.js';
import type {SavedImage} from '../../source/services/store.js';

const image = (name: string, builder: 'local' | 'union' = 'local'): SavedImage => ({
	name,
	tag: 't',
	imageUri: `u/${name}:t`,
	specFile: 'm.py',
	builder,
	updatedAt: '',
});
const known: KnownSetup = {
	source: 'module',
	project: 'acme-ml',
	location: 'us-east1',
	repository: 'team-images',
	moduleFile: '/p/image_specs.py',
	images: [image('declared')],
};

describe('answers, resolved once', () => {
	it('a flag wins over the saved answer; the saved one over nothing', () => {
		const answers = resolveAnswers({...defaultFlags(), location: 'europe-west4'}, {project: 'saved-project', location: 'us-east1'}, undefined, 'union');
		expect(answer(answers, 'location')).toBe('europe-west4');
		expect(answer(answers, 'project')).toBe('saved-project');
		expect(answer(answers, 'repository')).toBeUndefined();
	});

	it("a folder that saved no setup takes the team's module's, with saved images after the declared ones", () => {
		const answers = resolveAnswers(defaultFlags(), {images: {mine: image('mine', 'union')}}, known, 'union');
		expect([answer(answers, 'project'), answer(answers, 'location'), answer(answers, 'repository')]).toEqual(['acme-ml', 'us-east1', 'team-images']);
		expect(lastImage(answers)).toMatchObject({name: 'mine', builder: 'union'});
	});

	it('the module file: --output, else the saved one, else image_specs.py in the project folder', () => {
		const where = {cwd: '/p/sub', folder: '/p'};
		expect(moduleFileOf(resolveAnswers(defaultFlags(), {}, undefined, 'union'), where)).toBe('/p/image_specs.py');
		expect(moduleFileOf(resolveAnswers(defaultFlags(), {output: 'saved.py'}, undefined, 'union'), where)).toBe('/p/sub/saved.py');
		expect(moduleFileOf(resolveAnswers({...defaultFlags(), output: '/x/flag.py'}, {output: 'saved.py'}, undefined, 'union'), where)).toBe('/x/flag.py');
	});

	it('no step can change them', () => {
		const answers = resolveAnswers(defaultFlags(), {project: 'acme-ml'}, undefined, 'union');
		expect(Object.isFrozen(answers.flags)).toBe(true);
		expect(Object.isFrozen(answers.saved)).toBe(true);
		expect(() => {
			(answers.flags as {force: boolean}).force = true;
		}).toThrow(TypeError);
	});
});

describe('the rerun menu returns a plan', () => {
	const before = resolveAnswers({...defaultFlags(), project: 'other'}, {project: 'acme-ml', repository: 'old'}, undefined, 'union');

	it('rebuild: the known setup, that image, --force, asked of no one; the answers it came from unchanged', () => {
		const plan = planRerun(before, known, {action: 'rebuild', image: 'declared'});
		expect(plan.asked).toBe(false);
		expect(plan.answers.flags).toMatchObject({project: 'acme-ml', location: 'us-east1', repository: 'team-images', image: 'declared', force: true});
		expect(before.flags).toMatchObject({project: 'other', force: false});
		expect(before.flags.image).toBeUndefined();
	});

	it('build-missing hands the images over; start-over forgets the saved answers; change keeps everything', () => {
		expect(planRerun(before, known, {action: 'build-missing', images: ['a', 'b']})).toMatchObject({asked: false, buildImages: ['a', 'b']});
		const fresh = planRerun(before, known, {action: 'start-over'});
		expect(fresh).toMatchObject({asked: true});
		expect(fresh.answers.saved).toEqual({});
		expect(before.saved).toEqual({project: 'acme-ml', repository: 'old'});
		expect(planRerun(before, known, {action: 'change'})).toEqual({answers: before, asked: true});
		expect(planRerun(before, known, {action: 'add'}).answers.flags).toMatchObject({project: 'acme-ml', repository: 'team-images'});
	});
});
