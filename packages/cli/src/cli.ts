#!/usr/bin/env node
// The `trit` command line.
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';
import { Command } from 'commander';
import { registerBenchCommands } from './cli/bench-command.js';
import { registerDataCommands } from './cli/data-command.js';
import { registerExportCommand } from './cli/export-command.js';
import { registerInferCommand } from './cli/infer-command.js';
import { registerModelCommands } from './cli/models-command.js';
import { packageVersions } from './cli/versions.js';

process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';

const program = new Command('trit')
  .description(
    'ternary weight quantization for TensorFlow.js: datasets, training and head-to-head benchmarks',
  )
  .version(packageVersions()['@trit/cli'] ?? '0.0.0')
  .showHelpAfterError();
registerDataCommands(program);
registerModelCommands(program);
registerBenchCommands(program);
registerExportCommand(program);
registerInferCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`trit: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
