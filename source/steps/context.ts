import type {Flags} from '../flags.js';
import type {Asker} from '../flow/ask.js';
import type {Reporter} from '../flow/events.js';
import type {ServiceContext} from '../services/context.js';
import type {ProjectAnswers} from '../services/store.js';

/** What every step gets: the flags, where the answers come from, where statuses go. */
export type StepContext = {
	flags: Flags;
	/** Where the command runs. */
	cwd: string;
	/** The project folder answers belong to (git root, else cwd). */
	folder: string;
	ctx: ServiceContext & {signal: AbortSignal};
	ask: Asker;
	report: Reporter;
	/** Saved answers as they were when the run started. */
	saved: ProjectAnswers;
};
