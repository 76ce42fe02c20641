/**
 * A loopback Artifact Registry (gRPC, plaintext) that the real @google-cloud/artifact-registry
 * client talks to. Point openArtifactRegistry (or a CLI child) at it with
 * IMAGESPEC_GAR_API_ENDPOINT=<endpoint>.
 */
import {randomUUID} from 'node:crypto';
import fs from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type * as Protobuf from 'protobufjs';

export type FakeError = {
	code: number;
	message: string;
	reason?: string;
	domain?: string;
	metadata?: Record<string, string>;
};

export type FakeArtifactRegistry = {
	/** '127.0.0.1:PORT' */
	endpoint: string;
	/** Full resource name → Repository message as a plain object (proto-loader form: enums as strings). */
	repositories: Map<string, RepositoryObject>;
	/** Location ids ListLocations answers with. */
	locations: string[];
	calls: Array<{method: string; request: any}>;
	addRepository(project: string, location: string, id: string, fields?: {format?: string; description?: string; sizeBytes?: number}): void;
	/** The next `times` calls of `method` (e.g. 'CreateRepository') fail with `error`. */
	failNext(method: string, error: FakeError, times?: number): void;
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

const Status = {INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, INTERNAL: 13} as const;

/** What a handler returns to answer with an error. */
class Failure {
	constructor(readonly error: FakeError) {}
}

const fail = (code: number, message: string) => new Failure({code, message});

const require = createRequire(import.meta.url);

/** The protos the client ships with: AR's own, and the shared ones (rpc, longrunning, location) in google-gax. */
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

export async function startFakeArtifactRegistry(): Promise<FakeArtifactRegistry> {
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
	const operations = new Map<string, object>();
	const failures = new Map<string, FakeError[]>();
	const calls: FakeArtifactRegistry['calls'] = [];
	const locations = ['asia', 'europe', 'us', 'europe-west1', 'us-central1', 'us-east1'];

	/** A gRPC error the client turns into a GoogleError with reason/domain/errorInfoMetadata. */
	const toServiceError = (error: FakeError): grpc.ServerErrorResponse => {
		const metadata = new grpc.Metadata();
		const details = error.reason
			? [any('google.rpc.ErrorInfo', {reason: error.reason, domain: error.domain ?? 'googleapis.com', metadata: error.metadata ?? {}})]
			: [];
		metadata.set('grpc-status-details-bin', encode('google.rpc.Status', {code: error.code, message: error.message, details}));
		return Object.assign(new Error(error.message), {code: error.code, details: error.message, metadata});
	};

	/** Records the call, then answers with a queued failure or the handler's result. */
	const unary =
		<Request, Response>(method: string, handle: (request: Request) => Response | Failure) =>
		(call: grpc.ServerUnaryCall<Request, Response>, callback: grpc.sendUnaryData<Response>): void => {
			calls.push({method, request: call.request});
			const queued = failures.get(method)?.shift();
			if (queued) {
				callback(toServiceError(queued));
				return;
			}
			let result: Response | Failure;
			try {
				result = handle(call.request);
			} catch (error) {
				result = fail(Status.INTERNAL, String(error));
			}
			if (result instanceof Failure) callback(toServiceError(result.error));
			else callback(null, result);
		};

	const makeRepository = (
		project: string,
		location: string,
		id: string,
		fields: Partial<RepositoryObject> & {sizeBytes?: string},
	): RepositoryObject => {
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

	const artifactRegistry = {
		ListRepositories: unary('ListRepositories', (request: {parent?: string; pageSize?: number; pageToken?: string; filter?: string}) => {
			const parent = request.parent ?? '';
			if (!parentPattern.test(parent)) return fail(Status.INVALID_ARGUMENT, `invalid parent "${parent}"`);
			let match = (name: string) => name.startsWith(`${parent}/repositories/`);
			if (request.filter) {
				// The one filter form the wizard sends: name="<parent>/repositories/<prefix>*".
				const filter = /^name="([^"*]+)(\*?)"$/.exec(request.filter);
				if (!filter) return fail(Status.INVALID_ARGUMENT, `unsupported filter ${request.filter}`);
				const [, value = '', star] = filter;
				const inParent = match;
				match = star ? name => inParent(name) && name.startsWith(value) : name => inParent(name) && name === value;
			}
			const all = [...repositories.values()].filter(repository => match(repository.name)).sort((a, b) => a.name.localeCompare(b.name));
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

		CreateRepository: unary(
			'CreateRepository',
			(request: {parent?: string; repositoryId?: string; repository?: Partial<RepositoryObject>}) => {
				const parent = request.parent ?? '';
				const id = request.repositoryId ?? '';
				if (!parentPattern.test(parent)) return fail(Status.INVALID_ARGUMENT, `invalid parent "${parent}"`);
				if (!repositoryIdPattern.test(id) || id.length > 63) return fail(Status.INVALID_ARGUMENT, `invalid repository id "${id}"`);
				const name = `${parent}/repositories/${id}`;
				if (repositories.has(name)) return fail(Status.ALREADY_EXISTS, 'the repository already exists');
				const {project, location} = splitParent(parent);
				const {name: _ignored, createTime: _c, updateTime: _u, sizeBytes: _s, registryUri: _r, ...fields} = request.repository ?? {};
				const repository = makeRepository(project, location, id, {...fields, format: fields.format ?? 'FORMAT_UNSPECIFIED'});
				repositories.set(name, repository);
				// done:true with the Repository inline: the client never polls GetOperation.
				const operation = {name: `${parent}/operations/${randomUUID()}`, done: true, response: any(REPOSITORY_TYPE, repository)};
				operations.set(operation.name, operation);
				return operation;
			},
		),
	};

	const locationsService = {
		ListLocations: unary('ListLocations', (request: {name?: string}) => ({
			locations: locations.map(locationId => ({name: `${request.name ?? ''}/locations/${locationId}`, locationId, displayName: locationId})),
			nextPageToken: '',
		})),
	};

	const operationsService = {
		GetOperation: unary('GetOperation', (request: {name?: string}) => operations.get(request.name ?? '') ?? fail(Status.NOT_FOUND, 'operation not found')),
	};

	const service = (name: string) => definition[name] as grpc.ServiceDefinition;
	const server = new grpc.Server();
	server.addService(service('google.devtools.artifactregistry.v1.ArtifactRegistry'), artifactRegistry);
	server.addService(service('google.cloud.location.Locations'), locationsService);
	server.addService(service('google.longrunning.Operations'), operationsService);

	const port = await new Promise<number>((resolve, reject) => {
		server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) => (error ? reject(error) : resolve(boundPort)));
	});

	return {
		endpoint: `127.0.0.1:${port}`,
		repositories,
		locations,
		calls,
		addRepository(project, location, id, fields = {}) {
			const {sizeBytes, ...rest} = fields;
			const repository = makeRepository(project, location, id, {...rest, ...(sizeBytes === undefined ? {} : {sizeBytes: String(sizeBytes)})});
			repositories.set(repository.name, repository);
		},
		failNext(method, error, times = 1) {
			const queue = failures.get(method) ?? [];
			for (let index = 0; index < times; index++) queue.push(error);
			failures.set(method, queue);
		},
		async stop() {
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
}

