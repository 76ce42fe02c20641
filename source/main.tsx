import meow from 'meow';
import {createAsker, type Prompter} from './flow/ask.js';
import {declarationNoun, type JourneyResult, type Reporter} from './flow/events.js';
import {runJourney} from './flow/journey.js';
import {planLines, planThenApply} from './flow/plan.js';
import {initialState, isCompleted, reduce, type FlowState} from './flow/state.js';
import {checkArgv} from './argv.js';
import {defaultFlags, splitList, type Flags} from './flags.js';
import type {StartedCredentialHelper} from './services/credential-helper.js';
import {splitRequirements} from './services/pep508.js';
import {StepError, UsageError, isAbort} from './services/errors.js';
import {fileError} from './services/file-safety.js';
import {currentPlatform} from './services/platform.js';
import {openStore, projectFolder} from './services/store.js';
import {hasTerminal, isCi, plainByEnv} from './mode.js';
import {writeHeader} from './present/header.js';
import {HELP} from './help.js';
import {createInkSession} from './present/ink-session.js';
import {createJsonPresenter, type JsonPresenter} from './present/json.js';
import {createPlainReporter} from './present/plain.js';

export const EXIT = {ok: 0, failed: 1, usage: 2, cancelled: 130} as const;

/** Every flag and its type: meow parses them, checkArgv judges argv against them first. */
const FLAG_TYPES = {
	project: {type: 'string'},
	location: {type: 'string'},
	repository: {type: 'string'},
	create: {type: 'boolean', default: true},
	description: {type: 'string'},
	label: {type: 'string', isMultiple: true},
	immutableTags: {type: 'boolean'},
	cleanup: {type: 'string'},
	dataPlaneSa: {type: 'string'},
	builderSa: {type: 'string'},
	operatorProxySa: {type: 'string'},
	dryRun: {type: 'boolean', default: false},
	format: {type: 'string'},
	all: {type: 'boolean'},
	jobs: {type: 'string'},
	image: {type: 'string'},
	baseImage: {type: 'string'},
	pythonVersion: {type: 'string'},
	packages: {type: 'string'},
	requirements: {type: 'string'},
	aptPackages: {type: 'string'},
	env: {type: 'string', isMultiple: true},
	commands: {type: 'string', isMultiple: true},
	pipIndex: {type: 'string'},
	pipExtraIndexUrl: {type: 'string', isMultiple: true},
	platform: {type: 'string'},
	tagFormat: {type: 'string'},
	builder: {type: 'string'},
	output: {type: 'string'},
	sdk: {type: 'string'},
	flyteConfig: {type: 'boolean'},
	build: {type: 'boolean', default: true},
	force: {type: 'boolean', default: false},
	allowSecrets: {type: 'boolean', default: false},
	yes: {type: 'boolean', default: false},
	json: {type: 'boolean', default: false},
	plain: {type: 'boolean', default: false},
} as const;

const parseCli = (argv: string[]) =>
	meow(HELP, {
		importMeta: import.meta,
		argv,
		allowUnknownFlags: false,
		booleanDefault: undefined,
		flags: FLAG_TYPES,
	});

/**
 * signal / cancel: the run's cancellation, which Ctrl-C and SIGTERM trigger (the entry listens
 * from its first line); the Ink view calls cancel for Ctrl-C in raw mode.
 * headerWritten: the entry drew the header already (see surelyInk).
 * credentialHelper: doctor's, started by the entry before this module loaded.
 */
