import type {Prompter, Question} from '../flow/ask.js';
import type {Reporter} from '../flow/events.js';
import {initialState, reduce, type FlowState} from '../flow/state.js';
import {CancelledError} from '../services/errors.js';

export type InkSnapshot = {flow: FlowState; question?: Question};

/**
 * The bridge between the journey (plain async code) and the Ink view: events go in through
 * `report`, questions wait in `prompter` until the view calls `answer`. No React here.
 */
export const createInkSession = () => {
	let snapshot: InkSnapshot = {flow: initialState()};
	let pending: ((value: string | boolean) => void) | undefined;
	const listeners = new Set<() => void>();
	// Ink's useApp().suspendTerminal, attached by the view once it is mounted.
	let suspend: ((work: () => Promise<void>) => Promise<void>) | undefined;
	const publish = (next: InkSnapshot) => {
		snapshot = next;
		for (const listener of listeners) listener();
	};

	const ask = async <T extends string | boolean>(question: Question, signal: AbortSignal): Promise<T> =>
		new Promise<T>((resolve, reject) => {
			if (signal.aborted) {
				reject(new CancelledError());
				return;
			}

			const onAbort = () => {
				pending = undefined;
				publish({...snapshot, question: undefined});
				reject(new CancelledError());
			};

			signal.addEventListener('abort', onAbort, {once: true});
			pending = value => {
				signal.removeEventListener('abort', onAbort);
				resolve(value as T);
			};

			publish({...snapshot, question});
		});

	const report: Reporter = event => {
		publish({...snapshot, flow: reduce(snapshot.flow, event)});
	};

	const prompter: Prompter = {
		select: async (question, signal) => ask<string>(question, signal),
		text: async (question, signal) => ask<string>(question, signal),
		confirm: async (question, signal) => ask<boolean>(question, signal),
		search: async (question, signal) => ask<string>(question, signal),
		async handOverTerminal<T>(work: () => Promise<T>): Promise<T> {
			if (!suspend) return work();
			let outcome: {value: T} | {error: unknown} | undefined;
			// Ink erases its frame, releases raw mode, and repaints once work is done.
			await suspend(async () => {
				try {
					outcome = {value: await work()};
				} catch (error) {
					outcome = {error};
				}
			});
			if (!outcome || 'error' in outcome) throw outcome ? outcome.error : new Error('the terminal was not handed over');
			return outcome.value;
		},
	};

	return {
		report,
		prompter,
		subscribe(listener: () => void) {
			listeners.add(listener);
			return () => listeners.delete(listener);
		},
		getSnapshot: () => snapshot,
		/** Called by the view with Ink's suspendTerminal; returns the detach function. */
		attachTerminal(suspendTerminal: (work: () => Promise<void>) => Promise<void>) {
			suspend = suspendTerminal;
			return () => {
				if (suspend === suspendTerminal) suspend = undefined;
			};
		},
		/** Called by the view when the person answers the current question. */
		answer(value: string | boolean) {
			const resolve = pending;
			pending = undefined;
			publish({...snapshot, question: undefined});
			resolve?.(value);
		},
	};
};

export type InkSession = ReturnType<typeof createInkSession>;
