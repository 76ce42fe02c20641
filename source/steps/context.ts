import type {Asker} from '../flow/ask.js';
import type {Answers} from '../flow/answers.js';
import type {Reporter} from '../flow/events.js';
import type {ServiceContext} from '../services/context.js';

/**
 * What every step gets: the run's answers (read-only: see flow/answers.ts), where a missing one
 * is asked, where statuses go.
 */
export type StepContext = Answers & {
	/** Where the command runs. */
	cwd: string;
	/** The project folder answers belong to (git root, else cwd). */
	folder: string;
	ctx: ServiceContext & {signal: AbortSignal};
	ask: Asker;
	report: Reporter;
};
