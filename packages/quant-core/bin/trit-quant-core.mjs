#!/usr/bin/env node
// @ts-check
// The command of @trit/quant-core, for an application's project:
//   npx @trit/quant-core setup-native [--check] [--force] [--wheel-only]
// Plain JavaScript with no dependency, so it runs before anything is built.
import { parseArgs } from 'node:util';

const USAGE = `Usage: npx @trit/quant-core <command> [options]

Commands:
  setup-native   make @tensorflow/tfjs-node, the native TensorFlow backend of
                 initBackend(), work on this machine: its own install (which
                 downloads from Google's storage), else, on Linux x86_64, a build
                 against the pinned tensorflow-cpu wheel from the Python package
                 index (needs Python 3 with pip, a C++ compiler and make)

Options of setup-native:
  --check        only report whether the native backend loads (exit code 1 if not)
  --force        rebuild even if it loads
  --wheel-only   skip the download from Google's storage
  -h, --help     show this help`;

/**
 * @param {string} message
 * @returns {never}
 */
function usageError(message) {
  console.error(`trit-quant-core: ${message}\n\n${USAGE}`);
  process.exit(2);
}

const OPTIONS = /** @type {const} */ ({
  check: { type: 'boolean' },
  force: { type: 'boolean' },
  'wheel-only': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
});

function parse() {
  try {
    return parseArgs({ allowPositionals: true, options: OPTIONS });
  } catch (err) {
    // Unknown options and missing values, worded by node:util.
    return usageError(err instanceof Error ? err.message : String(err));
  }
}

const { values, positionals } = parse();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const [command, ...extra] = positionals;
if (command === undefined) usageError('no command given');
if (command !== 'setup-native') usageError(`unknown command "${command}"`);
if (extra.length > 0) usageError(`unexpected argument "${extra[0]}"`);

const { setupNative } = await import('./setup-native.mjs');
try {
  process.exitCode = await setupNative({
    check: values.check ?? false,
    force: values.force ?? false,
    wheelOnly: values['wheel-only'] ?? false,
  });
} catch (err) {
  console.error(`[tfjs-node] ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
}
