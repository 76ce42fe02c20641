/**
 * Artifact Registry locations gcloud 528 knows, multi-regions first. Used when the live list
 * (ListLocations) cannot be had; the live list wins when it answers.
 */
export const KNOWN_LOCATIONS: readonly string[] = Object.freeze([
	'asia',
	'europe',
	'us',
	'africa-south1',
	'asia-east1',
	'asia-east2',
	'asia-northeast1',
	'asia-northeast2',
	'asia-northeast3',
	'asia-south1',
	'asia-south2',
	'asia-southeast1',
	'asia-southeast2',
	'australia-southeast1',
	'australia-southeast2',
	'europe-central2',
	'europe-north1',
	'europe-north2',
	'europe-southwest1',
	'europe-west1',
	'europe-west2',
	'europe-west3',
	'europe-west4',
	'europe-west6',
	'europe-west8',
	'europe-west9',
	'europe-west10',
	'europe-west12',
	'me-central1',
	'me-central2',
	'me-west1',
	'northamerica-northeast1',
	'northamerica-northeast2',
	'northamerica-south1',
	'southamerica-east1',
	'southamerica-west1',
	'us-central1',
	'us-central2',
	'us-east1',
	'us-east4',
	'us-east5',
	'us-east7',
	'us-south1',
	'us-west1',
	'us-west2',
	'us-west3',
	'us-west4',
	'us-west8',
]);

const MULTI_REGIONS: readonly string[] = Object.freeze(['asia', 'europe', 'us']);

// Regions look like `us-central1`; new ones appear often, so the shape is checked, not the list.
const regionPattern = /^[a-z]+-[a-z]+\d+$/;

const isMultiRegion = (location: string): boolean => MULTI_REGIONS.includes(location);

/** Returns why `location` cannot be an Artifact Registry location, or undefined if it can. */
export function validateLocation(location: string): string | undefined {
	if (location === '') return 'A location is required.';
	if (isMultiRegion(location) || regionPattern.test(location)) return undefined;
	return `"${location}" is not a Google Cloud location. Use a region such as us-central1 or a multi-region (asia, europe, us).`;
}

/** Multi-regions first (in KNOWN_LOCATIONS order), then regions alphabetically. */
export function sortLocations(locations: Iterable<string>): string[] {
	const unique = [...new Set(locations)];
	const multi = MULTI_REGIONS.filter(location => unique.includes(location));
	const regions = unique.filter(location => !isMultiRegion(location)).sort((a, b) => a.localeCompare(b, 'en', {numeric: true}));
	return [...multi, ...regions];
}
