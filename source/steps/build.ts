import os from 'node:os';
import path from 'node:path';
import {buildAndPush, imageExists} from '../services/docker.js';
import {StepError} from '../services/errors.js';
import {DEFAULT_PLATFORM} from '../services/imagespec.js';
import type {StepContext} from './context.js';
import type {AuthoredSpec} from './imagespec.js';

export type BuildOutcome = {pushed: boolean; digest?: string; skipped?: string; logFile?: string};

/** Step 6: skip when the tag is already there; else build, push, and prove the registry has it. */
export async function buildImage(c: StepContext, authored: AuthoredSpec): Promise<BuildOutcome> {
	const {ctx, report} = c;
	const before = c.flags.force ? undefined : await imageExists(ctx, authored.uri);
	if (before?.state === 'present') return {pushed: false, digest: before.digest, skipped: 'already in the repository'};
	if (before?.state === 'unknown' && before.detail) report({type: 'note', level: 'warn', text: `Could not tell whether ${authored.uri} exists (${before.detail}); building it.`});

	const logFile = path.join(os.tmpdir(), 'imagespec-gar', `${authored.spec.name.replaceAll('/', '_')}-${authored.tag}.log`);
	report({type: 'note', level: 'info', text: `Full build log: ${logFile}`});
	const pushed = await buildAndPush(
		ctx,
		{imageRef: authored.uri, spec: authored.spec, contextDir: c.folder, platform: authored.spec.platform ?? DEFAULT_PLATFORM, logFile},
		event => {
			if (event.type === 'log') report({type: 'log', line: event.line});
			else if (event.type === 'step') report({type: 'build-step', text: event.text});
			else if (event.type === 'layer') report({type: 'layer', id: event.id, status: event.status, current: event.current, total: event.total});
		},
	);
	const after = await imageExists(ctx, authored.uri);
	if (after.state !== 'present') {
		throw new StepError(`Pushed ${authored.uri}, but the registry does not list it${after.detail ? ` (${after.detail})` : ''}`, {
			fix: `Check the repository: gcloud artifacts docker images list ${authored.spec.registry}`,
		});
	}

	return {pushed: true, digest: pushed.digest, logFile};
}
