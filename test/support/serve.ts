/**
 * Every real part of the test setup, started once and left running, for trying the wizard by
 * hand (tmux), pty journeys and benchmarks:
 *
 *   npx tsc -p tsconfig.json --outDir .tmp/build && node .tmp/build/test/support/serve.js [--repositories N]
 *
 * It prints the path of an env file to `source` in the shell that runs imagespec-gar.
 */
import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {parseArgs} from 'node:util';
import {makeSandbox} from './environment.js';
import {startFakeArtifactRegistry} from './fake-artifact-registry.js';
import {startFakeIam} from './fake-iam.js';
import {loginOffline} from './gcloud.js';
import {dockerEngine, makeBaseImage, startRegistry} from './docker.js';
import {flytekitBaseImage, pythonBaseAvailable} from './python-base.js';

const {values} = parseArgs({options: {repositories: {type: 'string', default: '3'}, project: {type: 'string', default: 'acme-ml'}}});
const count = Number(values.repositories);
const project = values.project;

const sandbox = await makeSandbox();
const [registry, engine] = await Promise.all([startRegistry(), dockerEngine()]);
// Like the real service, the fake knows the images pushed to its repositories.
const fake = await startFakeArtifactRegistry({dockerImages: {host: registry.host}});
// A Union data plane in another project, whose accounts gcloud lists (the access step and the remote builder's offer them).
const dataPlane = 'acme-gcp-dataplane';
const iam = await startFakeIam(
	{[dataPlane]: ['flyteworker-prod', 'userflyterol-prod', 'backend-prod'].map(name => `acme-${name}@${dataPlane}.iam.gserviceaccount.com`)},
	{[project]: []},
);
await loginOffline(sandbox);
for (let index = 0; index < count; index++) {
	fake.addRepository(project, 'us-east1', `team-${String(index).padStart(4, '0')}`, {description: `Images of team ${index}`, sizeBytes: index * 1_048_576});
}

fake.addRepository(project, 'us-east1', 'maven-libs', {format: 'MAVEN', description: 'Java libraries'});
// Local builds import flytekit before they push: the Python base when .ci/python-base.sh made it.
const baseImage = engine ? await (pythonBaseAvailable() ? flytekitBaseImage : makeBaseImage)(engine.dockerHost, registry.host) : undefined;

const exports: Record<string, string | undefined> = {
	CLOUDSDK_CONFIG: sandbox.env.CLOUDSDK_CONFIG,
	CLOUDSDK_AUTH_TOKEN_HOST: sandbox.env.CLOUDSDK_AUTH_TOKEN_HOST,
	CLOUDSDK_CORE_PROJECT: project,
	DOCKER_CONFIG: sandbox.env.DOCKER_CONFIG,
	XDG_CONFIG_HOME: sandbox.env.XDG_CONFIG_HOME,
	METADATA_SERVER_DETECTION: 'none',
	DOCKER_HOST: engine?.dockerHost,
	IMAGESPEC_GAR_API_ENDPOINT: fake.endpoint,
	CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: iam.endpoint,
	CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER: iam.endpoint,
	IMAGESPEC_GAR_REGISTRY_HOST: registry.host,
	ISG_BASE_IMAGE: baseImage,
	ISG_PROJECT_DIR: sandbox.project,
};
const file = path.join(sandbox.root, 'env.sh');
await writeFile(
	file,
	Object.entries(exports)
		.filter((entry): entry is [string, string] => entry[1] !== undefined)
		.map(([key, value]) => `export ${key}='${value}'\n`)
		.join(''),
);
process.stdout.write(`${file}\n`);

const stop = async () => {
	await Promise.all([fake.stop(), registry.stop(), iam.stop()]);
	await sandbox.cleanup();
	process.exit(0);
};

process.once('SIGINT', stop);
process.once('SIGTERM', stop);
