// present/: the presenters without React: plain lines, --json's document, doctor's table, the Ink session bridge,
// the header; each subscribes to the events a command reports (flow/events.ts).
import type {JourneyEvent, Reporter} from '../flow/events.js';
import {initialState, reduce} from '../flow/state.js';
import type {Check} from '../services/checks.js';

/** The document `doctor --json` prints (schema/doctor.schema.json). */
export type DoctorReport = {ok: boolean; checks: Check[]};

/** How doctor's check events are shown: chosen once, then fed every event; `end` gets the report (none when the run failed). */
export type DoctorPresenter = {report: Reporter; end(report?: DoctorReport): Promise<void>};

type Io = {note?: string; stdout: (text: string) => void; stderr: (text: string) => void};

const WORD = {ok: 'ok', warn: 'warn', fail: 'FAIL'} as const;

export const verdict = (report: DoctorReport): string => {
	if (report.ok) return 'Ready: nothing required is missing.';
	const failed = report.checks.filter(check => check.required && check.status === 'fail').length;
	return `${failed} required check${failed === 1 ? '' : 's'} failed: run the fixes above, then imagespec-gar doctor again.`;
};

/** One row per check, in order, with words (not only symbols) for logs and screen readers. */
export const plainTable = (checks: readonly Check[], note: string | undefined, closing: string): string => {
	const width = Math.max(...checks.map(check => check.title.length));
	const lines: string[] = [];
	for (const check of checks) {
		lines.push(
			`${WORD[check.status].padEnd(4)}  ${check.title.padEnd(width)}  ${check.detail}${check.status === 'warn' && !check.required ? ' (optional)' : ''}`,
		);
		if (check.fix) for (const fix of check.fix.split('\n')) lines.push(`${' '.repeat(width + 8)}fix: ${fix}`);
	}

	if (note) lines.push('', note);
	lines.push('', closing);
	return `${lines.join('\n')}\n`;
};

/** --json: the report, once, on stdout. */
const jsonPresenter = (io: Io): DoctorPresenter => ({
	report() {},
	async end(report) {
		if (report) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
	},
});

/** Plain: a line saying it started, then the whole table (its columns need every title). */
const plainPresenter = (io: Io): DoctorPresenter => {
	let started = false;
	return {
		report(event) {
			if (event.type !== 'checks-started' || started) return;
			started = true;
			io.stderr('Checking gcloud, credentials, docker, your repository and Python…\n');
		},
		async end(report) {
			if (report) io.stdout(plainTable(report.checks, io.note, verdict(report)));
		},
	};
};

/** Ink: the table fills in as checks finish (the same reducer as the wizard's view), then the verdict. */
const inkPresenter = async (io: Io): Promise<DoctorPresenter> => {
	const [{render}, {createElement}, {DoctorView}] = await Promise.all([import('ink'), import('react'), import('../ui/doctor.js')]);
	let state = initialState();
	const view = (closing?: string) => createElement(DoctorView, {rows: state.checks, verdict: closing, note: closing ? io.note : undefined});
	const instance = render(view(), {exitOnCtrlC: false});
	return {
		report(event: JourneyEvent) {
			state = reduce(state, event);
			instance.rerender(view());
		},
		async end(report) {
			if (report) instance.rerender(view(verdict(report)));
			await instance.waitUntilRenderFlush();
			instance.unmount();
			await instance.waitUntilExit();
		},
	};
};

export const doctorPresenter = async (kind: 'json' | 'ink' | 'plain', io: Io): Promise<DoctorPresenter> =>
	kind === 'json' ? jsonPresenter(io) : kind === 'ink' ? inkPresenter(io) : plainPresenter(io);
