/**
 * How a run talks to the person. Kept apart from main.tsx so the entry can draw the header
 * before main's modules load.
 */
export const isCi = (env: NodeJS.ProcessEnv): boolean => env.CI !== undefined && env.CI !== '' && env.CI !== '0' && env.CI.toLowerCase() !== 'false';

/** Both ends are a terminal: someone may answer questions. */
export const hasTerminal = (): boolean => Boolean(process.stdin.isTTY && process.stdout.isTTY);

/** Line-by-line output instead of Ink (screen readers, dumb terminals), whatever the flags. */
export const plainByEnv = (env: NodeJS.ProcessEnv): boolean => env.TERM === 'dumb' || env.INK_SCREEN_READER === 'true';

// Any spelling of a flag or command that rules the wizard's Ink out (`--json`, `--no-plain`, `doctor`, `status`...: those draw their own).
const NOT_INK = /^(--?(no-)?(yes|json|plain|help|version|h|v)(=.*)?|doctor|status|build)$/;

/**
 * Will this run be the interactive Ink wizard? Judged from the raw arguments, before meow parses
 * them: it may say no where main later says yes (main then draws the header itself), never the other way.
 */
export const surelyInk = (argv: readonly string[], env: NodeJS.ProcessEnv, terminal = hasTerminal()): boolean =>
	terminal && !isCi(env) && !plainByEnv(env) && !argv.some(argument => NOT_INK.test(argument));
