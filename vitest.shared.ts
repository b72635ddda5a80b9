import { defineConfig } from 'vitest/config';

// One place for what every package's tests share. tfjs-node's native addon is
// not safe in worker threads, hence the `forks` pool.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    env: { TF_CPP_MIN_LOG_LEVEL: '2' },
  },
});
