// Loaded into the CLI with `node --import` by the bench (never in normal use). Writes JSON lines
// to BENCH_PROBE_FILE: when the Artifact Registry client is first loaded (BENCH_PROBE_MODULES=1),
// and the process's peak RSS at exit.
import {appendFileSync} from 'node:fs';
import module from 'node:module';

const file = process.env.BENCH_PROBE_FILE;
if (file) {
	const write = record => appendFileSync(file, `${JSON.stringify({...record, pid: process.pid})}\n`);
	if (process.env.BENCH_PROBE_MODULES) {
		let seen = false;
		module.registerHooks({
			load(url, context, next) {
				if (!seen && /@google-cloud[\\/]artifact-registry|google-gax/.test(url)) {
					seen = true;
					write({event: 'ar-load', url, at: Date.now()});
				}

				return next(url, context);
			},
		});
	}

	process.on('exit', () => write({event: 'exit', maxRssKb: process.resourceUsage().maxRSS, at: Date.now()}));
}
