#!/usr/bin/env node
// The `trit` command. npm links a package's bins when it installs, before the
// build has produced dist/cli.js, and skips a bin whose file does not exist yet;
// this committed file always exists, so `npx trit` works once the build is done.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error(
    `trit: ${fileURLToPath(cli)} is not built yet; run \`npm run setup\` (or \`npm run build\`) in the trit repository first.`,
  );
  process.exit(1);
}
await import(cli.href);
