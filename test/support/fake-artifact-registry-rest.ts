/**
 * The Artifact Registry v1 REST API, as the real `gcloud artifacts repositories ...` calls it,
 * over a fake's own in-memory model (its repositories, IAM policies and call log): what gcloud
 * creates here, the gRPC side (the wizard's client) reads back, and the other way round. Point
 * gcloud at it with CLOUDSDK_API_ENDPOINT_OVERRIDES_ARTIFACTREGISTRY=<url>.
 *
 * Routes: repositories get / create (an operation, done at once) / patch (updateMask), operations
 * get, getIamPolicy / setIamPolicy (with etags, as the gRPC side).
 */
import {randomUUID} from 'node:crypto';
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import type {FakeArtifactRegistry, FakePolicy, RepositoryObject} from './fake-artifact-registry.js';

export type RestFacade = {
	/** http://127.0.0.1:PORT/ */
	url: string;
	stop: () => Promise<void>;
};

const REPOSITORY_TYPE = 'type.googleapis.com/google.devtools.artifactregistry.v1.Repository';
const STATUS = {400: 'INVALID_ARGUMENT', 404: 'NOT_FOUND', 409: 'ALREADY_EXISTS', 412: 'FAILED_PRECONDITION'} as const;

/** google.protobuf.Duration as JSON ("2592000s", "2592000.0s") → the gRPC side's {seconds}. */
const duration = (value: unknown) => (typeof value === 'string' ? {seconds: String(Math.round(Number.parseFloat(value)))} : value);
const durationJson = (value: unknown) =>
	value && typeof value === 'object' && 'seconds' in value ? `${String((value as {seconds: unknown}).seconds)}s` : value;
const timestampJson = (value: unknown) =>
	value && typeof value === 'object' && 'seconds' in value ? new Date(Number((value as {seconds: unknown}).seconds) * 1000).toISOString() : value;

type Policies = Record<string, {condition?: Record<string, unknown>} & Record<string, unknown>>;

const mapPolicies = (policies: unknown, convert: (value: unknown) => unknown): Policies | undefined => {
	if (!policies || typeof policies !== 'object') return undefined;
	return Object.fromEntries(
		Object.entries(policies as Policies).map(([key, policy]) => {
			const condition = policy.condition ? {...policy.condition} : undefined;
			for (const field of ['olderThan', 'newerThan']) if (condition?.[field] !== undefined) condition[field] = convert(condition[field]);
			return [key, {...policy, ...(condition ? {condition} : {})}];
		}),
	);
};

/** A repository as REST JSON carries it (timestamps and durations as strings). */
const toJson = (repository: RepositoryObject) => ({
	...repository,
	createTime: timestampJson(repository.createTime),
	updateTime: timestampJson(repository.updateTime),
	...(repository.cleanupPolicies ? {cleanupPolicies: mapPolicies(repository.cleanupPolicies, durationJson)} : {}),
});

const policyJson = (policy: FakePolicy) => ({version: policy.version ?? 1, bindings: policy.bindings, etag: policy.etag.toString('base64')});

export async function serveArtifactRegistryRest(fake: FakeArtifactRegistry): Promise<RestFacade> {
	const operations = new Map<string, object>();
	const emptyPolicy = (): FakePolicy => ({version: 1, bindings: [], etag: Buffer.from('ACAB', 'base64')});

	const answer = (response: ServerResponse, status: number, body: unknown) => {
		response.writeHead(status, {'content-type': 'application/json; charset=UTF-8'});
		response.end(
			JSON.stringify(status >= 400 ? {error: {code: status, message: String(body), status: STATUS[status as keyof typeof STATUS] ?? 'UNKNOWN'}} : body),
		);
	};

	const handle = (request: IncomingMessage, body: string, response: ServerResponse) => {
		const url = new URL(request.url ?? '/', 'http://localhost');
		const route = decodeURIComponent(url.pathname).replace(/^\/v1\//, '');
		const json = body ? (JSON.parse(body) as Record<string, any>) : {};
		const method = request.method ?? 'GET';
		fake.calls.push({method: `REST ${method} ${route}`, request: {query: Object.fromEntries(url.searchParams), body: json}});

		const iam = /^(projects\/[^/]+\/locations\/[^/]+\/repositories\/[^/:]+):(getIamPolicy|setIamPolicy)$/.exec(route);
		if (iam) {
			const [, resource = '', verb] = iam;
			if (!fake.repositories.has(resource)) return answer(response, 404, 'Requested entity was not found.');
			const current = fake.policies.get(resource) ?? emptyPolicy();
			if (verb === 'getIamPolicy') return answer(response, 200, policyJson(current));
			const sent = json.policy ?? {};
			if (sent.etag && !Buffer.from(String(sent.etag), 'base64').equals(current.etag)) return answer(response, 409, 'There were concurrent policy changes.');
			return answer(response, 200, policyJson(fake.setPolicy(resource, sent.bindings ?? [])));
		}

		const operation = /^projects\/[^/]+\/locations\/[^/]+\/operations\/[^/]+$/.exec(route);
		if (operation && method === 'GET') {
			const found = operations.get(route);
			return found ? answer(response, 200, found) : answer(response, 404, 'operation not found');
		}

		const collection = /^(projects\/([^/]+)\/locations\/([^/]+))\/repositories$/.exec(route);
		if (collection && method === 'POST') {
			const [, parent = '', project = '', location = ''] = collection;
			const id = url.searchParams.get('repositoryId') ?? '';
			const name = `${parent}/repositories/${id}`;
			if (fake.repositories.has(name)) return answer(response, 409, 'the repository already exists');
			const {name: _name, createTime: _c, updateTime: _u, sizeBytes: _s, registryUri: _r, ...fields} = json;
			fake.addRepository(project, location, id, {format: fields.format});
			const created: RepositoryObject = {
				...fake.repositories.get(name)!,
				...fields,
				...(fields.cleanupPolicies ? {cleanupPolicies: mapPolicies(fields.cleanupPolicies, duration)} : {}),
			};
			fake.repositories.set(name, created);
			const done = {name: `${parent}/operations/${randomUUID()}`, done: true, response: {'@type': REPOSITORY_TYPE, ...toJson(created)}};
			operations.set(done.name, done);
			return answer(response, 200, done);
		}

		const item = /^projects\/[^/]+\/locations\/[^/]+\/repositories\/[^/:]+$/.exec(route);
		if (item) {
			const existing = fake.repositories.get(route);
			if (!existing) return answer(response, 404, 'Requested entity was not found.');
			if (method === 'GET') return answer(response, 200, toJson(existing));
			if (method === 'PATCH') {
				const mask = (url.searchParams.get('updateMask') ?? Object.keys(json).join(',')).split(',').filter(Boolean);
				const next: RepositoryObject = {...existing};
				for (const field of mask) {
					const key = field.replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase());
					next[key] = key === 'cleanupPolicies' ? mapPolicies(json[key], duration) : json[key];
				}

				fake.repositories.set(route, next);
				return answer(response, 200, toJson(next));
			}
		}

		return answer(response, 404, `no route ${method} ${route}`);
	};

	const server = createServer((request, response) => {
		let body = '';
		request.setEncoding('utf8');
		request.on('data', (chunk: string) => {
			body += chunk;
		});
		request.on('end', () => {
			try {
				handle(request, body, response);
			} catch (error) {
				answer(response, 400, String(error));
			}
		});
	});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	server.unref();
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
		stop: async () =>
			new Promise<void>(resolve => {
				server.close(() => {
					resolve();
				});
			}),
	};
}
