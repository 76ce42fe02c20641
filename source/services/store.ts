import {existsSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {writeFileSync as writeFileAtomically} from 'atomically';
import {StepError} from './errors.js';
import {fileError} from './file-safety.js';
import type {Platform} from './platform.js';

/**
 * Per-project answers, kept in one JSON file keyed by the user's project folder.
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
 * never overwritten. (conf + ajv checked it before: ~0.1 s of the start-up spent compiling the schema.)
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

/** The file's content, checked; {} when there is no file yet. Throws (one line) on anything else. */
const readStore = (file: string): StoreShape => {
	let found: string;
	try {
		found = readFileSync(file, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
		throw error;
	}
	const parsed = JSON.parse(found) as unknown;
	const wrong = Array.isArray(parsed) ? 'it holds a list, not an object' : shapeProblem(parsed, STORE_SHAPE, []);
	if (wrong) throw new Error(`its shape is wrong: ${wrong}`);
	return parsed as StoreShape;
};

const firstLine = (error: unknown) => (error instanceof Error ? error.message.split('\n')[0]! : String(error));

/**
 * One JSON file of every project's answers, 0600, replaced whole and atomically (atomically's
 * temp file and rename) on each save. Nothing is created until the first save.
 */
export const openStore = async (options: {folder: string; platform: Platform; cwd?: string}): Promise<AnswerStore> => {
	const key = options.folder;
	const dir = options.cwd ?? configDir(options.platform);
	const file = path.join(dir, 'config.json');
	const write = (next: StoreShape) => {
		try {
			writeFileAtomically(file, JSON.stringify(next, undefined, '\t'), {mode: 0o600});
		} catch (error) {
			throw fileError(error, 'save your answers in', file);
		}
	};

	let data: StoreShape = {};
	let problem: string | undefined;
	try {
		data = readStore(file);
		const version = data.schemaVersion ?? (Object.keys(data).length > 0 ? 0 : SCHEMA_VERSION);
		if (version < SCHEMA_VERSION) write((data = migrate(data, version)));
		else if (version > SCHEMA_VERSION) problem = `it was written by a newer imagespec-gar (schemaVersion ${version})`;
	} catch (error) {
		data = {};
		problem = firstLine(error);
	}

	return {
		path: file,
		problem,
		// Read again, as conf did: another run (another store) may have saved since.
		load: () => {
			if (problem) return {};
			try {
				data = readStore(file);
			} catch {
				// Unreadable since it was opened: what it held then.
			}
			return structuredClone(data.projects?.[key] ?? {});
		},
		save(update) {
			if (problem) return;
			// Read again: another run (another project folder) may have saved since.
			let all: Record<string, ProjectAnswers>;
			try {
				all = readStore(file).projects ?? {};
			} catch (error) {
				const cause = fileError(error, 'read your saved answers in', file);
				throw cause instanceof StepError ? cause : new StepError(`Cannot save your answers in ${file}: ${firstLine(error)}`, {cause: error});
			}
			// One write: opening the store (or a run that fails on usage) leaves no file behind.
			write({schemaVersion: SCHEMA_VERSION, projects: {...all, [key]: update(structuredClone(all[key] ?? {}))}});
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

/** Where conf, which kept the file before, put it (answers saved then are found), honouring the env we were given (tests pass XDG_CONFIG_HOME). */
const configDir = ({os, env, home}: Platform): string => {
	if (os === 'darwin' && !env.XDG_CONFIG_HOME) return path.join(home, 'Library', 'Preferences', 'imagespec-gar-nodejs');
	if (os === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'imagespec-gar-nodejs', 'Config');
	return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'imagespec-gar-nodejs');
};
