import {createServer} from 'node:http';
import type {AddressInfo} from 'node:net';

export type FakeIam = {
	/** For CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: gcloud's IAM REST calls go here. */
	endpoint: string;
	/** The projects whose service accounts were listed, in order. */
	listed: string[];
	stop: () => Promise<void>;
};

/**
 * The IAM API's service account listing (GET /v1/projects/P/serviceAccounts), for the real
 * gcloud: `accounts` maps a project to its accounts' emails; another project is a 403 as for real.
 */
export const startFakeIam = async (accounts: Record<string, string[]>): Promise<FakeIam> => {
	const listed: string[] = [];
	const server = createServer((request, response) => {
		const match = /^\/v1\/projects\/([^/]+)\/serviceAccounts(\?|$)/.exec(request.url ?? '');
		response.setHeader('content-type', 'application/json');
		if (request.method !== 'GET' || !match) {
			response.writeHead(404).end(JSON.stringify({error: {code: 404, message: 'not found', status: 'NOT_FOUND'}}));
			return;
		}

		const project = decodeURIComponent(match[1]!);
		listed.push(project);
		const emails = accounts[project];
		if (!emails) {
			response.writeHead(403).end(
				JSON.stringify({
					error: {code: 403, message: `Permission 'iam.serviceAccounts.list' denied on resource (or it may not exist).`, status: 'PERMISSION_DENIED'},
				}),
			);
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
		stop: async () => new Promise<void>(resolve => server.close(() => resolve())),
	};
};
