import type {Check} from '../services/checks.js';
import {planBody, planTitle} from './plan.js';
import {STEPS, stepTitle, type JourneyEvent, type JourneyResult, type StepId, type StepStatus} from './events.js';

export type StepState = {id: StepId; title: string; status: StepStatus; detail?: string; fix?: string};
export type PendingCheck = {id: Check['id']; pending: true};

/** What has happened, in order; it never changes once written (Ink prints it in <Static>). */
export type TranscriptItem =
	| {kind: 'step'; step: StepState; checks?: Check[]}
	| {kind: 'note'; level: 'info' | 'warn'; text: string}
	| {kind: 'code'; title: string; code: string};

/** What the views draw: a pure function of the events so far. */
export type FlowState = {
	steps: StepState[];
	checks: Array<Check | PendingCheck>;
	transcript: TranscriptItem[];
	buildStep?: string;
	layers: Array<{id: string; status: string; current?: number; total?: number}>;
	/** Only the last few log lines live on screen; the full log is in a file. */
	logTail: string[];
	/** Everything the run has found so far (a failure's --json carries it). */
	known?: JourneyResult;
	result?: JourneyResult;
};

export const LOG_TAIL_LINES = 5;

export const initialState = (): FlowState => ({
	steps: STEPS.map(step => ({id: step.id, title: step.title, status: 'pending'})),
	checks: [],
	transcript: [],
	layers: [],
	logTail: [],
});

export const isPending = (check: Check | PendingCheck): check is PendingCheck => 'pending' in check;
export const isFinished = (status: StepStatus) => status !== 'pending' && status !== 'running';
/** Finished and its work stands: what a cancel line lists as completed. */
export const isCompleted = (status: StepStatus) => status === 'done' || status === 'skipped';
/** The step in the foreground: the latest one running (docker authentication may still run behind the build). */
export const currentStep = (state: FlowState): StepState | undefined => state.steps.findLast(step => step.status === 'running');

export const reduce = (state: FlowState, event: JourneyEvent): FlowState => {
	switch (event.type) {
		case 'step': {
			const previous = state.steps.find(step => step.id === event.step);
			if (!previous) return state;
			const step: StepState = {...previous, status: event.status, detail: event.detail, fix: event.fix};
			// A run starting again (a reviewed plan being applied) is no longer done.
			if (event.step === 'checks' && event.status === 'running' && state.result) return reduce({...state, result: undefined}, event);
			const steps = state.steps.map(existing => (existing.id === event.step ? step : existing));
			if (!isFinished(event.status)) return {...state, steps};
			const checks = event.step === 'checks' ? state.checks.filter((check): check is Check => !isPending(check)) : undefined;
			return {...state, steps, transcript: [...state.transcript, {kind: 'step', step, checks}]};
		}

		case 'checks-started': {
			return {...state, checks: event.ids.map(id => ({id, pending: true as const}))};
		}

		case 'check': {
			const known = state.checks.some(check => check.id === event.check.id);
			return {
				...state,
				checks: known ? state.checks.map(check => (check.id === event.check.id ? event.check : check)) : [...state.checks, event.check],
			};
		}

		case 'note': {
			return {...state, transcript: [...state.transcript, {kind: 'note', level: event.level, text: event.text}]};
		}

		case 'code': {
			return {...state, transcript: [...state.transcript, {kind: 'code', title: event.title, code: event.code}]};
		}

		case 'plan': {
			const {change} = event;
			return {...state, transcript: [...state.transcript, {kind: 'code', title: planTitle(change), code: planBody(change).join('\n')}]};
		}

		case 'build-step': {
			return {...state, buildStep: event.text};
		}

		case 'layer': {
			const layer = {id: event.id, status: event.status, current: event.current, total: event.total};
			const index = state.layers.findIndex(existing => existing.id === event.id);
			const layers = index === -1 ? [...state.layers, layer] : state.layers.with(index, layer);
			return {...state, layers};
		}

		case 'log': {
			return {...state, logTail: [...state.logTail, event.line].slice(-LOG_TAIL_LINES)};
		}

		case 'known': {
			return {...state, known: event.result};
		}

		case 'sdk': {
			return {...state, steps: state.steps.map(step => ({...step, title: stepTitle(step.id, event.sdk)}))};
		}

		case 'done': {
			return {...state, result: event.result};
		}
	}
};
