import type {ImageSpec} from './imagespec.js';

/** A value that looks like a credential, and where it was given. */
export type Secret = {
	/** What the person gave, without the value: `--env HF_TOKEN`, `--pip-index`. */
	label: string;
	/** The parts to keep off screens and out of logs. */
	values: string[];
};

// Names people give tokens, passwords and keys (HF_TOKEN, AWS_SECRET_ACCESS_KEY, DB_PASSWORD, OPENAI_API_KEY ...).
const SECRET_NAME = /TOKEN|SECRET|PASSW(?:OR)?D|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH|COOKIE|SESSION/i;

/** The user and password of a URL (`https://user:pw@host/simple`), or none. */
const urlCredentials = (url: string): string[] => {
	let parsed: URL;
	try {
		parsed = new URL(url);
	} catch {
		return [];
	}

	return [decodeURIComponent(parsed.password), decodeURIComponent(parsed.username), parsed.password, parsed.username].filter(part => part !== '');
};

type SecretSources = Pick<ImageSpec, 'env' | 'pip_index' | 'pip_extra_index_url'>;

/** Secret-looking environment values and credentials inside index URLs. */
export const findSecrets = (spec: SecretSources): Secret[] => {
	const found: Secret[] = [];
	for (const [name, value] of Object.entries(spec.env ?? {})) {
		if (typeof value === 'string' && value !== '' && SECRET_NAME.test(name)) found.push({label: `--env ${name}`, values: [value]});
	}

	const indexes: Array<[string, string | undefined]> = [
		['--pip-index', spec.pip_index],
		...(spec.pip_extra_index_url ?? []).map((url): [string, string] => ['--pip-extra-index-url', url]),
	];
	for (const [label, url] of indexes) {
		const values = url ? urlCredentials(url) : [];
		if (values.length > 0) found.push({label, values: [...new Set(values)]});
	}

	return found;
};

/** The secrets of the flags themselves, before any spec is made. */
export const secretsInFlags = (flags: {env: string[]; pipIndex?: string; pipExtraIndexUrl: string[]}): Secret[] =>
	findSecrets({
		env: Object.fromEntries(flags.env.filter(pair => pair.includes('=')).map(pair => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])),
		pip_index: flags.pipIndex,
		pip_extra_index_url: flags.pipExtraIndexUrl,
	});

/** Replaces every secret value in text with ***; credentials in any URL too. */
export const redactor = (secrets: Secret[]): ((text: string) => string) => {
	// Longest first, so a value that contains another is masked whole.
	const values = [...new Set(secrets.flatMap(secret => secret.values))].filter(value => value.length >= 3).sort((a, b) => b.length - a.length);
	return text => maskUrlCredentials(values.reduce((masked, value) => masked.replaceAll(value, '***'), text));
};

/** `https://user:pw@host` → `https://***@host`: never show a URL's credentials. */
export const maskUrlCredentials = (text: string): string => text.replace(/(\b[a-z][a-z\d+.-]*:\/\/)[^/@\s"']+@/gi, '$1***@');

/** The one sentence that names what was found and where it would go. */
export const secretWarning = (secrets: Secret[], moduleName: string): string =>
	`${secrets.map(secret => secret.label).join(', ')} ${secrets.length === 1 ? 'looks' : 'look'} like a secret: ` +
	`it would be written in plain text into ${moduleName} (meant for git) and baked into the pushed image.`;

export const SECRET_FIX =
	"Keep secrets out of the spec: give pip credentials at build time with pip_secret_mounts (flytekit's ImageSpec) " +
	'and runtime secrets with Union secrets (`union create secret`, then secret_requests on the task). ' +
	'To write it anyway, rerun with --allow-secrets.';
