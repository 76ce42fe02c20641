#!/usr/bin/env node
// A tiny entry: colour must be settled before chalk (inside Ink) is first imported.
// Ink's colours ignore NO_COLOR on their own; FORCE_COLOR=0 is what turns them off.
if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') process.env.FORCE_COLOR = '0';

const {main} = await import('./main.js');
process.exitCode = await main(process.argv.slice(2));
