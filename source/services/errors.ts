/**
 * Failures the user can act on. Every service turns tool/API failures into one of these,
 * so each presenter (Ink, plain, JSON) can show the same message and fix.
 */
export class StepError extends Error {
	override readonly name = 'StepError';
	/** A command or action that fixes it, shown under the message. */
	readonly fix?: string;
	/** Machine-readable reason, e.g. 'SERVICE_DISABLED', 'NO_ADC'. */
	readonly reason?: string;

	constructor(message: string, options: {fix?: string; reason?: string; cause?: unknown} = {}) {
		super(message, {cause: options.cause});
		this.fix = options.fix;
		this.reason = options.reason;
	}
}

/** Bad usage or invalid input: exit code 2. `flag` names the flag the user should give or fix. */
export class UsageError extends Error {
	override readonly name = 'UsageError';
	readonly flag?: string;

	constructor(message: string, flag?: string) {
		super(message);
		this.flag = flag;
	}
}

/** The user cancelled (Ctrl-C, SIGTERM, Escape on a prompt): exit code 130. */
export class CancelledError extends Error {
	override readonly name = 'CancelledError';
	constructor(message = 'Cancelled') {
		super(message);
	}
}

export const isAbort = (error: unknown): boolean =>
	error instanceof CancelledError || (error instanceof Error && (error.name === 'AbortError' || (error as {isCanceled?: boolean}).isCanceled === true));
