import {createHash} from 'node:crypto';
import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {crc32} from 'node:zlib';

/** A pure-Python project for the test index: files by path inside the wheel. */
export type TestProject = {name: string; version: string; files: Record<string, string>; requires?: string[]};

const u16 = (n: number) => {
	const b = Buffer.alloc(2);
	b.writeUInt16LE(n);
	return b;
};

const u32 = (n: number) => {
	const b = Buffer.alloc(4);
	b.writeUInt32LE(n >>> 0);
	return b;
};

/** A zip of stored (uncompressed) entries: all a wheel needs, no zip library. */
const zip = (entries: Array<[string, Buffer]>): Buffer => {
	const locals: Buffer[] = [];
	const central: Buffer[] = [];
	let offset = 0;
	// 1980-01-01 00:00, DOS format.
	const time = u16(0);
	const date = u16(0x21);
	for (const [name, data] of entries) {
		const fileName = Buffer.from(name, 'utf8');
		const sums = [u32(crc32(data)), u32(data.length), u32(data.length)];
		const local = Buffer.concat([u32(0x04034b50), u16(20), u16(0x800), u16(0), time, date, ...sums, u16(fileName.length), u16(0), fileName, data]);
		// Central directory entry: versions, flags (UTF-8 names), method, times, sums, name length, no extra/comment, no attributes, offset.
		const header = [u32(0x02014b50), u16(20), u16(20), u16(0x800), u16(0), time, date, ...sums, u16(fileName.length), u16(0), u16(0), u16(0), u16(0), u32(0)];
		central.push(Buffer.concat([...header, u32(offset), fileName]));
		locals.push(local);
		offset += local.length;
	}
	const directory = Buffer.concat(central);
	const end = Buffer.concat([u32(0x06054b50), u16(0), u16(0), u16(entries.length), u16(entries.length), u32(directory.length), u32(offset), u16(0)]);
	return Buffer.concat([...locals, directory, end]);
};

const recordHash = (data: Buffer) => `sha256=${createHash('sha256').update(data).digest('base64url')}`;

/** A py3-none-any wheel of project (PEP 427): its files, METADATA, WHEEL and RECORD. */
export const wheel = (project: TestProject): {file: string; data: Buffer} => {
	const distInfo = `${project.name}-${project.version}.dist-info`;
	const requires = (project.requires ?? []).map(r => `Requires-Dist: ${r}`);
	const metadata = ['Metadata-Version: 2.1', `Name: ${project.name}`, `Version: ${project.version}`, ...requires, ''].join('\n');
	const entries: Array<[string, Buffer]> = [
		...Object.entries(project.files).map(([name, text]): [string, Buffer] => [name, Buffer.from(text)]),
		[`${distInfo}/METADATA`, Buffer.from(metadata)],
		[`${distInfo}/WHEEL`, Buffer.from('Wheel-Version: 1.0\nGenerator: imagespec-gar-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n')],
	];
	const record = [...entries.map(([name, data]) => `${name},${recordHash(data)},${data.length}`), `${distInfo}/RECORD,,`, ''].join('\n');
	entries.push([`${distInfo}/RECORD`, Buffer.from(record)]);
	return {file: `${project.name.replaceAll('-', '_')}-${project.version}-py3-none-any.whl`, data: zip(entries)};
};

export type PythonIndex = {
	/** The PEP 503 simple index root, for pip_index. */
	url: string;
	/** Every request path, in order: proves the build used this index. */
	requests: string[];
	stop: () => Promise<void>;
};

/** A PEP 503 simple index on 127.0.0.1 serving projects' wheels: what a build installs from, never the internet. */
export const startPythonIndex = async (projects: TestProject[]): Promise<PythonIndex> => {
	const wheels = projects.map(project => ({project, ...wheel(project)}));
	const requests: string[] = [];
	const server: Server = createServer((request, response) => {
		const url = decodeURIComponent(request.url ?? '/');
		requests.push(url);
		const page = (html: string) => {
			response.writeHead(200, {'content-type': 'text/html'});
			response.end(`<!DOCTYPE html><html><body>\n${html}\n</body></html>`);
		};
		if (url === '/simple/') {
			page([...new Set(wheels.map(w => w.project.name))].map(name => `<a href="/simple/${name}/">${name}</a>`).join('\n'));
			return;
		}
		const project = /^\/simple\/([^/]+)\/$/.exec(url)?.[1];
		if (project) {
			const files = wheels.filter(w => w.project.name.toLowerCase().replaceAll('_', '-') === project.toLowerCase().replaceAll('_', '-'));
			if (files.length === 0) {
				response.writeHead(404).end();
				return;
			}
			page(files.map(w => `<a href="/files/${w.file}#sha256=${createHash('sha256').update(w.data).digest('hex')}">${w.file}</a>`).join('\n'));
			return;
		}
		const file = wheels.find(w => url === `/files/${w.file}`);
		if (file) {
			response.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': file.data.length});
			response.end(file.data);
			return;
		}
		response.writeHead(404).end();
	});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	const {port} = server.address() as AddressInfo;
	// Never the reason a test process stays alive.
	server.unref();
	return {
		url: `http://127.0.0.1:${port}/simple`,
		requests,
		stop: async () =>
			new Promise<void>(resolve => {
				server.close(() => {
					resolve();
				});
			}),
	};
};

/** The flytekit version the stand-in claims. */
export const STAND_IN_FLYTEKIT = '1.16.24';

/**
 * A stand-in flytekit: importing it imports its dependency (as the real one imports flyteidl),
 * so an install without dependencies gives an image where `import flytekit` fails.
 */
export const standInFlytekit: TestProject[] = [
	{
		name: 'flytekit',
		version: STAND_IN_FLYTEKIT,
		requires: ['flyteidl'],
		files: {'flytekit/__init__.py': `import flyteidl  # the SDK cannot import without it\n__version__ = "${STAND_IN_FLYTEKIT}"\n`},
	},
	{name: 'flyteidl', version: '1.16.0', files: {'flyteidl/__init__.py': '__version__ = "1.16.0"\n'}},
];
