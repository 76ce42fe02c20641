import {realpath} from 'node:fs/promises';
import path from 'node:path';
import type {Platform} from './platform.js';

/**
 * The three ways a user reaches docker that leave gcloud's credential helper out of the push,
 * though every check of the helper passes: each with what happens and what to do instead.
 */
export type DockerReach = {
	problem: 'snap' | 'socket-permission' | 'under-sudo';
	detail: string;
	fix: string;
};

/** Docker's own install guide: the engine from a package, not the snap. */
const INSTALL_ENGINE = 'https://docs.docker.com/engine/install/';

/**
 * The snap's docker runs confined: it reads ~/snap/docker/current/.docker/config.json, not
 * ~/.docker/config.json, and cannot run docker-credential-gcloud (canonical/docker-snap#10, #19).
 * /snap/bin/docker is a link to /usr/bin/snap, which starts the confined binary.
 */
export const snapDocker = async (dockerPath: string): Promise<DockerReach | undefined> => {
	const target = await realpath(dockerPath).catch(() => dockerPath);
	const snap = path.dirname(dockerPath).endsWith(`${path.sep}snap${path.sep}bin`) || path.basename(target) === 'snap';
	if (!snap) return undefined;
	return {
		problem: 'snap',
		detail:
			`${dockerPath} is the snap's docker: it runs confined, reads its own config.json under ~/snap/docker ` +
			'and cannot run docker-credential-gcloud, so pushes to Artifact Registry are refused.',
		fix: `Install Docker Engine from a package instead: sudo snap remove docker, then ${INSTALL_ENGINE}`,
	};
};

/**
 * The engine's socket refuses this user (not in the docker group). `sudo docker` would then push
 * with root's config.json, which has no gcloud credential helper, and root's gcloud login.
 */
export const socketPermission = (engineError: string | undefined, platform: Platform): DockerReach | undefined => {
	if (!engineError || !/permission denied/i.test(engineError) || !/docker(\.sock|\.socket| daemon)/i.test(engineError)) return undefined;
	const user = platform.env.USER ?? platform.env.LOGNAME ?? '$USER';
	return {
		problem: 'socket-permission',
		detail:
			"Your user may not use the Docker engine (permission denied on its socket). Avoid `sudo docker`: it pushes with root's " +
			'docker config and gcloud login, which have no credentials for your repository.',
		fix: `sudo usermod -aG docker ${user}, then log out and back in (or run: newgrp docker)`,
	};
};

/** Run through sudo: docker and gcloud read root's files, not the person's who typed the command. */
export const underSudo = (platform: Platform): DockerReach | undefined => {
	const user = platform.env.SUDO_USER;
	if (!user || platform.os === 'win32' || platform.uid !== 0) return undefined;
	return {
		problem: 'under-sudo',
		detail:
			`imagespec-gar runs under sudo: docker and gcloud read root's config and login, not ${user}'s, ` +
			"so root's docker would need gcloud's credential helper and root's gcloud a login.",
		fix: `Run imagespec-gar as ${user}, without sudo (to use docker without sudo: sudo usermod -aG docker ${user}, then log in again).`,
	};
};
