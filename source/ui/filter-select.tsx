import {useEffect, useMemo, useRef, useState} from 'react';
import {Box, Text, useInput} from 'ink';
import type {Choice, SearchQuestion} from '../flow/ask.js';
import {countOf, filterChoices} from '../flow/choices.js';

const VISIBLE_ROWS = 8;
const LABEL_WIDTH_MAX = 32;

type Loaded = {items: Choice[]; loading: boolean; error?: string};

/** Reads the question's pages into state as they arrive; stops reading on unmount. */
function usePages(pages: AsyncIterable<Choice[]>): Loaded {
	const [loaded, setLoaded] = useState<Loaded>({items: [], loading: true});
	useEffect(() => {
		let stopped = false;
		const iterator = pages[Symbol.asyncIterator]();
		void (async () => {
			try {
				for (;;) {
					const next = await iterator.next();
					if (stopped) return;
					if (next.done) break;
					setLoaded(previous => ({...previous, items: previous.items.concat(next.value)}));
				}
				setLoaded(previous => ({...previous, loading: false}));
			} catch (error) {
				if (!stopped) setLoaded(previous => ({...previous, loading: false, error: error instanceof Error ? error.message : String(error)}));
			}
		})();
		return () => {
			stopped = true;
			void iterator.return?.()?.catch(() => undefined);
		};
	}, [pages]);
	return loaded;
}

const nextEnabled = (rows: readonly Choice[], from: number, step: number): number => {
	for (let index = from; index >= 0 && index < rows.length; index += step) if (!rows[index]!.disabled) return index;
	return -1;
};

const printable = (input: string) => input.replaceAll(/[\u0000-\u001F\u007F]/g, '');

/**
 * A select for long lists: a filter line, then only the rows that fit in the window. Disabled
 * rows are dimmed and skipped by the cursor. Keys: type to filter, ↑/↓, PgUp/PgDn, Enter,
 * Esc clears the filter. Each keystroke filters the loaded rows once (memo) and draws ~10 rows,
 * so 5,000 rows cost no more per frame than 50.
 */
export function FilterSelect({
	question,
	onAnswer,
	visibleRows = VISIBLE_ROWS,
}: {
	readonly question: SearchQuestion;
	readonly onAnswer: (value: string) => void;
	readonly visibleRows?: number;
}) {
	const {items, loading, error} = usePages(question.pages);
	const [query, setQueryState] = useState('');
	// Keys can arrive faster than React draws: each edits the latest filter, not the one last drawn.
	const latestQuery = useRef(query);
	const setQuery = (next: string) => {
		latestQuery.current = next;
		setQueryState(next);
	};
	// The focused row, by value: rows arriving or filtered keep it where it is.
	const [focused, setFocused] = useState<string | undefined>(question.default);
	const offset = useRef(0);

	const pinnedCount = question.pinned?.length ?? 0;
	const matches = useMemo(() => filterChoices(items, query), [items, query]);
	const rows = useMemo(() => [...(question.pinned ?? []), ...matches], [question.pinned, matches]);
	const rowsFor = (loaded: Choice[], filter: string) => [...(question.pinned ?? []), ...filterChoices(loaded, filter)];
	const found = focused === undefined ? -1 : rows.findIndex(row => row.value === focused && !row.disabled);
	// Unfocused (or the default not loaded yet): the first match, else a pinned row.
	const firstMatch = nextEnabled(rows, pinnedCount, 1);
	const focus = found === -1 ? (firstMatch === -1 ? nextEnabled(rows, 0, 1) : firstMatch) : found;

	// Scroll just enough to keep the focused row in the window.
	if (focus !== -1) {
		if (focus < offset.current) offset.current = focus;
		else if (focus >= offset.current + visibleRows) offset.current = focus - visibleRows + 1;
	}
	offset.current = Math.max(0, Math.min(offset.current, rows.length - visibleRows));
	const window = rows.slice(offset.current, offset.current + visibleRows);
	// Hints line up across the listed rows; a long pinned label ("+ Create …") does not push them.
	const labelWidth = Math.min(LABEL_WIDTH_MAX, Math.max(0, ...window.filter((_, index) => offset.current + index >= pinnedCount).map(row => row.label.length)));

	useInput((input, key) => {
		if (key.ctrl || key.meta || key.tab) return;
		const move = (index: number) => {
			if (index !== -1) setFocused(rows[index]!.value);
		};
		if (key.upArrow) move(nextEnabled(rows, focus - 1, -1));
		else if (key.downArrow) move(nextEnabled(rows, focus + 1, 1));
		else if (key.pageUp) move(nextEnabled(rows, Math.max(0, focus - visibleRows), 1));
		else if (key.pageDown) move(nextEnabled(rows, Math.min(rows.length - 1, focus + visibleRows), -1));
		else if (key.return) {
			if (focus !== -1) onAnswer(rows[focus]!.value);
		} else if (key.escape) setQuery('');
		else if (key.backspace || key.delete) setQuery(latestQuery.current.slice(0, -1));
		else if (/[\r\n]/.test(input)) {
			// Text and Enter in one read (a paste, a fast typist over ssh): filter by the text, choose the best match.
			const typed = rowsFor(items, latestQuery.current + printable(input.slice(0, input.search(/[\r\n]/))));
			const best = nextEnabled(typed, pinnedCount, 1);
			const chosen = best === -1 ? nextEnabled(typed, 0, 1) : best;
			if (chosen !== -1) onAnswer(typed[chosen]!.value);
		} else {
			const text = printable(input);
			if (text) {
				setQuery(latestQuery.current + text);
				// A new filter starts at its best match, not where the cursor was.
				setFocused(undefined);
			}
		}
	});

	const counts =
		query === '' ? countOf(items.length, question.noun) : `${matches.length.toLocaleString('en-US')} of ${countOf(items.length, question.noun)} match`;
	return (
		<Box flexDirection="column">
			<Text>
				<Text dimColor>Filter: </Text>
				{query === '' ? <Text dimColor>type to filter</Text> : <Text color="cyan">{query}</Text>}
			</Text>
			{window.map((row, index) => {
				const isFocused = offset.current + index === focus;
				return (
					<Text key={row.value} wrap="truncate-end" dimColor={row.disabled} color={isFocused ? 'cyan' : undefined}>
						{isFocused ? '› ' : '  '}
						{row.label.padEnd(labelWidth)}
						{row.hint ? <Text dimColor>{`  ${row.hint}`}</Text> : null}
					</Text>
				);
			})}
			{matches.length === 0 ? (
				<Text dimColor>{`  ${loading ? 'loading…' : query === '' ? 'nothing to choose from' : `nothing matches "${query}"`}`}</Text>
			) : null}
			<Text dimColor>
				{counts}
				{loading ? ' · loading more…' : ''}
				{rows.length > visibleRows ? ` · rows ${offset.current + 1}-${offset.current + window.length} of ${rows.length.toLocaleString('en-US')}` : ''}
				{' · ↑↓ move · Enter choose · Esc clear'}
			</Text>
			{error ? <Text color="yellow">⚠ Could not load them all: {error}</Text> : null}
		</Box>
	);
}
