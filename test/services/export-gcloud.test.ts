import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {describe, expect, it} from 'vitest';
import {exportGcloud, gcloudCleanupPolicyFile, shellQuote} from '../../source/services/export-gcloud.js';
import {EVERY_OPTION} from '../fixtures/export-setup.js';

const run = promisify(execFile);

describe('gcloud export', () => {
	it('is a script sh accepts, and quotes what the shell would otherwise read', async () => {
		const script = exportGcloud(EVERY_OPTION);
		await expect(run('sh', ['-n', '-c', script])).resolves.toBeDefined();
		expect(script).toContain(`--description='Team "ML" images: \${not a template} and 100%{x}; it'\\''s fine'`);
		expect(script).toContain('--labels=team=ml,cost-center=r-and-d,managed-by=imagespec-gar --immutable-tags');
		expect(script).toContain('gcloud auth configure-docker europe-west4-docker.pkg.dev --quiet');
		// Each of the data plane's accounts with its role: the remote builder pushes, the others read.
		const grants = script.split('\n').filter(line => line.includes('add-iam-policy-binding'));
		expect(grants.map(line => /--member (\S+) --role (\S+)/.exec(line)?.slice(1))).toEqual([
			['serviceAccount:acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com', 'roles/artifactregistry.reader'],
			['serviceAccount:acme-userflyterol-prod@acme-gcp-dataplane.iam.gserviceaccount.com', 'roles/artifactregistry.writer'],
			['serviceAccount:acme-backend-prod@acme-gcp-dataplane.iam.gserviceaccount.com', 'roles/artifactregistry.reader'],
		]);
		const {stdout} = await run('sh', ['-c', `printf '%s' ${shellQuote("it's $HOME `x`")}`]);
		expect(stdout).toBe("it's $HOME `x`");
	});

	it('writes the cleanup policy in the file format gcloud reads, from the same policies the API gets', () => {
		expect(gcloudCleanupPolicyFile({cleanup: {kind: 'keep', count: 5}})).toEqual([
			{name: 'imagespec-gar-delete-old', action: {type: 'DELETE'}, condition: {tagState: 'ANY'}},
			{name: 'imagespec-gar-keep-recent', action: {type: 'KEEP'}, mostRecentVersions: {keepCount: 5}},
		]);
		expect(gcloudCleanupPolicyFile({cleanup: {kind: 'delete-untagged', days: 2}})).toEqual([
			{name: 'imagespec-gar-delete-untagged', action: {type: 'DELETE'}, condition: {tagState: 'UNTAGGED', olderThan: '172800s'}},
		]);
		expect(exportGcloud({...EVERY_OPTION, settings: {...EVERY_OPTION.settings, cleanup: {kind: 'none'}}})).not.toContain('set-cleanup-policies');
	});
});
