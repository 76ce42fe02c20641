// services/: each service against real parts (the AR client on the loopback gRPC fake, real gcloud
// in a temporary CLOUDSDK_CONFIG, a real Docker engine); files are named after the service or behaviour they test.
import {describe, expect, it} from 'vitest';
import {toStepError} from '../../source/services/api-errors.js';

const PROJECT = 'acme-dev';

describe('toStepError', () => {
	const apiError = (fields: object) => Object.assign(new Error('x'), fields);

	it('names the Writer role for uploadArtifacts and the Reader role for list', () => {
		const upload = toStepError(
			apiError({code: 7, reason: 'IAM_PERMISSION_DENIED', errorInfoMetadata: {permission: 'artifactregistry.repositories.uploadArtifacts'}}),
			'push images',
			PROJECT,
		);
		expect(upload.fix).toContain('Artifact Registry Writer (roles/artifactregistry.writer)');
		const list = toStepError(
			apiError({code: 7, reason: 'IAM_PERMISSION_DENIED', errorInfoMetadata: {permission: 'artifactregistry.repositories.list'}}),
			'list repositories',
			PROJECT,
		);
		expect(list.fix).toContain('Artifact Registry Reader (roles/artifactregistry.reader)');
		expect(list.fix).not.toMatch(/existing repository/);
	});

	it('finds the permission in the message when ErrorInfo is missing', () => {
		const error = toStepError(
			apiError({code: 7, details: "Permission 'artifactregistry.repositories.create' denied on resource 'projects/p/locations/us'"}),
			'create repository images',
			PROJECT,
		);
		expect(error.reason).toBe('IAM_PERMISSION_DENIED');
		expect(error.fix).toContain('roles/artifactregistry.admin');
	});

	it('takes the project from ErrorInfo when the caller did not name one', () => {
		const error = toStepError(apiError({code: 7, reason: 'SERVICE_DISABLED', errorInfoMetadata: {consumer: 'projects/987'}}), 'list repositories');
		expect(error.fix).toBe('gcloud services enable artifactregistry.googleapis.com --project 987');
	});

	it('treats an expired login arriving as UNAVAILABLE as an auth problem', () => {
		const error = toStepError(apiError({code: 14, details: 'Getting metadata from plugin failed with error: invalid_grant'}), 'list repositories', PROJECT);
		expect(error.reason).toBe('UNAUTHENTICATED');
		expect(error.fix).toBe('gcloud auth application-default login');
	});

	it('keeps the message of anything else', () => {
		const error = toStepError(apiError({code: 3, details: 'Invalid cleanup policy'}), 'create repository images', PROJECT);
		expect(error.message).toBe('Could not create repository images: Invalid cleanup policy');
		expect(error.reason).toBe('INVALID_ARGUMENT');
	});
});
