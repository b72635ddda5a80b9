/**
 * The worker threads' program, as text: a worker started from a string
 * needs no file next to the bundle. It runs in a Node worker (reading
 * `workerData`) and in a web worker (reading its first message); it is never
 * evaluated on the thread that loads the runtime, so the `require` in it
 * does not make the main entry Node-only. See threads.ts for the protocol.
 */

/** Int32 slots of one control block: the job counter (a seqlock: odd while the job is written), then the job. */
export const SLOTS = 40;
export const JOB = 0;
export const ARGS = 1;
/**
 * Byte offset of 4 int32 shared by all threads: the claim word (epoch << 20 |
 * next chunk), chunks finished, a failure flag, and chunks done by workers
 * (ever). A layer is cut into chunks (images, bands of output rows, ranges
 * of output channels) that every thread claims with a compare-and-swap
 * until none is left; the caller waits for the chunks, not for the workers,
 * so a worker the OS has not scheduled yet delays nothing, and when it wakes
 * finds the epoch changed and claims nothing.
 */
export const SHARED_AT = 224;

/**
 * Milliseconds a thread spins on its word before it sleeps in `Atomics.wait`:
 * a worker after its chunks (waiting for the next layer), the caller after its
 * own (waiting for the workers'). Waking a sleeping thread takes a noticeable
 * part of a short layer: with `Atomics.wait` alone, two threads ran the
 * binary 4096² dense layer (0.9 ms on one) in 1.00 ms median, no faster than
 * one; spinning first, in 0.55 ms (docs/performance.md, "Threads spin").
 * A spin costs at most this much CPU per layer, and nothing while a model is idle.
 */
export const SPIN_MS = 1;

/** The program (job kinds and arguments: threads.ts `JobKind`). */
export const WORKER_SOURCE = `
'use strict';
function start(d) {
  const k = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
  const c = new Int32Array(d.memory.buffer, d.at, ${SLOTS});
  const sh = new Int32Array(d.memory.buffer, ${SHARED_AT}, 4);
  const mine = d.index + 1;
  const run = (kind, p, i, chunks) => {
    if (kind === 3) {
      const off = mine * p[15];
      const o0 = Math.floor((i * p[3]) / chunks), o1 = Math.floor(((i + 1) * p[3]) / chunks);
      k.lutDense(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12] + off, p[13] + off, p[14] + off, o0, o1);
      return;
    }
    k.convSetup(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]);
    const at = kind === 1 ? 23 : 17;
    const bands = p[at], inB = p[at + 1], outB = p[at + 2], outH = p[at + 3];
    const n = Math.floor(i / bands), b = i % bands;
    const oy0 = Math.floor((b * outH) / bands), oy1 = Math.floor(((b + 1) * outH) / bands);
    if (kind === 1)
      k.lutConv(p[12] + n * inB, p[13], p[14], p[15], p[16], p[17], p[18], p[19] + n * outB, p[20] + mine * p[27], oy0, oy1, p[21], p[22]);
    else k.floatConv(p[12] + n * inB, p[13], p[14], p[15], p[16] + n * outB, oy0, oy1);
  };
  let seen = 0;
  for (;;) {
    // Spin first: layers and calls that follow at once find this worker awake.
    const until = performance.now() + ${SPIN_MS};
    while (Atomics.load(c, ${JOB}) === seen && performance.now() < until);
    Atomics.wait(c, ${JOB}, seen);
    const s1 = Atomics.load(c, ${JOB});
    if (s1 & 1) continue;
    const a = c.slice(${ARGS});
    if (Atomics.load(c, ${JOB}) !== s1) continue;
    seen = s1;
    const kind = a[0], epoch = a[1], chunks = a[2], p = a.subarray(3);
    for (;;) {
      const v = Atomics.load(sh, 0);
      if (v >>> 20 !== epoch || (v & 0xfffff) >= chunks) break;
      if (Atomics.compareExchange(sh, 0, v, v + 1) !== v) continue;
      try {
        run(kind, p, v & 0xfffff, chunks);
      } catch (e) {
        Atomics.store(sh, 2, 1);
      }
      Atomics.add(sh, 3, 1);
      if (Atomics.add(sh, 1, 1) + 1 === chunks) Atomics.notify(sh, 1);
    }
  }
}
if (typeof require === 'function') start(require('node:worker_threads').workerData);
else self.onmessage = (e) => start(e.data);
`;
