/**
 * A loopback Artifact Registry (gRPC, plaintext) that the real @google-cloud/artifact-registry
 * client talks to. Point openArtifactRegistry (or a CLI child) at it with
 * IMAGESPEC_GAR_API_ENDPOINT=<endpoint>.
 *
 * Scenario switches (per test): failNext (one-off errors, with ErrorInfo), disabledProjects
 * (SERVICE_DISABLED until `gcloud services enable` reaches serviceUsageUrl), deniedPermissions
 * (IAM_PERMISSION_DENIED, and left out of TestIamPermissions), createOperation (a pending or
 * failing long-running operation), policies (per-repository IAM policies with etags) and
 * beforeSetIamPolicy (a concurrent change between a read and a write), silent (a server that
 * takes every call and never answers).
 */
import {randomBytes, randomUUID} from 'node:crypto';
import fs from 'node:fs';
import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {createRequire} from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type * as Protobuf from 'protobufjs';
import {dockerImageMethods, type DockerImagesSource, type SeededDockerImage} from './fake-docker-images.js';

export type FakeError = {
	code: number;
	message: string;
	reason?: string;
	domain?: string;
	metadata?: Record<string, string>;
};

export type FakeBinding = {role: string; members: string[]; condition?: {expression: string; title?: string}};
/** etag as the client sees it: bytes. */
export type FakePolicy = {version?: number; bindings: FakeBinding[]; etag: Buffer};

export type FakeArtifactRegistry = {
	/** '127.0.0.1:PORT' */
	endpoint: string;
	/** Full resource name → Repository message as a plain object (proto-loader form: enums as strings). */
	repositories: Map<string, RepositoryObject>;
	/** Location ids ListLocations answers with. */
	locations: string[];
	calls: Array<{method: string; request: any}>;
	/** Projects (ids) whose Artifact Registry API is disabled: every call answers SERVICE_DISABLED. */
	disabledProjects: Set<string>;
	/** Permissions the caller lacks: the call that needs one fails with IAM_PERMISSION_DENIED. */
	deniedPermissions: Set<string>;
	/** How CreateRepository's operation ends: at once (default), after `polls` GetOperation calls, or with `error`. */
	createOperation: {polls?: number; error?: FakeError};
	/** Repository name → its IAM policy; a repository without one has an empty policy. */
	policies: Map<string, FakePolicy>;
	/** true: every call is taken (and recorded) and never answered, like an API behind a dead proxy. */
	silent: boolean;
	/** Runs after a GetIamPolicy has answered and before the next SetIamPolicy is judged (a concurrent writer). */
	beforeSetIamPolicy?: (resource: string) => void;
	/** http://127.0.0.1:PORT/ — a Service Usage API for CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE. */
	serviceUsageUrl: string;
	/** `services enable` calls that reached serviceUsageUrl, as 'project/service'. */
	enabled: string[];
	addRepository(
		project: string,
		location: string,
		id: string,
		fields?: {format?: string; description?: string; sizeBytes?: number; labels?: Record<string, string>},
	): void;
	/** Docker images ListDockerImages (and GetTag, GetDockerImage) report in `repository` (a full name) with nothing pushed. */
	seedDockerImages(repository: string, images: SeededDockerImage[]): void;
	/** Replaces a repository's policy and gives it a new etag. */
	setPolicy(resource: string, bindings: FakeBinding[]): FakePolicy;
	/** The next `times` calls of `method` (e.g. 'CreateRepository') fail with `error`. */
	failNext(method: string, error: FakeError, times?: number): void;
	/** The next call of `method` is done, but its answer is lost: the caller gets UNAVAILABLE. */
	loseAnswerNext(method: string): void;
	/** Every switch back to its default, every record cleared (repositories, policies, calls). */
	reset(): void;
	stop(): Promise<void>;
};

export type RepositoryObject = {
	name: string;
	format: string;
	mode?: string;
	description?: string;
	labels?: Record<string, string>;
	sizeBytes?: string;
	createTime?: {seconds: string; nanos: number};
	updateTime?: {seconds: string; nanos: number};
	registryUri?: string;
	[field: string]: unknown;
};

const Status = {INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, ABORTED: 10, INTERNAL: 13} as const;

