import { defineConfig } from 'vitest/config';

// `npx vitest` at the root runs every package's tests as one workspace.
// `npm test` runs them through turbo instead, package by package, with caching.
export default defineConfig({
  test: {
    pool: 'forks',
    projects: ['packages/*'],
  },
});
