import { fileURLToPath } from 'node:url';
import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared';

// `@trit/ttq` resolves to the sources, so the README example (test/readme-example.ts,
// which imports the package by name like a user would) runs against src, not a stale dist.
export default mergeConfig(
  shared,
  defineProject({
    test: { name: 'ttq' },
    resolve: {
      alias: { '@trit/ttq': fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
    },
  }),
);
