import {describe, expect, it} from 'vitest';
import {configureDockerCommand, enableApiCommand, grantCommand, START_DOCKER, writerGrantFix} from '../../source/services/fixes.js';

const ref = {project: 'acme-ml', location: 'us-east1', repository: 'images'};

describe('the catalogue of fixes', () => {
	it('spells each command as gcloud takes it', () => {
		expect(enableApiCommand('acme-ml')).toBe('gcloud services enable artifactregistry.googleapis.com --project acme-ml');
		expect(enableApiCommand()).toBe('gcloud services enable artifactregistry.googleapis.com');
		expect(configureDockerCommand('us-east1-docker.pkg.dev')).toBe('gcloud auth configure-docker us-east1-docker.pkg.dev');
		expect(grantCommand(ref, 'user:ana@example.com', 'roles/artifactregistry.reader')).toBe(
			'gcloud artifacts repositories add-iam-policy-binding images --project acme-ml --location us-east1 --member user:ana@example.com ' +
				'--role roles/artifactregistry.reader',
		);
	});

	it('the writer grant: the role to ask for, then the command on its own line', () => {
		expect(writerGrantFix(ref, 'serviceAccount:ci@acme-ml.iam.gserviceaccount.com').split('\n')).toEqual([
			'Ask an admin of the repository for Artifact Registry Writer (roles/artifactregistry.writer):',
			grantCommand(ref, 'serviceAccount:ci@acme-ml.iam.gserviceaccount.com', 'roles/artifactregistry.writer'),
		]);
	});

	it('"start Docker" names both ways and leaves the ending to the caller', () => {
		expect(START_DOCKER).toBe('Start Docker (open Docker Desktop, or `sudo systemctl start docker`)');
	});
});