export async function main(
	argv: string[],
	options: {signal: AbortSignal; cancel: () => void; headerWritten?: boolean; credentialHelper?: StartedCredentialHelper},
): Promise<number> {
	let cli: ReturnType<typeof parseCli>;
	// Before meow, whose own message ("Unknown flag", then the token) names no flag and no fix.
	const argvProblem = checkArgv(argv, FLAG_TYPES);
	if (argvProblem) {
		process.stderr.write(`Error: ${argvProblem}\nRun imagespec-gar --help for usage.\n`);
		if (argv.includes('--json'))
			process.stdout.write(`${JSON.stringify({ok: false, pushed: false, error: {message: argvProblem, reason: 'USAGE'}}, null, 2)}\n`);
		return EXIT.usage;
	}

	try {
		cli = parseCli(argv);
	} catch (error) {
		// meow throws (rather than exits) for a flag given twice.
		process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\nRun imagespec-gar --help for usage.\n`);
		return EXIT.usage;
	}

	const [command, ...extra] = cli.input;
	if ((command !== undefined && !['doctor', 'export', 'status', 'build'].includes(command)) || (extra.length > 0 && command !== 'build')) {
		process.stderr.write(`Unknown command: ${cli.input.join(' ')}\nRun imagespec-gar --help for usage.\n`);
		return EXIT.usage;
	}
	const only = (name: string, given: unknown) => given !== undefined && command !== 'build' && `--${name} is only for imagespec-gar build`;
	const misplaced = only('all', cli.flags.all) || only('jobs', cli.flags.jobs);
	if (misplaced) {
		process.stderr.write(`Error: ${misplaced}\nRun imagespec-gar --help for usage.\n`);
		return EXIT.usage;
	}

	const raw = cli.flags;
	const flags: Flags = {
		...defaultFlags(),
		...Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined)),
		packages: raw.packages === undefined ? undefined : splitRequirements(raw.packages),
		aptPackages: splitList(raw.aptPackages),
		label: raw.label ?? [],
		env: raw.env ?? [],
		commands: raw.commands ?? [],
		pipExtraIndexUrl: raw.pipExtraIndexUrl ?? [],
	};

	const env = process.env;
	const platform = currentPlatform(env);
	const interactive = hasTerminal() && !isCi(env) && !flags.yes && !flags.json;
	const plain = flags.plain || plainByEnv(env);
	const ink = interactive && !plain;

	const {signal, cancel} = options;

	if (command === 'doctor') {
		const {runDoctor} = await import('./steps/doctor.js');
		return await runDoctor({
			flags,
			cwd: process.cwd(),
			platform,
			signal,
			ink,
			stdout: text => process.stdout.write(text),
			stderr: text => process.stderr.write(text),
			credentialHelper: options.credentialHelper,
		});
	}

	const write = {stdout: (text: string) => process.stdout.write(text), stderr: (text: string) => process.stderr.write(text)};
	if (command === 'export') {
		const {runExport} = await import('./steps/export.js');
		return runExport({flags, cwd: process.cwd(), platform, signal, ...write});
	}

	if (flags.format !== undefined) {
		process.stderr.write('Error: --format belongs to imagespec-gar export\nRun imagespec-gar --help for usage.\n');
		return EXIT.usage;
	}

	const images = {flags, cwd: process.cwd(), platform, signal, ink, ...write};
	if (command === 'status' || command === 'build') {
		const {runBuild, runStatus} = await import('./steps/images.js');
		return command === 'status' ? runStatus(images) : runBuild({...images, names: extra});
	}

	// The rerun menu's "build every missing image": the build command, once the wizard is done.
	const handOverToBuild = async (names: string[]) => (await import('./steps/images.js')).runBuild({...images, names});

	// Before anything loads (the store's modules, Ink): the person sees the wizard start at once.
	if (ink && !options.headerWritten) writeHeader();
	const store = await openStore({folder: projectFolder(process.cwd()), platform});
	const writeErr = (line: string) => process.stderr.write(`${line}\n`);
	const runOnce = async (prompter: Prompter | undefined, report: Reporter, viewReady?: Promise<void>, dryRun = flags.dryRun) =>
		runJourney({flags: {...flags, dryRun}, cwd: process.cwd(), ctx: {platform, signal}, ask: createAsker(prompter, signal), report, store, viewReady});
	// An interactive --dry-run ends on its plan and "Apply these changes?": reviewed once, applied once.
	const journey = async (prompter: Prompter | undefined, report: Reporter, viewReady?: Promise<void>, shown?: (planned: JourneyResult) => void) =>
		prompter && flags.dryRun
			? planThenApply(
					prompter,
					signal,
					async (person, dryRun) => runOnce(person, report, viewReady, dryRun),
					planned => {
						report({type: 'done', result: planned});
						shown?.(planned);
					},
				)
			: runOnce(prompter, report, viewReady);

	// The presenters, chosen once, each a subscriber of the journey's events: the Ink view (which
	// holds the run's state), or plain lines on stderr, with --json's document on stdout beside them.
	if (!ink) {
		const {createInquirerPrompter} = await import('./present/inquirer.js');
		const json = flags.json ? createJsonPresenter(text => process.stdout.write(text)) : undefined;
		const plain = createPlainReporter(writeErr);
		let flow: FlowState = initialState();
		const report: Reporter = event => {
			flow = reduce(flow, event);
			plain(event);
			json?.report(event);
		};

		try {
			const result = await journey(interactive ? createInquirerPrompter() : undefined, report, undefined, planned => printPlainSummary(planned, writeErr));
			if (result.plan && interactive) return EXIT.ok;
			report({type: 'done', result});
			if (result.buildImages) return handOverToBuild(result.buildImages);
			json?.succeeded(result);
			// A dry run's plan is its point: on stderr under --json too.
			if (!json || result.plan) printPlainSummary(result, writeErr);
			return EXIT.ok;
		} catch (error) {
			return finish(error, flow, writeErr, json);
		}
	}

	// Interactive: the Ink view draws the session; the journey feeds it. The journey (its checks
	// spawn gcloud, docker, python) starts before Ink and React load: the view picks up the
	// session's state whenever it mounts.
	const session = createInkSession();
	let drawn!: () => void;
	const viewReady = new Promise<void>(resolve => {
		drawn = resolve;
	});
	const outcome = journey(session.prompter, session.report, viewReady).then(
		result => ({result}),
		(error: unknown) => ({error}),
	);
	const [{render}, {App}] = await Promise.all([import('ink'), import('./app.js')]);
	const instance = render(<App session={session} onCancel={cancel} />, {exitOnCtrlC: false});
	await instance.waitUntilRenderFlush();
	drawn();
	const ended = await outcome;
	if ('result' in ended) session.report({type: 'done', result: ended.result});
	const failure = 'error' in ended ? ended : undefined;

	// Let the last frame (the summary, or the failed step) reach the screen: unmount skips it.
	await instance.waitUntilRenderFlush();
	instance.unmount();
	await instance.waitUntilExit();
	// A failed step is already on screen with its fix; anything else is printed once the view is gone.
	if (failure) return finish(failure.error, session.getSnapshot().flow, writeErr);
	return 'result' in ended && ended.result.buildImages ? handOverToBuild(ended.result.buildImages) : EXIT.ok;
}

/** Turn an error into its message, its fix, and the exit code the contract promises. */
function finish(error: unknown, flow: FlowState, write: (line: string) => void, json?: JsonPresenter): number {
	if (isAbort(error)) {
		const completed = flow.steps.filter(step => isCompleted(step.status)).map(step => step.title);
		write(
			`Cancelled. ${completed.length > 0 ? `Completed: ${completed.join(', ')}.` : 'Nothing was changed.'} ` +
				'Your answers so far are saved: rerun imagespec-gar to resume.',
		);
		json?.failed({message: 'cancelled', reason: 'CANCELLED'});
		return EXIT.cancelled;
	}

	if (error instanceof UsageError) {
		write(`Error: ${error.message}`);
		write('Run imagespec-gar --help for usage.');
		json?.failed({message: error.message, reason: 'USAGE'});
		return EXIT.usage;
	}

	if (error instanceof StepError) {
		// A failed step already printed its message and fix through the reporter; a failure between steps did not.
		if (!flow.steps.some(step => step.status === 'failed')) {
			write(`Error: ${error.message}`);
			if (error.fix) write(`Fix: ${error.fix}`);
		}

		json?.failed({message: error.message, fix: error.fix, reason: error.reason});
		return EXIT.failed;
	}

	// A filesystem failure outside a step (the saved answers' folder read-only or full): its file and fix.
	const mapped = fileError(error, 'write');
	if (mapped instanceof StepError) {
		write(`Error: ${mapped.message}`);
		if (mapped.fix) write(`Fix: ${mapped.fix}`);
		json?.failed({message: mapped.message, fix: mapped.fix, reason: mapped.reason});
		return EXIT.failed;
	}

	// One line, never a stack trace.
	const message = error instanceof Error ? error.message : String(error);
	write(`Unexpected error: ${message}`);
	json?.failed({message, reason: 'UNEXPECTED'});
	return EXIT.failed;
}

function printPlainSummary(result: JourneyResult, write: (line: string) => void) {
	write('');
	if (result.plan) {
		write(`Dry run: nothing was changed. ${result.plan.length === 0 ? '' : 'The plan, in order:'}`.trimEnd());
		for (const line of planLines(result.plan)) write(`  ${line}`);
		write('Run the same command without --dry-run to make these changes.');
		return;
	}

	write(
		result.pushed
			? 'Done: the image is in Artifact Registry.'
			: result.inRepository
				? 'Done: the image was already in Artifact Registry.'
				: `Done: the ${declarationNoun(result.sdk)} is ready.`,
	);
	if (result.imageUri) write(`  image:     ${result.imageUri}${result.inRepository === false ? ' (not in the repository yet)' : ''}`);
	if (result.digest) write(`  digest:    ${result.digest}`);
	if (result.specFile) write(`  module:    ${result.specFile}`);
	if (result.usage) {
		write('  use it in a task:');
		for (const line of result.usage) write(line ? `    ${line}` : '');
	}

	if (result.nextCommand) write(`  next:      ${result.nextCommand}`);
}