/** What a handler returns to answer with an error. */
class Failure {
	constructor(readonly error: FakeError) {}
}

const fail = (code: number, message: string, extra: Omit<FakeError, 'code' | 'message'> = {}) => new Failure({code, message, ...extra});

const require = createRequire(import.meta.url);

/** The protos the client ships with: AR's own, and the shared ones (rpc, longrunning, location, iam) in google-gax. */
function protoDirectories(): string[] {
	const clientMain = require.resolve('@google-cloud/artifact-registry');
	const clientProtos = path.resolve(path.dirname(clientMain), '..', 'protos');
	// google-gax has an exports map without ./package.json: resolve its main file, as the client does.
	const gaxMain = createRequire(clientMain).resolve('google-gax');
	const gaxProtos = path.resolve(path.dirname(gaxMain), '..', 'protos');
	return [clientProtos, gaxProtos];
}

const PROTO_FILES = [
	'google/devtools/artifactregistry/v1/service.proto',
	'google/cloud/location/locations.proto',
	'google/longrunning/operations.proto',
	'google/rpc/status.proto',
	// protos.json lacks ErrorInfo; the client decodes it from here once it is on the wire.
	'google/rpc/error_details.proto',
];

type Loaded = {definition: protoLoader.PackageDefinition; root: Protobuf.Root};
let loaded: Loaded | undefined;

// Loading the protos takes a few hundred ms; every fake in the process shares them.
function loadProtos(): Loaded {
	if (loaded) return loaded;
	const directories = protoDirectories();
	const protobuf = createRequire(require.resolve('@grpc/proto-loader'))('protobufjs') as typeof Protobuf;
	const root = new protobuf.Root();
	root.resolvePath = (origin, target) => {
		for (const directory of directories) {
			const candidate = path.join(directory, target);
			if (fs.existsSync(candidate)) return candidate;
		}
		return protobuf.util.path.resolve(origin, target);
	};
	root.loadSync(PROTO_FILES, {keepCase: false});
	root.resolveAll();
	const definition = protoLoader.fromJSON(root.toJSON(), {keepCase: false, longs: String, enums: String, defaults: false, oneofs: true});
	loaded = {definition, root};
	return loaded;
}

const TYPE_PREFIX = 'type.googleapis.com/';
const REPOSITORY_TYPE = 'google.devtools.artifactregistry.v1.Repository';
const repositoryIdPattern = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;
const parentPattern = /^projects\/[^/]+\/locations\/[^/]+$/;

const now = () => ({seconds: String(Math.floor(Date.now() / 1000)), nanos: 0});

/** A stable fake project number: SERVICE_DISABLED names projects by number, as Google does. */
const projectNumber = (project: string) => String(100_000_000_000 + [...project].reduce((sum, char) => (sum * 31 + char.charCodeAt(0)) % 899_999_999_999, 7));

/** The permission each method needs, and the resource it is checked on. */
const PERMISSIONS: Record<string, {permission: string; resource: (request: any) => string}> = {
	ListRepositories: {permission: 'artifactregistry.repositories.list', resource: request => request.parent ?? ''},
	GetRepository: {permission: 'artifactregistry.repositories.get', resource: request => request.name ?? ''},
	CreateRepository: {permission: 'artifactregistry.repositories.create', resource: request => request.parent ?? ''},
	GetIamPolicy: {permission: 'artifactregistry.repositories.getIamPolicy', resource: request => request.resource ?? ''},
	SetIamPolicy: {permission: 'artifactregistry.repositories.setIamPolicy', resource: request => request.resource ?? ''},
	ListDockerImages: {permission: 'artifactregistry.dockerimages.list', resource: request => request.parent ?? ''},
	GetDockerImage: {permission: 'artifactregistry.dockerimages.get', resource: request => request.name ?? ''},
	GetTag: {permission: 'artifactregistry.tags.get', resource: request => request.name ?? ''},
};

const projectOf = (resource: string) => /^projects\/([^/]+)/.exec(resource)?.[1];

