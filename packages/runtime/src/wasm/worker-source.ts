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
/**
 * Byte offset of the shared chunk counter: a layer is cut into chunks
 * (images, bands of output rows, ranges of output channels) that every
 * thread claims with `Atomics.add` until none is left, so a thread the OS
 * does not schedule delays the layer by one chunk at most.
 */
export const COUNTER_AT = 240;

/** The program (job kinds and arguments: threads.ts `JobKind`). */
export const WORKER_SOURCE = `
'use strict';
function start(d) {
  const k = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
  const c = new Int32Array(d.memory.buffer, d.at, ${SLOTS});
  const next = new Int32Array(d.memory.buffer, ${COUNTER_AT}, 1);
  let seen = 0;
  Atomics.store(c, ${READY}, 1);
  Atomics.notify(c, ${READY});
  for (;;) {
    Atomics.wait(c, ${JOB}, seen);
    seen = Atomics.load(c, ${JOB});
    const a = c.slice(${ARGS});
    try {
      if (a[0] === 3) {
        const mine = (d.index + 1) * a[17];
        for (let i = Atomics.add(next, 0, 1); i < a[16]; i = Atomics.add(next, 0, 1)) {
          const o0 = Math.floor((i * a[4]) / a[16]), o1 = Math.floor(((i + 1) * a[4]) / a[16]);
          k.lutDense(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13] + mine, a[14] + mine, a[15] + mine, o0, o1);
        }
      } else {
        k.convSetup(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12]);
        const at = a[0] === 1 ? 24 : 18;
        const chunks = a[at], bands = a[at + 1], inB = a[at + 2], outB = a[at + 3], outH = a[at + 4];
        for (let i = Atomics.add(next, 0, 1); i < chunks; i = Atomics.add(next, 0, 1)) {
          const n = Math.floor(i / bands), b = i % bands;
          const oy0 = Math.floor((b * outH) / bands), oy1 = Math.floor(((b + 1) * outH) / bands);
          if (a[0] === 1) k.lutConv(a[13] + n * inB, a[14], a[15], a[16], a[17], a[18], a[19], a[20] + n * outB, a[21] + (d.index + 1) * a[29], oy0, oy1, a[22], a[23]);
          else k.floatConv(a[13] + n * inB, a[14], a[15], a[16], a[17] + n * outB, oy0, oy1);
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
