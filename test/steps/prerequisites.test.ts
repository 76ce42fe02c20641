import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it, type TestContext} from 'vitest';
import {defaultFlags} from '../../source/flags.js';
import {createAsker, type Prompter} from '../../source/flow/ask.js';
import type {JourneyEvent} from '../../source/flow/events.js';
import {StepError} from '../../source/services/errors.js';
import {readGcloudState} from '../../source/services/gcloud.js';
import type {StepContext} from '../../source/steps/context.js';
import {checkPrerequisites} from '../../source/steps/prerequisites.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {DEFAULT_ACCOUNT, loginOffline, realGcloud, shimTool, writeAdc, writeLoginKey} from '../support/gcloud.js';
import {scriptedPerson, type Reply} from '../support/scripted-person.js';

/**
 * gcloud as a person uses it, offline: `auth login` is the real gcloud activating a key (what
 * the browser sign-in ends in), `auth application-default login` writes the ADC file; the rest
 * is the real gcloud. `loginExit` makes the login fail instead (the person closed the browser).
 */
const personalGcloud = async (box: Sandbox, options: {loginExit?: number} = {}) => {
	const key = await writeLoginKey(box);
	const adcSource = path.join(box.root, 'adc-source.json');
	await writeAdc({...box, cloudsdkConfig: box.root} as Sandbox, {type: 'authorized_user'}).then(async file => writeFile(adcSource, await readFile(file)));
	const real = await realGcloud(box);
	const log = path.join(box.root, 'logins.log');
	await shimTool(
		box,
		'gcloud',
		[
			'case "$1 $2" in',
			`"auth login") echo "auth login" >> '${log}'; ` +
				`${options.loginExit === undefined ? `exec '${real}' auth activate-service-account --key-file='${key}'` : `exit ${options.loginExit}`} ;;`,
			`"auth application-default") echo "adc login" >> '${log}'; cp '${adcSource}' "$CLOUDSDK_CONFIG/application_default_credentials.json"; exit 0 ;;`,
			'esac',
			`exec '${real}' "$@"`,
		].join('\n'),
	);
	return {logins: async () => (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean)};
};

type Harness = StepContext & {events: JourneyEvent[]};

const harness = (box: Sandbox, prompter: Prompter | undefined): Harness => {
	const events: JourneyEvent[] = [];
	const controller = new AbortController();
	const run: Harness = {
		flags: defaultFlags(),
		cwd: box.project,
		folder: box.project,
		ctx: {platform: box.platform, signal: controller.signal},
		ask: createAsker(prompter, controller.signal),
		report: event => events.push(event),
		saved: {},
		sdk: 'union',
		events,
	};
	return run;
};

/** A scripted person whose terminal can be handed over (counted). */
const person = (script: Array<[RegExp, Reply]>, counter: {handedOver: number}) => {
	const scripted = scriptedPerson(script);
	const prompter: Prompter = {
		...scripted.prompter,
		async handOverTerminal(work) {
			counter.handedOver++;
			return work();
		},
	};
	return {...scripted, prompter};
};

const sandbox = async (context: TestContext) => {
	const box = await makeSandbox({env: {DOCKER_HOST: 'unix:///nonexistent.sock'}});
	context.onTestFinished(async () => box.cleanup());
	return box;
};

const needs = {docker: false, adc: true};
const rounds = (events: JourneyEvent[]) => events.filter(event => event.type === 'checks-started').length;

