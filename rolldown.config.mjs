import {fileURLToPath} from 'node:url';
import {defineConfig} from 'rolldown';

// yoga-layout's loader (emscripten) fetches its own base64 `data:` URL when a global fetch exists:
// on Node that loads undici and pushes ~100 kB through it, ~70 ms CPU before Ink's first frame. The
// synchronous decode it falls back to (no fetch) is what Node needs.
const YOGA_LOADER = /yoga-layout[\\/]dist[\\/]binaries[\\/]yoga-wasm-base64-esm\.js$/;
const YOGA_FETCH = 'return w||"function"!=typeof fetch?';
const yogaWithoutFetch = {
	name: 'yoga-without-fetch',
	transform(code, id) {
		if (!YOGA_LOADER.test(id)) return undefined;
		// A yoga release that loads another way must be looked at again, not silently left fetching.
		if (!code.includes(YOGA_FETCH)) throw new Error(`${id}: yoga's loader changed; see yogaWithoutFetch in rolldown.config.mjs`);
		// Within one line, nothing moves: the source map stays right (map: null).
		return {code: code.replace(YOGA_FETCH, 'return true?'), map: null};
	},
};

// One bundle (plus a chunk per lazy import) instead of ~750 files: Node resolves and reads each
// module on its own, and that, not our code, was most of start-up.
export default defineConfig({
	plugins: [yogaWithoutFetch],
	input: 'source/cli.tsx',
	platform: 'node',
	// Loaded after the first frame and heavy on runtime file reads (protos): left to node_modules.
	external: ['@google-cloud/artifact-registry', 'google-gax'],
	// React's production build: the development one (react-reconciler alone is ~0.7 MB of checks
	// and warnings) is what Node would pick at run time, where NODE_ENV is unset.
	transform: {define: {'process.env.NODE_ENV': '"production"'}},
	// conf's ajv serves only its `schema` option, which the store never passes: not bundled.
	resolve: {
		alias: {
			'ajv/dist/2020.js': fileURLToPath(new URL('source/services/conf-without-ajv.js', import.meta.url)),
			'ajv-formats': fileURLToPath(new URL('source/services/conf-without-ajv.js', import.meta.url)),
		},
	},
	output: {
		dir: 'dist',
		format: 'esm',
		sourcemap: true,
		entryFileNames: '[name].js',
		chunkFileNames: 'chunks/[name]-[hash].js',
		cleanDir: true,
	},
});
