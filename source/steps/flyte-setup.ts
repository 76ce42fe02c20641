import path from 'node:path';
import {isRegularFile} from '../services/file-safety.js';
import type {FlyteImage} from '../services/flyte-image.js';
import {readFlyteDeclarations} from '../services/flyte-module.js';
import {flyteSpecView} from '../services/flyte-images.js';
import {readModuleFile} from '../services/spec-module.js';
import type {SavedImage} from '../services/store.js';
import type {StepContext} from './context.js';
import {DEFAULT_FLYTE_MODULE} from './flyte-image.js';
import {parseRegistry, toSavedImage, type KnownSetup} from './setup.js';

/** What the saved answers keep of a Flyte 2 image once its URI is known: the fields status compares. */
export const toSavedFlyteImage = (image: FlyteImage, tag: string, uri: string, specFile: string): SavedImage =>
	toSavedImage(flyteSpecView(image), tag, uri, specFile);

/**
 * A new team member's setup from the team's Flyte 2 module (flyte_images.py, or --output): the
 * repository its declarations push to, read from their literal registry= (no Python needed).
 */
export async function findFlyteSetup(c: Pick<StepContext, 'cwd' | 'folder' | 'flags' | 'saved' | 'ctx'>): Promise<KnownSetup | undefined> {
	const moduleFile = path.resolve(c.cwd, c.flags.output ?? path.join(c.folder, DEFAULT_FLYTE_MODULE));
	if (!isRegularFile(moduleFile)) return undefined;
	const content = await readModuleFile(moduleFile).catch(() => undefined);
	const images = readFlyteDeclarations(content ?? '').flatMap(declaration => (declaration.image?.registry ? [declaration.image] : []));
	for (const image of images) {
		const where = parseRegistry(image.registry!, c.ctx.platform.env.IMAGESPEC_GAR_REGISTRY_HOST);
		const location = where?.location ?? c.flags.location ?? c.saved.location;
		if (!where || !location) continue;
		const same = images.filter(other => other.registry === image.registry).map(other => ({...toSavedFlyteImage(other, '', '', moduleFile), updatedAt: ''}));
		return {source: 'module', project: where.project, location, repository: where.repository, moduleFile, images: same};
	}
	return undefined;
}
