import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Separate processes: e2e and integration tests start real servers and child processes.
    pool: 'forks',
    // Two cores: more parallel files only add contention for the socket and process tests.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ['default', ['json', { outputFile: '.test-results.json' }]],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // One shared broker + east + west for the files that use it; started only when this
          // project has tests queued, so `vitest run test/unit` starts no clusters.
          globalSetup: ['test/harness/global-setup.ts'],
        },
      },
    ],
  },
});
