import {existsSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {fileError} from './file-safety.js';
import type {Platform} from './platform.js';

/**
 * Per-project answers, kept in a `conf` store keyed by the user's project folder.
 * Only names are stored: never a token, key or credential.
 */
export type SavedImage = {
	name: string;
	tag: string;
	imageUri: string;
	specFile: string;
	baseImage?: string;
	pythonVersion?: string;
	packages?: string[];
	requirements?: string;
	platform?: string;
	builder?: string;
	updatedAt: string;
};

export type SavedDataPlane = {
	sameProject: boolean;
	/** The worker account (Reader). */
	serviceAccount?: string;
	project?: string;
	/** Union's remote image builder (Writer) and the operator proxy (Reader), once asked. */
	builderServiceAccount?: string;
	operatorProxyServiceAccount?: string;
};

export type ProjectAnswers = {
	project?: string;
	location?: string;
	repository?: string;
	/** Where the Union data plane runs: the same project, or the worker service account (an email, never a key). */
	dataPlane?: SavedDataPlane;
	output?: string;
	/**
	 * The registry host `gcloud auth configure-docker` registered on this machine in the last run:
	 * its entry missing later means something rewrote docker's config.
	 */
	dockerAuth?: string;
	/** Images authored in this project folder, by image name; insertion order = authoring order. */
	images?: Record<string, SavedImage>;
};

export const SCHEMA_VERSION = 1;

const text = {type: 'string'};
const savedImage = {
	type: 'object',
	properties: Object.fromEntries([
		...['name', 'tag', 'imageUri', 'specFile', 'baseImage', 'pythonVersion', 'requirements', 'platform', 'builder', 'updatedAt'].map(key => [key, text]),
		['packages', {type: 'array', items: text}],
	]),
};
const projectAnswers = {
	type: 'object',
	properties: {
		...Object.fromEntries(['project', 'location', 'repository', 'output', 'dockerAuth'].map(key => [key, text])),
		dataPlane: {
			type: 'object',
			properties: {sameProject: {type: 'boolean'}, serviceAccount: text, project: text, builderServiceAccount: text, operatorProxyServiceAccount: text},
		},
		// schemaVersion 0 kept a list; migrate() turns it into the map.
		images: {
			anyOf: [
				{type: 'object', additionalProperties: savedImage},
				{type: 'array', items: savedImage},
			],
		},
	},
};
/** The shape of the whole file (conf validates it with ajv when it reads and writes). */
const STORE_SCHEMA = {schemaVersion: {type: 'integer', minimum: 0}, projects: {type: 'object', additionalProperties: projectAnswers}};

type StoreShape = {schemaVersion?: number; projects?: Record<string, ProjectAnswers>};

export type AnswerStore = {
	/** The store file, for messages. */
	path: string;
	/** Set when the file could not be read: the wizard goes on from defaults and never writes it. */
	problem?: string;
	load(): ProjectAnswers;
	save(update: (answers: ProjectAnswers) => ProjectAnswers): void;
};

/** The folder answers belong to: the git root above cwd, else cwd itself. No git process needed. */
export const projectFolder = (cwd: string): string => {
	for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
		if (existsSync(path.join(dir, '.git'))) return dir;
		if (path.dirname(dir) === dir) return path.resolve(cwd);
	}
};

export const openStore = async (options: {folder: string; platform: Platform; cwd?: string}): Promise<AnswerStore> => {
	const {default: Conf} = await import('conf');
	const key = options.folder;
	const dir = options.cwd ?? configDir(options.platform);
	const file = path.join(dir, 'config.json');
	let conf: InstanceType<typeof Conf<StoreShape>> | undefined;
	let problem: string | undefined;
	const open = () =>
		new Conf<StoreShape>({
			projectName: 'imagespec-gar',
			cwd: dir,
			// Paths contain dots; they are keys, not property paths.
			accessPropertiesByDotNotation: false,
			configFileMode: 0o600,
			clearInvalidConfig: false,
			// A file of another shape is reported and kept, never overwritten (as invalid JSON is).
			schema: STORE_SCHEMA,
		});

	// conf creates its folder when constructed: wait for the first save unless there is a file to read.
	if (existsSync(file)) {
		try {
			// conf reads a top-level list as an object (and would write it back as one).
			if (Array.isArray(parseOrUndefined(readFileSync(file, 'utf8')))) throw new Error('its shape is wrong: it holds a list, not an object');
			conf = open();
			const version = conf.get('schemaVersion') ?? (conf.size > 0 ? 0 : SCHEMA_VERSION);
			if (version < SCHEMA_VERSION) conf.store = migrate(conf.store, version);
			else if (version > SCHEMA_VERSION) problem = `it was written by a newer imagespec-gar (schemaVersion ${version})`;
		} catch (error) {
			conf = undefined;
			problem = error instanceof Error ? error.message.split('\n')[0]!.replace(/^Config schema violation: /, 'its shape is wrong: ') : String(error);
		}
	}

	const projects = (): Record<string, ProjectAnswers> => {
		const value = conf?.get('projects');
		return value && typeof value === 'object' ? value : {};
	};

	return {
		path: file,
		problem,
		load: () => structuredClone(projects()[key] ?? {}),
		save(update) {
			if (problem) return;
			conf ??= open();
			const all = projects();
			// One write: opening the store (or a run that fails on usage) leaves no file behind.
			try {
				conf.set({schemaVersion: SCHEMA_VERSION, projects: {...all, [key]: update(structuredClone(all[key] ?? {}))}});
			} catch (error) {
				throw fileError(error, 'save your answers in', file);
			}
		},
	};
};

/**
 * Our own migrations (conf's are marked unsupported by its author). v0, before schemaVersion
 * existed, kept each project's images as a list.
 */
export const migrate = (data: StoreShape, from: number): StoreShape => {
	let next = structuredClone(data) as StoreShape & {projects?: Record<string, ProjectAnswers & {images?: unknown}>};
	if (from < 1) {
		const projects = Object.fromEntries(
			Object.entries(next.projects ?? {}).map(([folder, answers]) => {
				const images = Array.isArray(answers.images) ? Object.fromEntries((answers.images as SavedImage[]).map(image => [image.name, image])) : answers.images;
				return [folder, {...answers, images}];
			}),
		);
		next = {...next, projects, schemaVersion: 1};
	}

	return next;
};

const parseOrUndefined = (text: string): unknown => {
	try {
		return JSON.parse(text) as unknown;
	} catch {
		return undefined;
	}
};

/** conf's own location, but honouring the env we were given (tests pass XDG_CONFIG_HOME). */
const configDir = ({os, env, home}: Platform): string => {
	if (os === 'darwin' && !env.XDG_CONFIG_HOME) return path.join(home, 'Library', 'Preferences', 'imagespec-gar-nodejs');
	if (os === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'imagespec-gar-nodejs', 'Config');
	return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'imagespec-gar-nodejs');
};
