import meow from 'meow';
import {createAsker, type Prompter} from './flow/ask.js';
import type {JourneyResult, Reporter} from './flow/events.js';
import {runJourney} from './flow/journey.js';
import {planLines, planThenApply} from './flow/plan.js';
import {initialState, isCompleted, reduce, type FlowState} from './flow/state.js';
import {checkArgv} from './argv.js';
import {defaultFlags, splitList, type Flags} from './flags.js';
import {splitRequirements} from './services/pep508.js';
import {StepError, UsageError, isAbort} from './services/errors.js';
import {fileError} from './services/file-safety.js';
import {currentPlatform} from './services/platform.js';
import {openStore, projectFolder} from './services/store.js';
import {hasTerminal, isCi, plainByEnv} from './mode.js';
import {writeHeader} from './present/header.js';
import {createInkSession} from './present/ink-session.js';
import {createJsonPresenter, type JsonPresenter} from './present/json.js';
import {createPlainReporter} from './present/plain.js';

export const EXIT = {ok: 0, failed: 1, usage: 2, cancelled: 130} as const;

const HELP = `
  Usage
    $ imagespec-gar [options]          set up Artifact Registry and push an ImageSpec image
    $ imagespec-gar doctor [--json]    check gcloud, credentials and docker, and say how to fix them
    $ imagespec-gar export --format gcloud|terraform [--output FILE]
                                       this folder's setup as a gcloud script or Terraform, to review or apply without this tool
    $ imagespec-gar status [--json]    which images of the module are pushed, stale or missing
    $ imagespec-gar build [NAME...] [--all] [--jobs N]
                                       build and push the named images, or every missing or stale one

  Where the image goes
    --project P              GCP project id (default: saved answer, then gcloud's project)
    --location L             Artifact Registry location, e.g. us-central1 (same region as the Union data plane)
    --repository R           Docker repository; created when it does not exist
    --no-create              never create a repository: a missing one is an error (exit 1)

  A new repository (asked when interactive)
    --description TEXT       its description
    --label K=V              a label (repeatable); managed-by=imagespec-gar is always added
    --immutable-tags         tags cannot be moved to another image once pushed
    --cleanup POLICY         none (default), keep:N (keep the N most recent versions)
                             or delete-untagged:Dd (delete untagged versions older than D days)

  A Union data plane in another project
    --data-plane-sa EMAIL    its worker service account, granted Artifact Registry Reader on the repository

  The ImageSpec
    --image NAME             image name, e.g. trainer or team/trainer
    --base-image REF         base image (default: ghcr.io/flyteorg/flytekit:py<version>-latest)
    --python-version X.Y     Python version, 3.9-3.13 (default: the local python3, as flytekit, else 3.12)
    --packages a,b           Python packages (PEP 508; "pandas>=1,<2" stays one)
    --requirements FILE      a requirements file (with --packages: created from them when missing)
    --apt-packages a,b       Debian packages
    --env K=V                environment variable (repeatable)
    --commands CMD           a command run in the image (repeatable)
    --pip-index URL          pip index URL
    --pip-extra-index-url U  extra pip index (repeatable)
    --platform P             target platform (default linux/amd64: what Union nodes run)
    --tag-format FMT         tag format, e.g. "{spec_hash}-dev"
    --builder local|union    build here with docker (default) or let Union build it at registration.
                             A local build follows flytekit's builder (flytekit appended when no package
                             is flytekit), refuses conda, cuda, lock files and source copies before
                             building, and pushes only an image whose Python imports flytekit
    --output FILE            the Python module to write (default image_specs.py in the project folder)
    --sdk union|flytekit|flyte
                             what the module imports (default: flyte when the project depends on or imports only
                             flyte (Flyte 2: flyte.Image declarations); flytekit when it uses it without union)
    --flyte-config           Flyte 2: also set image.registry in the project's flyte config.yaml (the one flyte
                             reads here, else .flyte/config.yaml); every other line of it is kept

  Status and build (every image of the module: image_specs.py, or --output FILE)
    --all                    build every missing or stale image (with --force: every image)
    --jobs N                 images built at once (default 2, at most 16)
    status exits 0 when every Artifact Registry image is pushed, 1 when any is missing, stale or
    cannot be told; build exits 1 when any image failed (each with its fix); images in other
    registries are listed and not checked.

  Behaviour
    --dry-run                read everything, change nothing (no repository, IAM change, docker config, file,
                             build, push or saved answer), and end with the plan of each change, in order;
                             interactive runs then ask "Apply these changes?"
    --no-build               author the spec and compute the tag, but do not build or push
    --force                  build and push even when the tag is already in the repository
    --allow-secrets          write a secret-looking --env value or index URL password into the module anyway
                             (refused otherwise: use pip_secret_mounts or Union secrets)
    --yes                    do not ask: flags, then saved answers, then defaults
    --json                   print the result as one JSON document on stdout (progress on stderr); on failure
                             it carries what is known so far and the failed step
    --plain                  line-by-line prompts, no animation (also TERM=dumb, INK_SCREEN_READER=true)
    --help, --version

  export
    --format gcloud|terraform  a POSIX shell script of gcloud commands (safe to rerun), or Terraform for the
                             google provider (an import block when the repository exists)
    --output FILE            write it there (atomically) instead of stdout
    The setup comes from the flags above, then this folder's saved answers, then its image_specs.py.

  Runs non-interactively (every answer from flags, saved answers or defaults) when stdin or
  stdout is not a terminal, when CI is set, or with --yes / --json. Answers are saved per
  project folder, so a rerun only asks for the new image.

  An image your module already declares is read as written: only the fields you give again
  change (shown as a diff), nothing else is rewritten and no default is added. With --yes, a
  change of an existing image's tag that no flag asked for is refused.

  Exit codes: 0 done, 1 a step failed (its fix is printed), 2 bad usage or invalid input, 130 cancelled.

  Environment
    IMAGESPEC_GAR_API_ENDPOINT=host:port    Artifact Registry API over insecure gRPC (tests, private setups)
    IMAGESPEC_GAR_REGISTRY_HOST=host:port   docker host instead of <location>-docker.pkg.dev
    IMAGESPEC_GAR_API_TIMEOUT=SECONDS       how long one Artifact Registry call may go unanswered (default 30)
    CLOUDSDK_CONFIG, DOCKER_CONFIG, DOCKER_HOST, XDG_CONFIG_HOME, XDG_STATE_HOME (build logs), NO_COLOR are honoured. The gcloud
    account and project are read from gcloud's own files (CLOUDSDK_ACTIVE_CONFIG_NAME,
    CLOUDSDK_CORE_ACCOUNT and CLOUDSDK_CORE_PROJECT count); gcloud runs only when they do not answer.

  Examples
    $ imagespec-gar
    $ imagespec-gar --project acme-ml --location us-east1 --repository union-images \\
        --image trainer --packages pandas,union --yes
    $ imagespec-gar --image trainer --dry-run
    $ imagespec-gar export --format terraform --output artifact-registry.tf
    $ imagespec-gar doctor
`;

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
 */
export async function main(argv: string[], options: {signal: AbortSignal; cancel: () => void; headerWritten?: boolean}): Promise<number> {
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
	// A private registry host (IMAGESPEC_GAR_REGISTRY_HOST) is one gcloud does not know: let both
	// `configure-docker` and the credential helper docker runs for the push accept it.
	if (env.IMAGESPEC_GAR_REGISTRY_HOST) env.CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY ??= 'true';
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
			`Cancelled. ${completed.length > 0 ? `Completed: ${completed.join(', ')}.` : 'Nothing was changed.'} Your answers so far are saved: rerun imagespec-gar to resume.`,
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
				: 'Done: the ImageSpec is ready.',
	);
	if (result.imageUri) write(`  image:     ${result.imageUri}${result.inRepository === false ? ' (not in the repository yet)' : ''}`);
	if (result.digest) write(`  digest:    ${result.digest}`);
	if (result.specFile) write(`  spec file: ${result.specFile}`);
	if (result.usage) {
		write('  use it in a task:');
		for (const line of result.usage) write(line ? `    ${line}` : '');
	}

	if (result.nextCommand) write(`  next:      ${result.nextCommand}`);
}
