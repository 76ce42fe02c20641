import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {listServiceAccounts} from '../../source/services/gcloud.js';
import {makeSandbox, type Sandbox} from '../support/environment.js';
import {startFakeIam, type FakeIam} from '../support/fake-iam.js';
import {loginOffline} from '../support/gcloud.js';

describe("listing a project's service accounts with the real gcloud", () => {
	let sandbox: Sandbox;
	let iam: FakeIam;
	beforeAll(async () => {
		iam = await startFakeIam({
			'acme-gcp-dataplane': [
				'acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com',
				'acme-flytepropeller@acme-gcp-dataplane.iam.gserviceaccount.com',
				'acme-flyteworker-dev@acme-gcp-dataplane.iam.gserviceaccount.com',
			],
		});
		sandbox = await makeSandbox({env: {}});
		await loginOffline(sandbox);
		sandbox.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM = iam.endpoint;
	});
	afterAll(async () => {
		await iam?.stop();
		await sandbox?.cleanup();
	});

	it('gives the flyteworker accounts of the data plane project, and nothing where listing is denied', async () => {
		expect(await listServiceAccounts(sandbox.context(), 'acme-gcp-dataplane', 'flyteworker')).toEqual([
			'acme-flyteworker-dev@acme-gcp-dataplane.iam.gserviceaccount.com',
			'acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com',
		]);
		expect(await listServiceAccounts(sandbox.context(), 'someone-else', 'flyteworker')).toEqual([]);
		expect(iam.listed).toEqual(['acme-gcp-dataplane', 'someone-else']);
	});
});
