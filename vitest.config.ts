import { defineConfig } from 'vitest/config';

// Unit tests run in Node on the real tfjs backends (cpu and wasm); no DOM.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'scripts/**/*.test.ts', 'bench/**/*.test.ts'],
    environment: 'node',
    setupFiles: ['src/test-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run files in two forks; tfjs state stays per process.
    pool: 'forks',
    maxWorkers: 2,
  },
});
