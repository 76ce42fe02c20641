import type {JourneyEvent, JourneyResult, Reporter, StepId} from '../flow/events.js';

export type JsonFailure = {message: string; fix?: string; reason?: string};

/**
 * --json: one document on stdout when the run ends. On success the result; on failure everything
 * known so far (project, location, repository, image…), the error, and the step it happened in.
 */
export const createJsonPresenter = (write: (text: string) => void) => {
	let known: JourneyResult | undefined;
	let step: StepId | undefined;
	const print = (document: JourneyResult) => write(`${JSON.stringify(document, null, 2)}\n`);
	const report: Reporter = (event: JourneyEvent) => {
		if (event.type === 'known') known = event.result;
		if (event.type === 'step' && (event.status === 'failed' || event.status === 'cancelled')) step = event.step;
	};

	return {
		report,
		succeeded: print,
		failed(error: JsonFailure) {
			print({pushed: false, ...known, ok: false, error: {...error, ...(step ? {step} : {})}});
		},
	};
};

export type JsonPresenter = ReturnType<typeof createJsonPresenter>;
