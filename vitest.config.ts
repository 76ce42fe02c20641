import {defineConfig} from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.{ts,tsx}'],
		testTimeout: 60_000,
		hookTimeout: 120_000,
		// Real gcloud / docker processes: keep the 2-core machines from thrashing.
		maxWorkers: 2,
		reporters: process.env.CI ? ['verbose'] : ['default'],
	},
});
