import type {Flags} from '../flags.js';
import {validateRepositoryId} from '../services/artifact-registry.js';
import {UsageError} from '../services/errors.js';
import {KNOWN_LOCATIONS, validateLocation} from '../services/locations.js';
import type {RegistryHandle} from '../services/registry-handle.js';
import {validateServiceAccount} from '../services/repository-iam.js';
import {SDKS} from '../services/sdk.js';
import {SECRET_FIX, secretWarning, secretsInFlags} from '../services/secrets.js';
import type {StepContext} from '../steps/context.js';
import {validateImageFlags} from '../steps/imagespec.js';
import {validateProjectId} from '../steps/project.js';
import {validateRepositoryFlags} from '../steps/repository.js';
import {answer, lastImage} from './answers.js';

/** The first flag in FLAG_RULES whose value is invalid, as a usage error naming it. */
export function rejectInvalidFlags(flags: Flags): void {
	for (const [key, flag, validate] of FLAG_RULES) {
		const value = flags[key];
		const problem = typeof value === 'string' ? validate(value) : undefined;
		if (problem) throw new UsageError(`--${flag} ${JSON.stringify(value)} is invalid: ${problem}`, flag);
	}
}

/** Flags whose values can be judged before any work starts. */
const FLAG_RULES: Array<[keyof Flags, string, (value: string) => string | undefined]> = [
	['project', 'project', validateProjectId],
	['location', 'location', validateLocation],
	['repository', 'repository', validateRepositoryId],
	['builder', 'builder', value => (value === 'local' || value === 'union' ? undefined : 'use local or union')],
	['dataPlaneSa', 'data-plane-sa', validateServiceAccount],
	['builderSa', 'builder-sa', validateServiceAccount],
	['operatorProxySa', 'operator-proxy-sa', validateServiceAccount],
	['sdk', 'sdk', value => ((SDKS as readonly string[]).includes(value) ? undefined : `use ${SDKS.join(', ')}`)],
];

/** Invalid or missing flags fail before any work, with the flag named (exit 2). */
export async function validateFlags(c: StepContext, registry: RegistryHandle) {
	const {flags, ask} = c;
	rejectInvalidFlags(flags);

	for (const [a, b] of [
		['json', 'plain'],
		['force', 'build'],
	] as const) {
		// --force with --no-build: build is false when --no-build was given.
		const clash = a === 'force' ? flags.force && !flags.build : flags[a] && flags[b];
		if (clash) throw new UsageError(`--${a} and --${b === 'build' ? 'no-build' : b} cannot be used together`, a);
	}

	validateImageFlags(flags);
	// A script cannot be asked whether it means to publish a secret: it says so with a flag.
	const secrets = flags.allowSecrets ? [] : secretsInFlags(flags);
	if (secrets.length > 0 && !ask.interactive) throw new UsageError(`${secretWarning(secrets, 'the module')} ${SECRET_FIX}`, 'allow-secrets');
	validateRepositoryFlags(flags);
	if (flags.location !== undefined) await rejectUnknownLocation(c, registry, flags.location);
	// Non-interactive runs fail fast on what no flag, saved answer or default can supply.
	if (!ask.interactive) {
		const missing = (
			[
				['location', answer(c, 'location')],
				['repository', answer(c, 'repository')],
				['image', flags.image ?? lastImage(c)?.name],
			] as const
		).find(([, value]) => value === undefined);
		if (missing) throw new UsageError(`Missing --${missing[0]}: nothing saved for this project folder either`, missing[0]);
	}
}

/**
 * `us-east99` has the shape of a region but is none: catch it before anything is created.
 * A location newer than our list is accepted when the live list (the API) knows it.
 */
async function rejectUnknownLocation(c: StepContext, registry: RegistryHandle, location: string) {
	if (KNOWN_LOCATIONS.includes(location)) return;
	const project = answer(c, 'project');
	const live = project
		? await registry
				.open()
				.then(async client => client.listLocations(project, c.ctx.signal))
				.catch(() => KNOWN_LOCATIONS)
		: KNOWN_LOCATIONS;
	if (live.includes(location)) return;
	const family = location.replace(/\d+$/, '');
	const near = live.filter(known => known.startsWith(family));
	throw new UsageError(
		`--location ${JSON.stringify(location)} is not an Artifact Registry location` +
			(near.length > 0 ? `; did you mean ${near.join(', ')}?` : ` (e.g. ${KNOWN_LOCATIONS.slice(3, 6).join(', ')})`),
		'location',
	);
}
