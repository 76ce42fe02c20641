import {existsSync} from 'node:fs';
import path from 'node:path';
import {isMap, isScalar, parseDocument} from 'yaml';
import {StepError} from './errors.js';
import {readRegularText} from './file-safety.js';

/*
 * flyte's config.yaml as the SDK finds and reads it: flyte-sdk 7e2d4231,
 * src/flyte/config/_reader.py resolve_config_path and _internal.py Image (image.registry,
 * image.builder; FLYTE_IMAGE_REGISTRY wins over the file).
 */

/** The file flyte reads, in its order: ./config.yaml, ./.flyte/config.yaml, <git root>/.flyte/config.yaml, UCTL_CONFIG, FLYTECTL_CONFIG, ~/.union, ~/.flyte. */
export const findFlyteConfig = (folder: string, env: NodeJS.ProcessEnv, home: string): string | undefined => {
	const candidates = [path.join(folder, 'config.yaml'), path.join(folder, '.flyte', 'config.yaml')];
	for (let dir = path.resolve(folder); ; dir = path.dirname(dir)) {
		if (existsSync(path.join(dir, '.git'))) {
			candidates.push(path.join(dir, '.flyte', 'config.yaml'));
			break;
		}
		if (path.dirname(dir) === dir) break;
	}
	for (const file of candidates) if (existsSync(file)) return file;
	for (const name of ['UCTL_CONFIG', 'FLYTECTL_CONFIG']) if (env[name]) return env[name];
	return [path.join(home, '.union', 'config.yaml'), path.join(home, '.flyte', 'config.yaml')].find(file => existsSync(file));
};

export type FlyteImageConfig = {
	/** The file read, when there is one. */
	file?: string;
	registry?: string;
	/** Where the registry came from: the environment variable or the file. */
	registryFrom?: 'FLYTE_IMAGE_REGISTRY' | 'file';
	builder?: string;
};

const imageSection = (text: string, file: string): Record<string, unknown> => {
	const document = parseDocument(text);
	if (document.errors.length > 0) {
		throw new StepError(`${file} is not valid YAML: ${document.errors[0]!.message.split('\n')[0]}`, {
			fix: `Fix ${file} (flyte cannot read it either), then rerun.`,
			reason: 'FLYTE_CONFIG_INVALID',
		});
	}
	const image = (document.toJS() as {image?: unknown} | null)?.image;
	return image && typeof image === 'object' ? (image as Record<string, unknown>) : {};
};

/** What flyte would use for image.registry and image.builder in `folder`. */
export const readFlyteImageConfig = async (folder: string, env: NodeJS.ProcessEnv, home: string): Promise<FlyteImageConfig> => {
	const file = findFlyteConfig(folder, env, home);
	const text = file === undefined ? undefined : await readRegularText(file);
	const image = file === undefined || text === undefined ? {} : imageSection(text, file);
	const fromFile = typeof image.registry === 'string' && image.registry !== '' ? image.registry : undefined;
	const fromEnv = env.FLYTE_IMAGE_REGISTRY || undefined;
	return {
		...(file ? {file} : {}),
		...(fromEnv ? {registry: fromEnv, registryFrom: 'FLYTE_IMAGE_REGISTRY' as const} : fromFile ? {registry: fromFile, registryFrom: 'file' as const} : {}),
		...(typeof image.builder === 'string' ? {builder: image.builder} : {}),
	};
};

/**
 * The config with `image.registry` set to `registry`, as a text edit: the registry's value
 * replaced, or one line added to the image section (or an image section appended), so every
 * other byte, comment and key order stays as it was. `existing` undefined: a new file.
 */
export const setConfigRegistry = (existing: string | undefined, registry: string, file: string): string => {
	const text = existing ?? '';
	const document = parseDocument(text);
	const refuse = (why: string) =>
		new StepError(`${file} ${why}, so image.registry cannot be set.`, {
			fix: `Set image.registry: ${registry} in ${file} yourself.`,
			reason: 'FLYTE_CONFIG_INVALID',
		});
	if (document.errors.length > 0) throw refuse(`is not valid YAML (${document.errors[0]!.message.split('\n')[0]})`);
	if (document.contents !== null && !isMap(document.contents)) throw refuse('is not a YAML mapping');
	const eol = text.includes('\r\n') ? '\r\n' : '\n';
	const image = document.get('image', true) as unknown;
	if (image === undefined) {
		const ending = text === '' || text.endsWith('\n') ? '' : eol;
		return `${text}${ending}image:${eol}  registry: ${registry}${eol}`;
	}
	if (!isMap(image) || image.flow) throw refuse('has an image entry that is not a block mapping');
	const current = image.get('registry', true) as unknown;
	if (isScalar(current) && current.range) return text.slice(0, current.range[0]) + registry + text.slice(current.range[1]);
	const last = image.items.at(-1);
	const keyStart = (image.items[0]?.key as {range?: [number, number, number]} | undefined)?.range?.[0];
	const valueEnd = (last?.value as {range?: [number, number, number]} | undefined)?.range?.[1];
	if (keyStart === undefined || valueEnd === undefined) throw refuse('has an image entry this tool cannot place a line in');
	const indent = text.slice(text.lastIndexOf('\n', keyStart - 1) + 1, keyStart);
	const lineEnd = text.indexOf('\n', valueEnd);
	const at = lineEnd === -1 ? text.length : lineEnd + 1;
	const before = lineEnd === -1 ? eol : '';
	return `${text.slice(0, at)}${before}${indent}registry: ${registry}${eol}${text.slice(at)}`;
};
