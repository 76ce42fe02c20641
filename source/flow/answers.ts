// flow/: the journey (journey.ts runs the table in journey-steps.ts), where answers come from (answers.ts, ask.ts),
// the events every presenter subscribes to (events.ts), their reducer (state.ts) and --dry-run's plan (plan.ts).
import path from 'node:path';
import type {Flags} from '../flags.js';
import type {Sdk} from '../services/sdk.js';
import type {ProjectAnswers, SavedImage} from '../services/store.js';

/** The module a run reads and writes when --output and the saved answers name none. */
export const DEFAULT_MODULE = 'image_specs.py';

/** The module the wizard writes for Flyte 2, beside (never in) an ImageSpec module. */
export const DEFAULT_FLYTE_MODULE = 'flyte_images.py';

/**
 * Where every answer comes from, resolved once per run and never changed: this run's flags (and
 * a rerun menu's choice), then the saved answers, into which the team's module's declared setup
 * is folded when this folder saved none. A step's own default, or its question, comes last.
 */
export type Answers = Readonly<{
	flags: Readonly<Flags>;
	saved: Readonly<ProjectAnswers>;
	/** The project's SDK: --sdk, else what the journey detected once (services/sdk.ts detectSdk). */
	sdk: Sdk;
}>;

type SetupKey = 'project' | 'location' | 'repository' | 'output';
/** What the accessors read: the flags and the saved answers. */
type Given = Pick<Answers, 'flags' | 'saved'>;

/** The one accessor: the flag, else the declared or saved answer; undefined leaves it to the step. */
export const answer = (answers: Given, key: SetupKey): string | undefined => answers.flags[key] ?? answers.saved[key];

/** The image the last run worked on: a script's default image name and builder. */
export const lastImage = (answers: Given): SavedImage | undefined => Object.values(answers.saved.images ?? {}).at(-1);

/** The module file: --output, else the saved one, else image_specs.py in the project folder. */
export const moduleFileOf = (answers: Given, where: {cwd: string; folder: string}): string =>
	path.resolve(where.cwd, answer(answers, 'output') ?? path.join(where.folder, DEFAULT_MODULE));

/** Answers no step can change (a step that must decide differently gets new ones, e.g. the rerun plan). */
export const freezeAnswers = (flags: Flags, saved: ProjectAnswers, detected: Sdk): Answers =>
	Object.freeze({flags: Object.freeze({...flags}), saved: Object.freeze({...saved}), sdk: flags.sdk ?? detected});

/** New answers with `given` taken as flags: a rerun menu's choice, never a change to the old ones. */
export const withFlags = (answers: Answers, given: Partial<Flags>): Answers => freezeAnswers({...answers.flags, ...given}, answers.saved, answers.sdk);
