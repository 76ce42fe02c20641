/**
 * Drops the process warnings `drop` picks (libraries' chatter on stderr garbles an Ink screen)
 * and passes every other one on. Returns the undo: it steps aside only while its filter is still
 * the outermost, so a filter installed meanwhile on top (which calls ours) is never lost.
 */
export const filterWarnings = (drop: (type: string | undefined, message: string) => boolean): (() => void) => {
	const previous = process.emitWarning;
	const filtered = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
		// Node names an Error warning by its name, a string one by its type argument.
		const option = rest[0];
		const type = warning instanceof Error ? warning.name : typeof option === 'string' ? option : (option as {type?: string} | undefined)?.type;
		if (drop(type, warning instanceof Error ? warning.message : warning)) return;
		(previous as (...args: unknown[]) => void).call(process, warning, ...rest);
	} as typeof process.emitWarning;
	process.emitWarning = filtered;
	return () => {
		if (process.emitWarning === filtered) process.emitWarning = previous;
	};
};
