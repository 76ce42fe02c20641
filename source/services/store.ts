import {existsSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {StepError} from './errors.js';
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

/**
 * The shape of the file, checked when it is read: a file of another shape is reported and kept,
 * never overwritten. (Not conf's ajv `schema`: compiling it cost ~0.2 s at every start.)
 */
type Shape = 'string' | 'boolean' | 'integer' | {object: Record<string, Shape>} | {map: Shape} | {list: Shape} | {anyOf: Shape[]};
const text = 'string';
const SAVED_IMAGE: Shape = {
	object: Object.fromEntries([
		...['name', 'tag', 'imageUri', 'specFile', 'baseImage', 'pythonVersion', 'requirements', 'platform', 'builder', 'updatedAt'].map(
			key => [key, text] as const,
		),
		['packages', {list: text}],
	]),
};
const PROJECT_ANSWERS: Shape = {
	object: {
		...Object.fromEntries(['project', 'location', 'repository', 'output', 'dockerAuth'].map(key => [key, text] as const)),
		dataPlane: {
			object: {sameProject: 'boolean', serviceAccount: text, project: text, builderServiceAccount: text, operatorProxyServiceAccount: text},
		},
		// schemaVersion 0 kept a list; migrate() turns it into the map.
		images: {anyOf: [{map: SAVED_IMAGE}, {list: SAVED_IMAGE}]},
	},
};
const STORE_SHAPE: Shape = {object: {schemaVersion: 'integer', projects: {map: PROJECT_ANSWERS}}};

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Where value departs from shape (`projects › /p › images must be …`), or undefined when it fits. Absent keys fit. */
const shapeProblem = (value: unknown, shape: Shape, at: string[]): string | undefined => {
	const where = at.length > 0 ? at.join(' › ') : 'the file';
	if (shape === 'string' || shape === 'boolean') return typeof value === shape ? undefined : `${where} must be a ${shape}`;
	if (shape === 'integer') return Number.isInteger(value) && (value as number) >= 0 ? undefined : `${where} must be a whole number`;
	if ('anyOf' in shape) {
		const problems = shape.anyOf.map(one => shapeProblem(value, one, at));
		return problems.includes(undefined) ? undefined : problems[0];
	}
	if ('list' in shape) {
		if (!Array.isArray(value)) return `${where} must be a list`;
		return value.map((item, index) => shapeProblem(item, shape.list, [...at, String(index)])).find(Boolean);
	}
	if (!isPlainObject(value)) return `${where} must be an object`;
	if ('map' in shape)
		return Object.entries(value)
			.map(([key, item]) => shapeProblem(item, shape.map, [...at, key]))
			.find(Boolean);
	return Object.entries(shape.object)
		.map(([key, part]) => (value[key] === undefined ? undefined : shapeProblem(value[key], part, [...at, key])))
		.find(Boolean);
};

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

const firstLine = (error: unknown) => (error instanceof Error ? error.message.split('\n')[0]! : String(error));

const parseOrUndefined = (text: string): unknown => {
	try {
		return JSON.parse(text) as unknown;
	} catch {
		return undefined;
	}
};

/**
 * One JSON file of every project's answers, kept by conf: 0600, written whole and atomically on
 * each save, read again on each load. Nothing is created until the first save. conf gets no
 * `schema`: its ajv compile cost ~0.2 s at every start; the file's shape is checked here instead.
 */
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
			// A file that does not parse is reported and kept, never overwritten (as one of another shape is).
			clearInvalidConfig: false,
		});
	/** What the file holds now (conf reads it again), checked: one line when its shape is wrong. */
	const read = (store: NonNullable<typeof conf>): StoreShape => {
		const data = store.store;
		const wrong = shapeProblem(data, STORE_SHAPE, []);
		if (wrong) throw new Error(`its shape is wrong: ${wrong}`);
		return data;
	};

	// conf creates its folder when constructed: wait for the first save unless there is a file to read.
	let data: StoreShape = {};
	if (existsSync(file)) {
		try {
			// conf reads a top-level list as an object (and would write it back as one).
			if (Array.isArray(parseOrUndefined(readFileSync(file, 'utf8')))) throw new Error('its shape is wrong: it holds a list, not an object');
			conf = open();
			data = read(conf);
			const version = data.schemaVersion ?? (conf.size > 0 ? 0 : SCHEMA_VERSION);
			if (version < SCHEMA_VERSION) conf.store = data = migrate(data, version);
			else if (version > SCHEMA_VERSION) problem = `it was written by a newer imagespec-gar (schemaVersion ${version})`;
		} catch (error) {
			conf = undefined;
			data = {};
			problem = firstLine(error);
		}
	}

	return {
		path: file,
		problem,
		load: () => {
			if (problem || !conf) return {};
			try {
				data = read(conf);
			} catch {
				// Unreadable since it was opened: what it held then.
			}
			return structuredClone(data.projects?.[key] ?? {});
		},
		save(update) {
			if (problem) return;
			conf ??= open();
			// Read again: another run (another project folder) may have saved since.
			let all: Record<string, ProjectAnswers>;
			try {
				all = read(conf).projects ?? {};
			} catch (error) {
				const cause = fileError(error, 'read your saved answers in', file);
				throw cause instanceof StepError ? cause : new StepError(`Cannot save your answers in ${file}: ${firstLine(error)}`, {cause: error});
			}
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
 * Our own migrations. v0, before schemaVersion
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

/** conf's own location, but honouring the env we were given (tests pass XDG_CONFIG_HOME). */
const configDir = ({os, env, home}: Platform): string => {
	if (os === 'darwin' && !env.XDG_CONFIG_HOME) return path.join(home, 'Library', 'Preferences', 'imagespec-gar-nodejs');
	if (os === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'imagespec-gar-nodejs', 'Config');
	return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'imagespec-gar-nodejs');
};
