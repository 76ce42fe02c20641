import meow from 'meow';
import {createAsker, type Prompter} from './flow/ask.js';
import type {JourneyResult, Reporter} from './flow/events.js';
import {runJourney} from './flow/journey.js';
import {initialState, isCompleted, reduce, type FlowState} from './flow/state.js';
import {defaultFlags, splitList, type Flags} from './flags.js';
import {splitRequirements} from './services/pep508.js';
import {StepError, UsageError, isAbort} from './services/errors.js';
import {currentPlatform} from './services/platform.js';
import {openStore, projectFolder} from './services/store.js';
import {hasTerminal, isCi, plainByEnv} from './mode.js';
import {writeHeader} from './present/header.js';
import {createInkSession} from './present/ink-session.js';
import {createPlainReporter} from './present/plain.js';

export const EXIT = {ok: 0, failed: 1, usage: 2, cancelled: 130} as const;

const HELP = `
  Usage
    $ imagespec-gar [options]          set up Artifact Registry and push an ImageSpec image
    $ imagespec-gar doctor [--json]    check gcloud, credentials and docker, and say how to fix them

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
    --dry-run                show that IAM policy change without sending it

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
    --sdk union|flytekit     what the module imports (default: flytekit when the project uses it without union)

  Behaviour
    --no-build               author the spec and compute the tag, but do not build or push
    --force                  build and push even when the tag is already in the repository
    --yes                    do not ask: flags, then saved answers, then defaults
    --json                   print the result as one JSON document on stdout (progress on stderr)
    --plain                  line-by-line prompts, no animation (also TERM=dumb, INK_SCREEN_READER=true)
    --help, --version

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
    CLOUDSDK_CONFIG, DOCKER_CONFIG, DOCKER_HOST, XDG_CONFIG_HOME, NO_COLOR are honoured. The gcloud
    account and project are read from gcloud's own files (CLOUDSDK_ACTIVE_CONFIG_NAME,
    CLOUDSDK_CORE_ACCOUNT and CLOUDSDK_CORE_PROJECT count); gcloud runs only when they do not answer.

  Examples
    $ imagespec-gar
    $ imagespec-gar --project acme-ml --location us-east1 --repository union-images \\
        --image trainer --packages pandas,union --yes
    $ imagespec-gar doctor
`;

const parseCli = (argv: string[]) =>
	meow(HELP, {
		importMeta: import.meta,
		argv,
		allowUnknownFlags: false,
		booleanDefault: undefined,
		flags: {
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
			build: {type: 'boolean', default: true},
			force: {type: 'boolean', default: false},
			yes: {type: 'boolean', default: false},
			json: {type: 'boolean', default: false},
			plain: {type: 'boolean', default: false},
		},
	});

/**
 * signal / cancel: the run's cancellation, which Ctrl-C and SIGTERM trigger (the entry listens
 * from its first line); the Ink view calls cancel for Ctrl-C in raw mode.
 * headerWritten: the entry drew the header already (see surelyInk).
 */
export async function main(argv: string[], options: {signal: AbortSignal; cancel: () => void; headerWritten?: boolean}): Promise<number> {
	let cli: ReturnType<typeof parseCli>;
	try {
		cli = parseCli(argv);
	} catch (error) {
		// meow throws (rather than exits) for a flag given twice.
		process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\nRun imagespec-gar --help for usage.\n`);
		return EXIT.usage;
	}

	const [command, ...extra] = cli.input;
	if ((command !== undefined && command !== 'doctor') || extra.length > 0) {
		process.stderr.write(`Unknown command: ${cli.input.join(' ')}\nRun imagespec-gar --help for usage.\n`);
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

	// Before anything loads (the store's modules, Ink): the person sees the wizard start at once.
	if (ink && !options.headerWritten) writeHeader();
	const store = await openStore({folder: projectFolder(process.cwd()), platform});
	let flow: FlowState = initialState();
	const track = (present: Reporter): Reporter => event => {
		flow = reduce(flow, event);
		present(event);
	};

	const writeErr = (line: string) => process.stderr.write(`${line}\n`);
	const journey = async (prompter: Prompter | undefined, report: Reporter, viewReady?: Promise<void>) =>
		runJourney({flags, cwd: process.cwd(), ctx: {platform, signal}, ask: createAsker(prompter, signal), report, store, viewReady});

	if (!ink) {
		const {createInquirerPrompter} = await import('./present/inquirer.js');
		const report = track(createPlainReporter(writeErr));
		try {
			const result = await journey(interactive ? createInquirerPrompter() : undefined, report);
			report({type: 'done', result});
			if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
			else printPlainSummary(result, writeErr);
			return EXIT.ok;
		} catch (error) {
			return finish(error, flow, flags, writeErr);
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
	const outcome = journey(session.prompter, track(session.report), viewReady).then(
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
	return failure ? finish(failure.error, flow, flags, writeErr) : EXIT.ok;
}

/** Turn an error into its message, its fix, and the exit code the contract promises. */
function finish(error: unknown, flow: FlowState, flags: Flags, write: (line: string) => void): number {
	const json = (result: JourneyResult) => {
		if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
	};

	if (isAbort(error)) {
		const completed = flow.steps.filter(step => isCompleted(step.status)).map(step => step.title);
		write(`Cancelled. ${completed.length > 0 ? `Completed: ${completed.join(', ')}.` : 'Nothing was changed.'} Your answers so far are saved: rerun imagespec-gar to resume.`);
		json({ok: false, pushed: false, error: {message: 'cancelled', reason: 'CANCELLED'}});
		return EXIT.cancelled;
	}

	if (error instanceof UsageError) {
		write(`Error: ${error.message}`);
		write('Run imagespec-gar --help for usage.');
		json({ok: false, pushed: false, error: {message: error.message, reason: 'USAGE'}});
		return EXIT.usage;
	}

	if (error instanceof StepError) {
		// The failed step already printed its message and fix through the reporter.
		json({...flow.result, ok: false, pushed: false, error: {message: error.message, fix: error.fix, reason: error.reason}});
		return EXIT.failed;
	}

	write(`Unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
	json({ok: false, pushed: false, error: {message: String(error)}});
	return EXIT.failed;
}

function printPlainSummary(result: JourneyResult, write: (line: string) => void) {
	write('');
	write(result.pushed ? 'Done: the image is in Artifact Registry.' : result.inRepository ? 'Done: the image was already in Artifact Registry.' : 'Done: the ImageSpec is ready.');
	if (result.imageUri) write(`  image:     ${result.imageUri}${result.inRepository === false ? ' (not in the repository yet)' : ''}`);
	if (result.digest) write(`  digest:    ${result.digest}`);
	if (result.specFile) write(`  spec file: ${result.specFile}`);
	if (result.usage) {
		write('  use it in a task:');
		for (const line of result.usage) write(line ? `    ${line}` : '');
	}

	if (result.nextCommand) write(`  next:      ${result.nextCommand}`);
}
