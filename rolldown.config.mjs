import {fileURLToPath} from 'node:url';
import {defineConfig} from 'rolldown';

// One bundle (plus a chunk per lazy import) instead of ~750 files: Node resolves and reads each
// module on its own, and that, not our code, was most of start-up.
export default defineConfig({
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
