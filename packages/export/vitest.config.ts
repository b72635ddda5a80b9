import { fileURLToPath } from 'node:url';
import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared';

export default mergeConfig(
  shared,
  defineProject({
    test: { name: 'export' },
    // The README example imports '@trit/export'; in tests that must be this
    // package's source (the module the tests import), not dist/, so there
    // is one converter registry.
    resolve: {
      alias: {
        '@trit/export/node': fileURLToPath(new URL('./src/node.ts', import.meta.url)),
        '@trit/export': fileURLToPath(new URL('./src/index.ts', import.meta.url)),
      },
    },
  }),
);
