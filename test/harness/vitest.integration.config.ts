// Runs the integration tests against one shared broker + east + west (test/harness/global-setup.ts):
//   npx vitest run --config test/harness/vitest.integration.config.ts [files...]
// The project's own vitest config can do the same by adding the globalSetup entry below.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/integration/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    // Clusters start in globalSetup; a cold first run also builds the binaries there.
    hookTimeout: 120_000,
    testTimeout: 60_000,
  },
});
