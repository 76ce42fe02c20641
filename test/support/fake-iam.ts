import {createServer, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';

export type FakeIam = {
	/**
	 * For CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: gcloud's IAM REST calls go here; and, for
	 * CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER, `gcloud projects get-iam-policy`'s.
	 */
	endpoint: string;
	/** The projects whose service accounts were listed, in order. */
	listed: string[];
	/** The projects whose IAM policy was read, in order. */
	policiesRead: string[];
	stop: () => Promise<void>;
};

/**
 * The IAM API's service account listing (GET /v1/projects/P/serviceAccounts), for the real
 * gcloud: `accounts` maps a project to its accounts' emails; another project is a 403 as for real.
 */
/** A project the caller may not read: Google's 403, as gcloud reads it. */
const denied = (response: ServerResponse, message: string) => {
	response.writeHead(403).end(JSON.stringify({error: {code: 403, message, status: 'PERMISSION_DENIED'}}));
};

export const startFakeIam = async (
	accounts: Record<string, string[]>,
	/** Resource Manager's project policies (POST /v1/projects/P:getIamPolicy); another project is a 403. */
	projectPolicies: Record<string, Array<{role: string; members: string[]}>> = {},
): Promise<FakeIam> => {
	const listed: string[] = [];
	const policiesRead: string[] = [];
	const server = createServer((request, response) => {
		const match = /^\/v1\/projects\/([^/]+)\/serviceAccounts(\?|$)/.exec(request.url ?? '');
		response.setHeader('content-type', 'application/json');
		const policy = /^\/v1\/projects\/([^/:]+):getIamPolicy(\?|$)/.exec(request.url ?? '');
		if (request.method === 'POST' && policy) {
			const project = decodeURIComponent(policy[1]!);
			policiesRead.push(project);
			const bindings = projectPolicies[project];
			if (!bindings) {
				denied(response, `The caller does not have permission (resourcemanager.projects.getIamPolicy on ${project})`);
				return;
			}
			response.end(JSON.stringify({version: 1, etag: 'BwY=', bindings}));
			return;
		}

		if (request.method !== 'GET' || !match) {
			response.writeHead(404).end(JSON.stringify({error: {code: 404, message: 'not found', status: 'NOT_FOUND'}}));
			return;
		}

		const project = decodeURIComponent(match[1]!);
		listed.push(project);
		const emails = accounts[project];
		if (!emails) {
			denied(response, `Permission 'iam.serviceAccounts.list' denied on resource (or it may not exist).`);
			return;
		}

		response.end(
			JSON.stringify({accounts: emails.map(email => ({name: `projects/${project}/serviceAccounts/${email}`, projectId: project, email, uniqueId: '1'}))}),
		);
	});
	await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
	const {port} = server.address() as AddressInfo;
	return {
		endpoint: `http://127.0.0.1:${port}/`,
		listed,
		policiesRead,
		stop: async () => new Promise<void>(resolve => server.close(() => resolve())),
	};
};
