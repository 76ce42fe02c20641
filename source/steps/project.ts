import type {RegistryHandle} from '../services/registry-handle.js';
import {KNOWN_LOCATIONS} from '../services/locations.js';
import type {StepContext} from './context.js';

/** GCP project ids (and the legacy domain-scoped form `example.com:proj`). */
export const validateProjectId = (id: string): string | undefined =>
	/^(?:[a-z\d.-]+\.[a-z]{2,}:)?[a-z][a-z\d-]{4,28}[a-z\d]$/.test(id)
		? undefined
		: 'project ids are 6-30 lowercase letters, digits and hyphens, start with a letter and do not end with a hyphen';

/** The project step: the project (saved, else gcloud's) and the location (saved, else asked). */
export async function chooseProjectAndLocation(
	c: StepContext,
	options: {gcloudProject?: string; registry: RegistryHandle},
): Promise<{project: string; location: string}> {
	const {ask, flags, saved} = c;
	const project = await ask.text(
		{flag: 'project', message: 'GCP project id:', default: saved.project ?? options.gcloudProject, validate: validateProjectId},
		flags.project,
	);
	// A filterable list (50 locations): type "east" and Enter. The live list, else the known one.
	const pages = async function* () {
		yield (await liveLocations(c, options.registry, project)).map(value => ({label: value, value}));
	};

	const location = await ask.search(
		{
			flag: 'location',
			message: 'Artifact Registry location (the same region as your Union data plane):',
			pages: pages(),
			default: saved.location ?? (ask.interactive ? 'us-central1' : undefined),
			noun: {one: 'location', other: 'locations'},
		},
		flags.location,
	);
	return {project, location};
}

const liveLocations = async (c: StepContext, registry: RegistryHandle, project: string): Promise<readonly string[]> => {
	try {
		return await (await registry.open()).listLocations(project, c.ctx.signal);
	} catch {
		return KNOWN_LOCATIONS;
	}
};
