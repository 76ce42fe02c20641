import {validateRepositoryId, type ArtifactRegistry, type Repository} from '../services/artifact-registry.js';
import {StepError} from '../services/errors.js';
import type {StepContext} from './context.js';

const NEW_REPOSITORY = '\u0000new';

/** Step 3: select a Docker repository, or create one (format DOCKER). */
export async function chooseRepository(
	c: StepContext,
	{project, location, registry}: {project: string; location: string; registry: ArtifactRegistry},
): Promise<{repository: string; created: boolean}> {
	const {ask, flags, saved, ctx} = c;
	let id = flags.repository;
	if (id === undefined && ask.interactive) {
		const repositories: Repository[] = [];
		for await (const page of registry.listRepositoryPages(project, location, {signal: ctx.signal})) repositories.push(...page);
		const docker = repositories.filter(repo => repo.format === 'DOCKER');
		const savedFirst = [...docker].sort((a, b) => Number(b.id === saved.repository) - Number(a.id === saved.repository));
		const choice = await ask.select({
			flag: 'repository',
			message: `Docker repository in ${project} · ${location}:`,
			choices: [
				...savedFirst.map(repo => ({label: repo.id, value: repo.id, hint: repo.description || undefined})),
				...repositories
					.filter(repo => repo.format !== 'DOCKER')
					.map(repo => ({label: repo.id, value: repo.id, hint: `${repo.format}, not Docker`, disabled: true})),
				{label: '+ Create a new repository', value: NEW_REPOSITORY},
			],
			default: savedFirst[0]?.id ?? NEW_REPOSITORY,
		});
		id =
			choice === NEW_REPOSITORY
				? await ask.text({flag: 'repository', message: 'New repository name:', default: 'union-images', validate: validateRepositoryId})
				: choice;
	}

	id ??= await ask.text({flag: 'repository', message: 'Docker repository:', default: saved.repository, validate: validateRepositoryId});
	const existing = await registry.getRepository(project, location, id, ctx.signal);
	if (existing) {
		if (existing.format !== 'DOCKER') {
			throw new StepError(`Repository ${id} in ${project} · ${location} holds ${existing.format} packages, not Docker images`, {
				fix: 'Choose another repository name (or --repository NAME); Docker images need a DOCKER-format repository.',
				reason: 'NOT_DOCKER',
			});
		}

		return {repository: id, created: false};
	}

	const create = await ask.confirm({flag: 'repository', message: `Create Docker repository ${id} in ${project} · ${location}?`, default: true});
	if (!create) {
		throw new StepError(`Repository ${id} does not exist in ${project} · ${location}`, {fix: 'Rerun and choose an existing repository, or let the wizard create it.'});
	}

	const outcome = await registry.createDockerRepository(project, location, id, {
		signal: ctx.signal,
		description: 'Union / Flyte ImageSpec images (created by imagespec-gar)',
	});
	return {repository: id, created: outcome.created};
}
