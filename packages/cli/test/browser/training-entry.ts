// Browser side of ../browser-training.test.ts: quant-core and the four algorithm packages
// (bundled; tfjs is the page's global `tf`), and the shared training case.
import * as core from '@trit/quant-core';
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';

import type * as TF from '@tensorflow/tfjs';
import { trainCase } from './training-case.js';

/** The page's tfjs (its UMD build, loaded before this bundle). */
const tf = (globalThis as unknown as { tf: typeof TF }).tf;

(globalThis as unknown as { trit: unknown }).trit = {
  quantizers: () => core.listQuantizers(),
  /** Runs the case on `backend`, saving to and loading from IndexedDB. */
  async run(quantizer: string, backend: string) {
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} unavailable`);
    await tf.ready();
    const url = `indexeddb://trit-${quantizer}-${backend}`;
    return trainCase(tf, core, quantizer, url, url);
  },
};
