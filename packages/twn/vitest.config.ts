import { fileURLToPath } from 'node:url';
import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared';

export default mergeConfig(
  shared,
  defineProject({
    test: { name: 'twn' },
    // The README example imports '@trit/twn'; in tests that must be this
    // package's source (the same module the tests import), not dist/, or the
    // 'twn' quantizer would be registered twice by two different classes.
    resolve: { alias: { '@trit/twn': fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  }),
);
