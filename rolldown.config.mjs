import {defineConfig} from 'rolldown';

// One bundle (plus a chunk per lazy import) instead of ~750 files: Node resolves and reads each
// module on its own, and that, not our code, was most of start-up.
export default defineConfig({
	// The Artifact Registry client's worker thread (source/services/registry-thread.ts) is an entry of its own.
	input: {cli: 'source/cli.tsx', 'registry-worker': 'source/services/registry-worker.ts'},
	platform: 'node',
	// Loaded on its worker thread and heavy on runtime file reads (protos): left to node_modules.
	external: ['@google-cloud/artifact-registry', 'google-gax'],
	// React's production build: the development one (react-reconciler alone is ~0.7 MB of checks
	// and warnings) is what Node would pick at run time, where NODE_ENV is unset.
	transform: {define: {'process.env.NODE_ENV': '"production"'}},
	output: {
		dir: 'dist',
		format: 'esm',
		sourcemap: true,
		entryFileNames: '[name].js',
		chunkFileNames: 'chunks/[name]-[hash].js',
		cleanDir: true,
	},
});