describe.concurrent('checkPrerequisites: logins the wizard runs for you', () => {
	it('logged out, no ADC: offers both logins, runs them on the terminal, checks again and goes on', async context => {
		const box = await sandbox(context);
		const gcloud = await personalGcloud(box);
		const counter = {handedOver: 0};
		const you = person(
			[
				[/^Run `gcloud auth login` now\?/, true],
				[/^Run `gcloud auth application-default login` now\?/, true],
			],
			counter,
		);
		const c = harness(box, you.prompter);
		const outcome = await checkPrerequisites(c, needs);

		expect(you.left()).toBe(0);
		expect(counter.handedOver).toBe(2);
		expect(await gcloud.logins()).toEqual(['auth login', 'adc login']);
		expect(rounds(c.events)).toBe(2);
		const byId = Object.fromEntries(outcome.checks.map(check => [check.id, check]));
		expect(byId.account).toMatchObject({status: 'ok', detail: DEFAULT_ACCOUNT});
		expect(byId.adc).toMatchObject({status: 'ok'});
		expect(outcome.gcloud.account).toBe(DEFAULT_ACCOUNT);
	});

	it('declined: stops with the fixes, nothing run, gcloud still logged out', async context => {
		const box = await sandbox(context);
		const gcloud = await personalGcloud(box);
		const counter = {handedOver: 0};
		const you = person(
			[
				[/gcloud auth login/, false],
				[/gcloud auth application-default login/, false],
			],
			counter,
		);
		const error = await checkPrerequisites(harness(box, you.prompter), needs).catch((error_: unknown) => error_);
		expect(error).toBeInstanceOf(StepError);
		expect(error).toMatchObject({reason: 'PREREQUISITES'});
		expect((error as StepError).fix).toBe('gcloud auth login\ngcloud auth application-default login');
		expect(counter.handedOver).toBe(0);
		expect(await gcloud.logins()).toEqual([]);
		expect((await readGcloudState(box.context())).account).toBeUndefined();
	});

	it('a login that fails is said, offered once more, then the run stops', async context => {
		const box = await sandbox(context);
		const gcloud = await personalGcloud(box, {loginExit: 1});
		await writeAdc(box);
		const counter = {handedOver: 0};
		const you = person(
			[
				[/gcloud auth login/, true],
				[/gcloud auth login/, true],
			],
			counter,
		);
		const c = harness(box, you.prompter);
		await expect(checkPrerequisites(c, needs)).rejects.toMatchObject({reason: 'PREREQUISITES', fix: 'gcloud auth login'});
		expect(you.left()).toBe(0);
		expect(await gcloud.logins()).toEqual(['auth login', 'auth login']);
		expect(c.events.filter(event => event.type === 'note').map(event => (event as {text: string}).text)).toEqual([
			'`gcloud auth login` exited with code 1.',
			'`gcloud auth login` exited with code 1.',
		]);
		expect(rounds(c.events)).toBe(3);
	});

	it('non-interactive, or a prompter that cannot hand the terminal over: never offered, the fixes are printed', async context => {
		const box = await sandbox(context);
		const gcloud = await personalGcloud(box);
		const plainPerson = scriptedPerson([]);
		for (const prompter of [undefined, plainPerson.prompter]) {
			// one after the other: both read the same gcloud
			await expect(checkPrerequisites(harness(box, prompter), needs)).rejects.toMatchObject({reason: 'PREREQUISITES'});
		}

		expect(plainPerson.asked).toEqual([]);
		expect(await gcloud.logins()).toEqual([]);
	});
});

describe('checkPrerequisites: a Flyte 2 project', () => {
	it('asks whether flyte imports (and its CLI is here), not union or flytekit', async context => {
		const box = await sandbox(context);
		await loginOffline(box);
		await writeFile(path.join(box.project, 'requirements.txt'), 'flyte==2.6.5\n');
		// A Python whose flyte is 2.6.5: it answers the probe as that Python would.
		await shimTool(box, 'python3', 'printf 2.6.5');
		// The journey detected the SDK once (flyte==2.6.5): the checks read it from the answers.
		const c = {...harness(box, person([], {handedOver: 0}).prompter), sdk: 'flyte' as const};
		const outcome = await checkPrerequisites(c, {docker: false, adc: false});
		const ids = outcome.checks.map(check => check.id);
		expect(ids).toContain('flyte-sdk');
		expect(ids).not.toContain('python');
		expect(outcome.checks.find(check => check.id === 'flyte-sdk')?.detail).toMatch(/^flyte 2\.6\.5 imports in .*python3; no flyte CLI on PATH/);
		expect(c.events.find(event => event.type === 'checks-started')).toMatchObject({ids: expect.arrayContaining(['flyte-sdk'])});
	});
});
