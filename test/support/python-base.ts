import {existsSync} from 'node:fs';
import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {isCi} from './docker.js';
import {standInFlytekit, wheel} from './python-index.js';

/** Debian bookworm with python3, venv and pip, from Debian's packages: `.ci/python-base.sh` makes it. */
export const PYTHON_BASE_TARBALL = process.env.IMAGESPEC_GAR_PYTHON_BASE ?? '/tmp/imagespec-gar-python-base.tar';

/** Whether the tarball is there; under CI its absence is a failure, never a skip. */
export const pythonBaseAvailable = (): boolean => {
	if (existsSync(PYTHON_BASE_TARBALL)) return true;
	if (isCi()) throw new Error(`CI=true but ${PYTHON_BASE_TARBALL} is missing: run .ci/python-base.sh (.ci/run does).`);
	return false;
};

/** api when the Python base can be made, api.skip when not (never under CI: that throws). */
export const requirePythonBase = <T extends {skip: unknown}>(api: T): T => (pythonBaseAvailable() ? api : (api.skip as T));

const made = new Map<string, Promise<string>>();

const once = (key: string, make: () => Promise<string>): Promise<string> => {
	let image = made.get(key);
	if (!image) {
		image = make();
		made.set(key, image);
		image.catch(() => made.delete(key));
	}
	return image;
};

const dockerEnv = (dockerHost: string) => ({...process.env, DOCKER_HOST: dockerHost});

const present = async (env: NodeJS.ProcessEnv, ref: string) => (await execa('docker', ['image', 'inspect', ref], {env, reject: false})).exitCode === 0;

const push = async (env: NodeJS.ProcessEnv, local: string, ref: string) => {
	await execa('docker', ['tag', local, ref], {env});
	const pushed = await execa('docker', ['push', ref], {env, reject: false});
	if (pushed.exitCode !== 0) throw new Error(`docker push ${ref} failed: ${pushed.stderr}`);
	return ref;
};

// The engine keeps the imported image between test files and runs: import once per tarball.
const LOCAL_PYTHON = 'isg-test/debian-python:bookworm';
const LOCAL_FLYTEKIT = 'isg-test/debian-python-flytekit:bookworm';

const importTarball = async (env: NodeJS.ProcessEnv) => {
	if (await present(env, LOCAL_PYTHON)) return;
	await execa('docker', ['import', PYTHON_BASE_TARBALL, LOCAL_PYTHON], {env});
};

/**
 * Debian's python3 (externally managed, PEP 668, like a distribution image), pushed to
 * registryHost. Packages go in with python_exec's venv, as flytekit does for such images.
 */
export const pythonBaseImage = async (dockerHost: string, registryHost: string): Promise<string> =>
	once(`${dockerHost} ${registryHost} python`, async () => {
		const env = dockerEnv(dockerHost);
		await importTarball(env);
		return push(env, LOCAL_PYTHON, `${registryHost}/base/debian-python:bookworm`);
	});

/**
 * The Python base with the stand-in flytekit installed system-wide and pip free to install
 * (like ghcr.io/flyteorg/flytekit images): an image a Flyte task can start in, built offline.
 */
export const flytekitBaseImage = async (dockerHost: string, registryHost: string): Promise<string> =>
	once(`${dockerHost} ${registryHost} flytekit`, async () => {
		const env = dockerEnv(dockerHost);
		if (!(await present(env, LOCAL_FLYTEKIT))) {
			await importTarball(env);
			const context = await mkdtemp(path.join(os.tmpdir(), 'imagespec-gar-flytekit-base-'));
			try {
				const files = standInFlytekit.map(project => wheel(project));
				await Promise.all(files.map(async ({file, data}) => writeFile(path.join(context, file), data)));
				const dockerfile = [
					`FROM ${LOCAL_PYTHON}`,
					'COPY *.whl /tmp/wheels/',
					'RUN python3 -m pip install --break-system-packages --no-index --no-deps /tmp/wheels/*.whl && rm -rf /tmp/wheels /usr/lib/python3*/EXTERNALLY-MANAGED',
				].join('\n');
				await writeFile(path.join(context, 'Dockerfile'), `${dockerfile}\n`);
				await execa('docker', ['build', '-t', LOCAL_FLYTEKIT, context], {env: {...env, DOCKER_BUILDKIT: '0'}});
			} finally {
				await rm(context, {recursive: true, force: true});
			}
		}
		return push(env, LOCAL_FLYTEKIT, `${registryHost}/base/debian-python-flytekit:bookworm`);
	});
