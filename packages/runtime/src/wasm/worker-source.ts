/**
 * The worker threads' program, as text: a worker started from a string
 * needs no file next to the bundle. It runs in a Node worker (reading
 * `workerData`) and in a web worker (reading its first message); it is never
 * evaluated on the thread that loads the runtime, so the `require` in it
 * does not make the main entry Node-only. See threads.ts for the protocol.
 */

/** Int32 slots of one control block: job counter, done counter, ready flag, error flag, then the job. */
export const SLOTS = 40;
export const JOB = 0;
export const DONE = 1;
export const READY = 2;
export const ERROR = 3;
export const ARGS = 4;

/** The program (job kinds: threads.ts `JobKind`). */
export const WORKER_SOURCE = `
'use strict';
function start(d) {
  const k = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
  const c = new Int32Array(d.memory.buffer, d.at, ${SLOTS});
  let seen = 0;
  Atomics.store(c, ${READY}, 1);
  Atomics.notify(c, ${READY});
  for (;;) {
    Atomics.wait(c, ${JOB}, seen);
    seen = Atomics.load(c, ${JOB});
    const a = c.slice(${ARGS});
    try {
      if (a[0] === 3) {
        k.lutDense(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17]);
      } else {
        k.convSetup(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12]);
        const n0 = a[a[0] === 1 ? 26 : 20], n1 = a[a[0] === 1 ? 27 : 21];
        const inB = a[a[0] === 1 ? 28 : 22], outB = a[a[0] === 1 ? 29 : 23];
        for (let n = n0; n < n1; n++) {
          if (a[0] === 1) k.lutConv(a[13] + n * inB, a[14], a[15], a[16], a[17], a[18], a[19], a[20] + n * outB, a[21], a[22], a[23], a[24], a[25]);
          else k.floatConv(a[13] + n * inB, a[14], a[15], a[16], a[17] + n * outB, a[18], a[19]);
        }
      }
    } catch (e) {
      Atomics.store(c, ${ERROR}, 1);
    }
    Atomics.store(c, ${DONE}, seen);
    Atomics.notify(c, ${DONE});
  }
}
if (typeof require === 'function') start(require('node:worker_threads').workerData);
else self.onmessage = (e) => start(e.data);
`;
