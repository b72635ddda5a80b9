import { fileURLToPath } from 'node:url';
import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared';

// Tests run against the sources: the package name resolves to src/ (the
// README's worked example imports '@trit/quant-core' like a user would).
const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default mergeConfig(
  shared,
  defineProject({
    test: { name: 'quant-core' },
    resolve: {
      alias: [
        { find: /^@trit\/quant-core\/testing$/, replacement: src('testing.ts') },
        { find: /^@trit\/quant-core$/, replacement: src('index.ts') },
      ],
    },
  }),
);
