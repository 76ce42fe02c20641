#!/usr/bin/env node
// First: on an old Node it prints what to do and exits before the rest loads.
import './node-version.js';
import {readFileSync} from 'node:fs';
import module from 'node:module';
import {setFlagsFromString} from 'node:v8';
import {helpScreen} from './help.js';
import {surelyInk} from './mode.js';
import {writeHeader} from './present/header.js';
import {CancelledError} from './services/errors.js';
import {currentPlatform} from './services/platform.js';

// Ctrl-C and SIGTERM cancel the run from the first moment (the header invites a key before main
// has loaded). `on`, not `once`, and never removed: conf's atomic writer (when-exit) re-sends the
// signal after its own cleanup, and that must not kill us before we report and exit 130.
const controller = new AbortController();
const cancel = () => controller.abort(new CancelledError());
process.on('SIGINT', cancel);
process.on('SIGTERM', cancel);

// Colour must be settled before chalk (inside Ink) is first imported.
// Ink's colours ignore NO_COLOR on their own; FORCE_COLOR=0 is what turns them off.
if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') process.env.FORCE_COLOR = '0';

// A private registry host (IMAGESPEC_GAR_REGISTRY_HOST) is one gcloud does not know: let both
// `configure-docker` and the credential helper docker runs for the push accept it. Set before
// any child starts (doctor's credential helper, below).
if (process.env.IMAGESPEC_GAR_REGISTRY_HOST) process.env.CLOUDSDK_ARTIFACTS_ALLOW_UNRECOGNIZED_REGISTRY ??= 'true';

// The young generation keeps its first size instead of doubling while ~2 MB of modules load:
// ~18 MB less peak memory (bench: peak RSS), no slower start.
setFlagsFromString('--semi-space-growth-factor=1');

const argv = process.argv.slice(2);
// `--version` / `--help` alone (meow's own rule) are answered here, before meow and main load:
// nearly a bare node start. package.json sits one folder up from dist/cli.js, as from source/.
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '--help')) {
	const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {version: string; description: string};
	process.stdout.write(`${argv[0] === '--version' ? packageJson.version : helpScreen(packageJson.description)}\n`);
	process.exit(0);
}

// The header first, before main's modules load (~0.1 s): the wizard is seen to start at once.
const headerWritten = surelyInk(argv, process.env);
if (headerWritten) writeHeader();

// V8's compiled code for the bundle's chunks, kept by Node (in the OS temp folder) from one run to
// the next: ~60 ms less CPU before Ink's first frame (bench/README.md). NODE_DISABLE_COMPILE_CACHE=1
// turns it off; Node before 22.1 has no such thing.
module.enableCompileCache?.();

// doctor's slowest check is the credential helper's gcloud start (~1 s of CPU): it starts before
// main's modules load (~0.15 s) and gets its host once doctor has found the repository.
const credentialHelper =
	argv[0] === 'doctor' && !argv.includes('--help')
		? await import('./services/credential-helper.js').then(async ({startCredentialHelper}) =>
				startCredentialHelper({platform: currentPlatform(), signal: controller.signal}),
			)
		: undefined;

const {main} = await import('./main.js');
const code = await main(argv, {signal: controller.signal, cancel, headerWritten, credentialHelper});
credentialHelper?.discard();
// Exit now, once the output is out: an API call that never answers (cancelled or past its
// deadline) would otherwise keep the process alive until the library's own timeout.
const flushed = (stream: NodeJS.WriteStream) =>
	new Promise<void>(resolve => {
		stream.write('', () => {
			resolve();
		});
	});
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
