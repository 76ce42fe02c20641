import {planBody, planTitle} from '../flow/plan.js';
import {stepTitle, type JourneyEvent, type Reporter} from '../flow/events.js';
import type {Sdk} from '../services/sdk.js';

const STATUS_WORD = {ok: 'ok', warn: 'warning', fail: 'FAILED'} as const;

/**
 * Line-by-line progress in words: for --plain, screen readers, dumb terminals, CI logs and
 * the stderr of --json. No animation, no colour, every status spelled out.
 */
export const createPlainReporter = (write: (line: string) => void): Reporter => {
	const seen: Seen = {layerStatus: new Map()};
	return (event: JourneyEvent) => {
		const lines = plainLines(event, seen);
		for (const line of lines) write(line);
	};
};

/** What earlier events told: each layer's last status, and the run's SDK (the image step's title). */
type Seen = {layerStatus: Map<string, string>; sdk?: Sdk};

const plainLines = (event: JourneyEvent, seen: Seen): string[] => {
	const {layerStatus} = seen;
	switch (event.type) {
		case 'sdk': {
			seen.sdk = event.sdk;
			return [];
		}

		case 'step': {
			const head = `${stepTitle(event.step, seen.sdk)}: ${event.status === 'running' ? 'started' : event.status === 'failed' ? 'FAILED' : event.status}`;
			const lines = [event.detail ? `${head} — ${event.detail}` : head];
			if (event.fix) lines.push(...event.fix.split('\n').map(line => `  fix: ${line}`));
			return lines;
		}

		case 'check': {
			const {check} = event;
			const lines = [`  [${STATUS_WORD[check.status]}] ${check.title}: ${check.detail}`];
			if (check.fix && check.status !== 'ok') lines.push(`      fix: ${check.fix}`);
			return lines;
		}

		case 'note': {
			return [event.level === 'warn' ? `warning: ${event.text}` : event.text];
		}

		case 'code': {
			return [
				`${event.title}:`,
				...event.code
					.trimEnd()
					.split('\n')
					.map(line => `  | ${line}`),
			];
		}

		case 'plan': {
			const {change} = event;
			const body = planBody(change);
			return body.length === 0 ? [planTitle(change)] : [`${planTitle(change)}:`, ...body.map(line => `  | ${line}`)];
		}

		case 'build-step': {
			return [`  ${event.text}`];
		}

		case 'layer': {
			// Byte counts change many times a second: in a log, only the status changes are news.
			if (layerStatus.get(event.id) === event.status) return [];
			layerStatus.set(event.id, event.status);
			return [`  layer ${event.id}: ${event.status}`];
		}

		case 'log':
		case 'checks-started':
		case 'known':
		case 'done': {
			return [];
		}
	}
};
