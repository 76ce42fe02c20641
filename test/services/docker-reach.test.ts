import {chmod, mkdir, mkdtemp, rm, symlink, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {snapDocker, socketPermission, underSudo} from '../../source/services/docker-reach.js';
import type {Platform} from '../../source/services/platform.js';
import {dockerEngine, requireDocker} from '../support/docker.js';

const engine = await dockerEngine();
const linux = (env: Record<string, string>, uid?: number): Platform => ({os: 'linux', arch: 'x64', env, home: '/home/alice', uid});

describe('how this user reaches docker', () => {
	it("a snap's docker (/snap/bin/docker, a link to /usr/bin/snap) is named, with the package install as the fix", async context => {
		const root = await mkdtemp(path.join(os.tmpdir(), 'isg-snap-'));
		context.onTestFinished(async () => rm(root, {recursive: true, force: true}));
		// The snap layout: <root>/snap/bin/docker → <root>/usr/bin/snap.
		await mkdir(path.join(root, 'snap', 'bin'), {recursive: true});
		await mkdir(path.join(root, 'usr', 'bin'), {recursive: true});
		await writeFile(path.join(root, 'usr', 'bin', 'snap'), '#!/bin/sh\n');
		await chmod(path.join(root, 'usr', 'bin', 'snap'), 0o755);
		await symlink(path.join(root, 'usr', 'bin', 'snap'), path.join(root, 'snap', 'bin', 'docker'));
		const snap = await snapDocker(path.join(root, 'snap', 'bin', 'docker'));
		expect(snap).toMatchObject({problem: 'snap'});
		expect(snap?.detail).toContain('cannot run docker-credential-gcloud');
		expect(snap?.fix).toContain('sudo snap remove docker');

		// Another folder's link to the snap launcher is the snap too; a docker of its own is not.
		await mkdir(path.join(root, 'bin'));
		await symlink(path.join(root, 'usr', 'bin', 'snap'), path.join(root, 'bin', 'docker'));
		expect(await snapDocker(path.join(root, 'bin', 'docker'))).toMatchObject({problem: 'snap'});
		await writeFile(path.join(root, 'usr', 'bin', 'docker'), '#!/bin/sh\n');
		expect(await snapDocker(path.join(root, 'usr', 'bin', 'docker'))).toBeUndefined();
	});

	it('run under sudo (root with SUDO_USER): the person is told to run it as themselves', () => {
		const reach = underSudo(linux({SUDO_USER: 'alice'}, 0));
		expect(reach).toMatchObject({problem: 'under-sudo'});
		expect(reach?.detail).toContain("not alice's");
		expect(reach?.fix).toContain('Run imagespec-gar as alice, without sudo');
		expect(underSudo(linux({SUDO_USER: 'alice'}, 1000))).toBeUndefined();
		expect(underSudo(linux({}, 0))).toBeUndefined();
	});

	// docker's own words, from the real CLI run as a user outside the docker group (root can reach any socket).
	// Only root can run it as another user: CI runs as root.
	requireDocker(it, engine).skipIf(process.getuid?.() !== 0)("a socket the user may not open: docker's real message gets the docker-group fix", async () => {
		const run = await execa('runuser', ['-u', 'nobody', '--', 'docker', '-H', engine!.dockerHost, 'version', '--format', '{{json .}}'], {
			reject: false,
			cwd: '/',
		});
		expect(run.exitCode).not.toBe(0);
		const reach = socketPermission(run.stderr.trim(), linux({USER: 'alice'}));
		expect(reach).toMatchObject({problem: 'socket-permission', fix: 'sudo usermod -aG docker alice, then log out and back in (or run: newgrp docker)'});
		expect(reach?.detail).toContain('Avoid `sudo docker`');
		// An engine that is simply down is not a permission problem.
		expect(socketPermission('Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?', linux({}))).toBeUndefined();
	});
});
