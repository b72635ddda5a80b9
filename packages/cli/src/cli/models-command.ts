import { initBackend } from '@trit/quant-core';
import type { Command } from 'commander';
import { modelComplexity } from '../models/complexity.js';
import { resnetCifar } from '../models/resnet-cifar.js';
import { resnet18 } from '../models/resnet18.js';

/** `trit models`: parameters and per-image FLOPs of every built-in model. */
export function registerModelCommands(program: Command): void {
  program
    .command('models')
    .description('list the built-in models with their parameters and FLOPs')
    .action(async () => {
      // Without an initialised backend tfjs falls back to its cpu backend, which prints
      // its "running TensorFlow.js in Node.js" banner; native is used when it loads.
      await initBackend({ quiet: true });
      const rows = [
        ...[20, 32, 44, 56].map((d) => ({
          name: `resnet${d} (CIFAR, option A)`,
          input: '32x32x3',
          model: resnetCifar({ depth: d }),
        })),
        {
          name: 'resnet20 (CIFAR, option B)',
          input: '32x32x3',
          model: resnetCifar({ depth: 20, shortcut: 'B' }),
        },
        {
          name: 'resnet18-64 (widths 32-256)',
          input: '64x64x3',
          model: resnet18({ numClasses: 100 }),
        },
      ];
      console.log('| model | input | params | MACs / image | FLOPs / image |');
      console.log('| --- | --- | ---: | ---: | ---: |');
      for (const r of rows) {
        const c = modelComplexity(r.model);
        console.log(
          `| ${r.name} | ${r.input} | ${(c.params / 1e6).toFixed(3)} M | ${(c.macs / 1e6).toFixed(1)} M | ${(c.flops / 1e6).toFixed(1)} M |`,
        );
        r.model.dispose();
      }
    });
}
