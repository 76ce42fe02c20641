import {defineConfig} from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.{ts,tsx}'],
		// Real gcloud (~1.6 s a call), docker builds and pty journeys on a 2-core machine.
		testTimeout: 180_000,
		hookTimeout: 120_000,
		// Real gcloud / docker processes: keep the 2-core machines from thrashing.
		maxWorkers: 2,
		reporters: process.env.CI ? ['verbose'] : ['default'],
	},
});