/** dockerImages: answer ListDockerImages / GetDockerImage / GetTag from that real registry (seeded images are answered either way). */
export async function startFakeArtifactRegistry(options: {dockerImages?: DockerImagesSource} = {}): Promise<FakeArtifactRegistry> {
	const {definition, root} = loadProtos();
	const encode = (typeName: string, object: object): Buffer => {
		const type = root.lookupType(typeName);
		return Buffer.from(type.encode(type.fromObject(object)).finish());
	};
	// protobufjs serves google/protobuf/any.proto from its built-in JSON, so the field keeps its
	// proto name (type_url) even with keepCase:false; ask the root rather than guess.
	const typeUrlField = root.lookupType('google.protobuf.Any').fieldsArray.find(field => field.id === 1)!.name;
	const any = (typeName: string, object: object) => ({[typeUrlField]: TYPE_PREFIX + typeName, value: encode(typeName, object)});

	const repositories = new Map<string, RepositoryObject>();
	const operations = new Map<string, {operation: object; pollsLeft: number; finish: () => object}>();
	const failures = new Map<string, FakeError[]>();
	const lostAnswers = new Set<string>();
	const calls: FakeArtifactRegistry['calls'] = [];
	const locations = ['asia', 'europe', 'us', 'europe-west1', 'us-central1', 'us-east1'];
	const policies = new Map<string, FakePolicy>();
	const seeded = new Map<string, SeededDockerImage[]>();
	const newEtag = () => randomBytes(8);

	/** A gRPC error the client turns into a GoogleError with reason/domain/errorInfoMetadata. */
	const toServiceError = (error: FakeError): grpc.ServerErrorResponse => {
		const metadata = new grpc.Metadata();
		const details = error.reason
			? [any('google.rpc.ErrorInfo', {reason: error.reason, domain: error.domain ?? 'googleapis.com', metadata: error.metadata ?? {}})]
			: [];
		metadata.set('grpc-status-details-bin', encode('google.rpc.Status', {code: error.code, message: error.message, details}));
		return Object.assign(new Error(error.message), {code: error.code, details: error.message, metadata});
	};

	/** What Google answers when the API is off in the caller's project (text and ErrorInfo as observed). */
	const serviceDisabled = (project: string): Failure => {
		const number = projectNumber(project);
		const activationUrl = `https://console.developers.google.com/apis/api/artifactregistry.googleapis.com/overview?project=${number}`;
		return fail(
			Status.PERMISSION_DENIED,
			`Artifact Registry API has not been used in project ${number} before or it is disabled. Enable it by visiting ${activationUrl} ` +
				`then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.`,
			{
				reason: 'SERVICE_DISABLED',
				domain: 'googleapis.com',
				metadata: {
					activationUrl,
					consumer: `projects/${number}`,
					service: 'artifactregistry.googleapis.com',
					serviceTitle: 'Artifact Registry API',
					containerInfo: number,
				},
			},
		);
	};

	const state = {
		disabledProjects: new Set<string>(),
		deniedPermissions: new Set<string>(),
		createOperation: {} as FakeArtifactRegistry['createOperation'],
		beforeSetIamPolicy: undefined as FakeArtifactRegistry['beforeSetIamPolicy'],
		silent: false,
	};

	/** The checks a real server makes before the method itself: API enabled, caller allowed. */
	const gate = (method: string, request: any): Failure | undefined => {
		const needs = PERMISSIONS[method];
		const resource = needs?.resource(request) ?? request?.name ?? request?.parent ?? request?.resource ?? '';
		const project = projectOf(resource);
		if (project && state.disabledProjects.has(project)) return serviceDisabled(project);
		if (needs && state.deniedPermissions.has(needs.permission)) {
			return fail(
				Status.PERMISSION_DENIED,
				`Permission '${needs.permission}' denied on resource '//artifactregistry.googleapis.com/${resource}' (or it may not exist).`,
				{
					reason: 'IAM_PERMISSION_DENIED',
					domain: 'artifactregistry.googleapis.com',
					metadata: {permission: needs.permission, resource},
				},
			);
		}
		return undefined;
	};

	/** Records the call, then answers with a queued failure, a gate failure or the handler's result. */
	const unary =
		<Request, Response>(method: string, handle: (request: Request) => Response | Failure) =>
		(call: grpc.ServerUnaryCall<Request, Response>, callback: grpc.sendUnaryData<Response>): void => {
			calls.push({method, request: call.request});
			if (state.silent) return;
			const queued = failures.get(method)?.shift();
			if (queued) {
				callback(toServiceError(queued));
				return;
			}
			let result: Response | Failure;
			try {
				result = gate(method, call.request) ?? handle(call.request);
			} catch (error) {
				result = fail(Status.INTERNAL, String(error));
			}
			if (lostAnswers.delete(method)) callback(toServiceError({code: 14, message: 'Connection reset by peer'}));
			else if (result instanceof Failure) callback(toServiceError(result.error));
			else callback(null, result);
		};

	const makeRepository = (project: string, location: string, id: string, fields: Partial<RepositoryObject> & {sizeBytes?: string}): RepositoryObject => {
		const format = fields.format ?? 'DOCKER';
		const name = `projects/${project}/locations/${location}/repositories/${id}`;
		return {
			mode: 'STANDARD_REPOSITORY',
			description: '',
			labels: {},
			sizeBytes: '0',
			createTime: now(),
			updateTime: now(),
			...fields,
			name,
			format,
			...(format === 'DOCKER' ? {registryUri: `${location}-docker.pkg.dev/${project.replace(':', '/')}/${id}`} : {}),
		};
	};

	const splitParent = (parent: string) => {
		const [, project = '', , location = ''] = parent.split('/');
		return {project, location};
	};

	// Sorted once per change, not once per page: 5,000 repositories page in 50 calls.
	let sorted: RepositoryObject[] | undefined;
	const sortedRepositories = () => (sorted ??= [...repositories.values()].sort((a, b) => a.name.localeCompare(b.name)));
	const originalSet = repositories.set.bind(repositories);
	const originalDelete = repositories.delete.bind(repositories);
	const originalClear = repositories.clear.bind(repositories);
	repositories.set = (key, value) => {
		sorted = undefined;
		return originalSet(key, value);
	};
	repositories.delete = key => {
		sorted = undefined;
		return originalDelete(key);
	};
	repositories.clear = () => {
		sorted = undefined;
		originalClear();
	};

	const policyOf = (resource: string): FakePolicy => policies.get(resource) ?? {version: 1, bindings: [], etag: Buffer.from('ACAB', 'base64')};

	const artifactRegistry = {
		ListRepositories: unary('ListRepositories', (request: {parent?: string; pageSize?: number; pageToken?: string; filter?: string}) => {
			const parent = request.parent ?? '';
			if (!parentPattern.test(parent)) return fail(Status.INVALID_ARGUMENT, `invalid parent "${parent}"`);
			const prefix = `${parent}/repositories/`;
			let match = (name: string) => name.startsWith(prefix);
			if (request.filter) {
				// The one filter form the wizard sends: name="<parent>/repositories/<prefix>*".
				const filter = /^name="([^"*]+)(\*?)"$/.exec(request.filter);
				if (!filter) return fail(Status.INVALID_ARGUMENT, `unsupported filter ${request.filter}`);
				const [, value = '', star] = filter;
				const inParent = match;
				match = star ? name => inParent(name) && name.startsWith(value) : name => inParent(name) && name === value;
			}
			const all = sortedRepositories().filter(repository => match(repository.name));
			const offset = request.pageToken ? Number(Buffer.from(request.pageToken, 'base64url').toString()) : 0;
			if (!Number.isInteger(offset) || offset < 0) return fail(Status.INVALID_ARGUMENT, 'invalid page token');
			const size = request.pageSize && request.pageSize > 0 ? Math.min(request.pageSize, 1000) : 100;
			const end = offset + size;
			return {
				repositories: all.slice(offset, end),
				nextPageToken: end < all.length ? Buffer.from(String(end)).toString('base64url') : '',
			};
		}),

		GetRepository: unary('GetRepository', (request: {name?: string}) => {
			const repository = repositories.get(request.name ?? '');
			return repository ?? fail(Status.NOT_FOUND, 'Requested entity was not found.');
		}),

		CreateRepository: unary('CreateRepository', (request: {parent?: string; repositoryId?: string; repository?: Partial<RepositoryObject>}) => {
			const parent = request.parent ?? '';
			const id = request.repositoryId ?? '';
			if (!parentPattern.test(parent)) return fail(Status.INVALID_ARGUMENT, `invalid parent "${parent}"`);
			if (!repositoryIdPattern.test(id) || id.length > 63) return fail(Status.INVALID_ARGUMENT, `invalid repository id "${id}"`);
			const name = `${parent}/repositories/${id}`;
			if (repositories.has(name)) return fail(Status.ALREADY_EXISTS, 'the repository already exists');
			const {project, location} = splitParent(parent);
			const {name: _ignored, createTime: _c, updateTime: _u, sizeBytes: _s, registryUri: _r, ...fields} = request.repository ?? {};
			const repository = makeRepository(project, location, id, {...fields, format: fields.format ?? 'FORMAT_UNSPECIFIED'});
			const operationName = `${parent}/operations/${randomUUID()}`;
			const {polls = 0, error} = state.createOperation;
			// The repository exists once the operation is done (a failed one leaves nothing).
			const finish = () => {
				if (error) return {name: operationName, done: true, error: {code: error.code, message: error.message}};
				repositories.set(name, repository);
				return {name: operationName, done: true, response: any(REPOSITORY_TYPE, repository)};
			};
			// done:true with the Repository inline: the client never polls GetOperation.
			const operation = polls > 0 ? {name: operationName, done: false} : finish();
			operations.set(operationName, {operation, pollsLeft: polls, finish});
			return operation;
		}),

		GetIamPolicy: unary('GetIamPolicy', (request: {resource?: string}) => {
			const resource = request.resource ?? '';
			if (!repositories.has(resource)) return fail(Status.NOT_FOUND, 'Requested entity was not found.');
			return policyOf(resource);
		}),

		SetIamPolicy: unary('SetIamPolicy', (request: {resource?: string; policy?: Partial<FakePolicy>}) => {
			const resource = request.resource ?? '';
			if (!repositories.has(resource)) return fail(Status.NOT_FOUND, 'Requested entity was not found.');
			state.beforeSetIamPolicy?.(resource);
			const current = policyOf(resource);
			const sent = request.policy?.etag;
			// Read-modify-write: a stale etag means someone else wrote in between.
			if (sent && sent.length > 0 && !Buffer.from(sent).equals(current.etag)) {
				return fail(Status.ABORTED, 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.');
			}
			const bindings = (request.policy?.bindings ?? []).map(binding => ({
				role: binding.role,
				members: [...(binding.members ?? [])],
				...(binding.condition ? {condition: binding.condition} : {}),
			}));
			const policy: FakePolicy = {version: request.policy?.version ?? 1, bindings, etag: newEtag()};
			policies.set(resource, policy);
			return policy;
		}),

		TestIamPermissions: unary('TestIamPermissions', (request: {resource?: string; permissions?: string[]}) => ({
			permissions: (request.permissions ?? []).filter(permission => !state.deniedPermissions.has(permission)),
		})),
	};

	const locationsService = {
		ListLocations: unary('ListLocations', (request: {name?: string}) => ({
			locations: locations.map(locationId => ({name: `${request.name ?? ''}/locations/${locationId}`, locationId, displayName: locationId})),
			nextPageToken: '',
		})),
	};

	const operationsService = {
		GetOperation: unary('GetOperation', (request: {name?: string}) => {
			const entry = operations.get(request.name ?? '');
			if (!entry) return fail(Status.NOT_FOUND, 'operation not found');
			if (entry.pollsLeft > 0 && --entry.pollsLeft === 0) entry.operation = entry.finish();
			return entry.operation;
		}),
	};

	const service = (name: string) => definition[name] as grpc.ServiceDefinition;
	const server = new grpc.Server();
	// The docker-image methods answer asynchronously: the same queued failures and gate, before them.
	const before = (method: string, request: any) => {
		const refused = failures.get(method)?.shift() ?? gate(method, request)?.error;
		return refused ? toServiceError(refused) : undefined;
	};
	server.addService(service('google.devtools.artifactregistry.v1.ArtifactRegistry'), {
		...artifactRegistry,
		...dockerImageMethods({source: options.dockerImages, seeded, before}, calls),
	});
	server.addService(service('google.cloud.location.Locations'), locationsService);
	server.addService(service('google.longrunning.Operations'), operationsService);

	const port = await new Promise<number>((resolve, reject) => {
		server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) => (error ? reject(error) : resolve(boundPort)));
	});

	// Service Usage over REST, as `gcloud services enable` calls it (done at once: no polling).
	const enabled: string[] = [];
	const serviceUsage: Server = createServer((request, response) => {
		request.resume();
		request.on('end', () => {
			const match = /^\/v1\/projects\/([^/]+)\/services\/([^/:?]+):enable/.exec(request.url ?? '');
			if (request.method !== 'POST' || !match) {
				response
					.writeHead(404, {'content-type': 'application/json'})
					.end(JSON.stringify({error: {code: 404, message: `no route ${request.method} ${request.url}`, status: 'NOT_FOUND'}}));
				return;
			}
			const [, project = '', serviceName = ''] = match;
			enabled.push(`${project}/${serviceName}`);
			if (serviceName === 'artifactregistry.googleapis.com') state.disabledProjects.delete(project);
			response.writeHead(200, {'content-type': 'application/json'});
			response.end(
				JSON.stringify({
					name: `operations/acf.p2-${projectNumber(project)}-${randomUUID()}`,
					done: true,
					response: {
						'@type': 'type.googleapis.com/google.api.serviceusage.v1.EnableServiceResponse',
						service: {name: `projects/${projectNumber(project)}/services/${serviceName}`, state: 'ENABLED'},
					},
				}),
			);
		});
	});
	await new Promise<void>(resolve => {
		serviceUsage.listen(0, '127.0.0.1', resolve);
	});
	serviceUsage.unref();

	const fake: FakeArtifactRegistry = {
		endpoint: `127.0.0.1:${port}`,
		repositories,
		locations,
		calls,
		disabledProjects: state.disabledProjects,
		deniedPermissions: state.deniedPermissions,
		get createOperation() {
			return state.createOperation;
		},
		set createOperation(value) {
			state.createOperation = value;
		},
		policies,
		get silent() {
			return state.silent;
		},
		set silent(value) {
			state.silent = value;
		},
		get beforeSetIamPolicy() {
			return state.beforeSetIamPolicy;
		},
		set beforeSetIamPolicy(value) {
			state.beforeSetIamPolicy = value;
		},
		serviceUsageUrl: `http://127.0.0.1:${(serviceUsage.address() as AddressInfo).port}/`,
		enabled,
		addRepository(project, location, id, fields = {}) {
			const {sizeBytes, ...rest} = fields;
			const repository = makeRepository(project, location, id, {...rest, ...(sizeBytes === undefined ? {} : {sizeBytes: String(sizeBytes)})});
			repositories.set(repository.name, repository);
		},
		seedDockerImages(repository, images) {
			seeded.set(repository, [...(seeded.get(repository) ?? []), ...images]);
		},
		setPolicy(resource, bindings) {
			const policy: FakePolicy = {version: bindings.some(binding => binding.condition) ? 3 : 1, bindings: structuredClone(bindings), etag: newEtag()};
			policies.set(resource, policy);
			return policy;
		},
		failNext(method, error, times = 1) {
			const queue = failures.get(method) ?? [];
			for (let index = 0; index < times; index++) queue.push(error);
			failures.set(method, queue);
		},
		loseAnswerNext(method) {
			lostAnswers.add(method);
		},
		reset() {
			lostAnswers.clear();
			repositories.clear();
			policies.clear();
			seeded.clear();
			operations.clear();
			failures.clear();
			calls.length = 0;
			enabled.length = 0;
			state.disabledProjects.clear();
			state.deniedPermissions.clear();
			state.createOperation = {};
			state.beforeSetIamPolicy = undefined;
			state.silent = false;
		},
		async stop() {
			serviceUsage.close();
			await new Promise<void>(resolve => {
				// A client that was never closed keeps calls open; do not wait on it for long.
				const force = setTimeout(() => {
					server.forceShutdown();
					resolve();
				}, 1000);
				server.tryShutdown(() => {
					clearTimeout(force);
					resolve();
				});
			});
		},
	};
	return fake;
}
