// WebAssembly SIMD kernels of @trit/runtime (AssemblyScript; built by
// scripts/build-wasm.mjs into src/wasm/bytes.generated.ts and dist/kernels.wasm).
//
// No allocator, no runtime: the memory is imported, and every argument that
// names an array is a byte offset into it, laid out by src/wasm/backend.ts.
// All arithmetic is float32, as in the TypeScript kernels (exact mode): the
// results differ from them only by the order of float additions.
//
// Quantized kernels are lookup-table kernels over 8-input groups (see
// src/kernels/quantized.ts): for 8 inputs, `T[m]` is the sum of the inputs
// whose bit is set in `m`; a ternary weight byte pair (P, N) of one output
// channel contributes `T[P] - T[N]`, a binary byte `T[P]`.
//
// Modes: 0 = ternary, one accumulator (`positive == negative`);
// 1 = ternary, separate +1 and -1 accumulators; 2 = binary.

// ---------------------------------------------------------------------------
// Dense, one input row at a time: tables of 8 groups (64 inputs, 8 KiB, in
// L1) at a time, scalar lookups. Codes: [block of 8 groups][cout][8] as
// u16 `P | N << 8` (ternary) or u8 `P` (binary), groups past the last padded
// with zero codes.

/** Builds the 256-entry subset-sum tables of 8 groups of 8 inputs `x[c0 .. c0 + 64)` (zeros past `cin`). */
function buildDenseTables(x: usize, c0: i32, cin: i32, t: usize): void {
  for (let g = 0; g < 8; g++) {
    const tg = t + (<usize>g << 10);
    store<f32>(tg, 0);
    let size = 1;
    for (let j = 0; j < 8; j++) {
      const c = c0 + g * 8 + j;
      const v: f32 = c < cin ? load<f32>(x + (<usize>c << 2)) : 0;
      const hi = tg + (<usize>size << 2);
      if (size < 4) {
        for (let m = 0; m < size; m++) {
          store<f32>(hi + (<usize>m << 2), load<f32>(tg + (<usize>m << 2)) + v);
        }
      } else {
        const vv = f32x4.splat(v);
        for (let m = 0; m < size; m += 4) {
          const o = <usize>m << 2;
          v128.store(hi + o, f32x4.add(v128.load(tg + o), vv));
        }
      }
      size <<= 1;
    }
  }
}

/**
 * `out[rows, cout]` = quantized dense of `x[rows, cin]`, for output channels
 * `[o0, o1)`. `t` (8 KiB), `accP` and `accN` (`4 * cout` bytes each) are scratch.
 */
export function lutDense(
  x: usize,
  rows: i32,
  cin: i32,
  cout: i32,
  blocks: i32,
  codes: usize,
  mode: i32,
  pos: usize,
  neg: usize,
  bias: usize,
  relu: i32,
  out: usize,
  t: usize,
  accP: usize,
  accN: usize,
  o0: i32,
  o1: i32,
): void {
  const wordBytes: i32 = mode == 2 ? 1 : 2;
  for (let n = 0; n < rows; n++) {
    const xr = x + (<usize>(n * cin) << 2);
    memory.fill(accP + (<usize>o0 << 2), 0, <usize>(o1 - o0) << 2);
    memory.fill(accN + (<usize>o0 << 2), 0, <usize>(o1 - o0) << 2);
    let sumAll: f32 = 0;
    if (mode == 2) for (let c = 0; c < cin; c++) sumAll += load<f32>(xr + (<usize>c << 2));
    for (let b = 0; b < blocks; b++) {
      buildDenseTables(xr, b * 64, cin, t);
      let cp = codes + <usize>((b * cout + o0) * 8 * wordBytes);
      if (mode == 0) {
        for (let o = o0; o < o1; o++) {
          const w0 = load<u32>(cp);
          const w1 = load<u32>(cp, 4);
          const w2 = load<u32>(cp, 8);
          const w3 = load<u32>(cp, 12);
          let s =
            load<f32>(t + ((w0 << 2) & 0x3fc)) -
            load<f32>(t + ((w0 >> 6) & 0x3fc)) +
            (load<f32>(t + ((w0 >> 14) & 0x3fc), 1024) - load<f32>(t + ((w0 >> 22) & 0x3fc), 1024));
          s +=
            load<f32>(t + ((w1 << 2) & 0x3fc), 2048) -
            load<f32>(t + ((w1 >> 6) & 0x3fc), 2048) +
            (load<f32>(t + ((w1 >> 14) & 0x3fc), 3072) - load<f32>(t + ((w1 >> 22) & 0x3fc), 3072));
          s +=
            load<f32>(t + ((w2 << 2) & 0x3fc), 4096) -
            load<f32>(t + ((w2 >> 6) & 0x3fc), 4096) +
            (load<f32>(t + ((w2 >> 14) & 0x3fc), 5120) - load<f32>(t + ((w2 >> 22) & 0x3fc), 5120));
          s +=
            load<f32>(t + ((w3 << 2) & 0x3fc), 6144) -
            load<f32>(t + ((w3 >> 6) & 0x3fc), 6144) +
            (load<f32>(t + ((w3 >> 14) & 0x3fc), 7168) - load<f32>(t + ((w3 >> 22) & 0x3fc), 7168));
          const a = accP + (<usize>o << 2);
          store<f32>(a, load<f32>(a) + s);
          cp += 16;
        }
      } else if (mode == 1) {
        for (let o = o0; o < o1; o++) {
          const w0 = load<u32>(cp);
          const w1 = load<u32>(cp, 4);
          const w2 = load<u32>(cp, 8);
          const w3 = load<u32>(cp, 12);
          let sp =
            load<f32>(t + ((w0 << 2) & 0x3fc)) +
            load<f32>(t + ((w0 >> 14) & 0x3fc), 1024) +
            (load<f32>(t + ((w1 << 2) & 0x3fc), 2048) +
              load<f32>(t + ((w1 >> 14) & 0x3fc), 3072));
          sp +=
            load<f32>(t + ((w2 << 2) & 0x3fc), 4096) +
            load<f32>(t + ((w2 >> 14) & 0x3fc), 5120) +
            (load<f32>(t + ((w3 << 2) & 0x3fc), 6144) +
              load<f32>(t + ((w3 >> 14) & 0x3fc), 7168));
          let sn =
            load<f32>(t + ((w0 >> 6) & 0x3fc)) +
            load<f32>(t + ((w0 >> 22) & 0x3fc), 1024) +
            (load<f32>(t + ((w1 >> 6) & 0x3fc), 2048) + load<f32>(t + ((w1 >> 22) & 0x3fc), 3072));
          sn +=
            load<f32>(t + ((w2 >> 6) & 0x3fc), 4096) +
            load<f32>(t + ((w2 >> 22) & 0x3fc), 5120) +
            (load<f32>(t + ((w3 >> 6) & 0x3fc), 6144) + load<f32>(t + ((w3 >> 22) & 0x3fc), 7168));
          const a = accP + (<usize>o << 2);
          store<f32>(a, load<f32>(a) + sp);
          const an = accN + (<usize>o << 2);
          store<f32>(an, load<f32>(an) + sn);
          cp += 16;
        }
      } else {
        for (let o = o0; o < o1; o++) {
          const w0 = load<u32>(cp);
          const w1 = load<u32>(cp, 4);
          let s =
            load<f32>(t + ((w0 << 2) & 0x3fc)) +
            load<f32>(t + ((w0 >> 6) & 0x3fc), 1024) +
            (load<f32>(t + ((w0 >> 14) & 0x3fc), 2048) + load<f32>(t + ((w0 >> 22) & 0x3fc), 3072));
          s +=
            load<f32>(t + ((w1 << 2) & 0x3fc), 4096) +
            load<f32>(t + ((w1 >> 6) & 0x3fc), 5120) +
            (load<f32>(t + ((w1 >> 14) & 0x3fc), 6144) + load<f32>(t + ((w1 >> 22) & 0x3fc), 7168));
          const a = accP + (<usize>o << 2);
          store<f32>(a, load<f32>(a) + s);
          cp += 8;
        }
      }
    }
    const yr = out + (<usize>(n * cout) << 2);
    for (let o = o0; o < o1; o++) {
      const oo = <usize>o << 2;
      let y: f32;
      if (mode == 0) y = load<f32>(pos + oo) * load<f32>(accP + oo);
      else if (mode == 1)
        y = load<f32>(pos + oo) * load<f32>(accP + oo) - load<f32>(neg + oo) * load<f32>(accN + oo);
      else
        y =
          (load<f32>(pos + oo) + load<f32>(neg + oo)) * load<f32>(accP + oo) -
          load<f32>(neg + oo) * sumAll;
      if (bias != 0) y += load<f32>(bias + oo);
      if (relu != 0 && y < 0) y = 0;
      store<f32>(yr + oo, y);
    }
  }
}

// ---------------------------------------------------------------------------
// Conv2d (NHWC), vectorized over 4 output columns. For every input row in a
// ring of `kh` rows, the tables are stored transposed, `[group][entry][slot]`
// with the input columns in the slot dimension, so the 4 table values of 4
// neighbouring output columns for one weight byte are one v128 load. Columns
// are stored by phase (column mod stride) so that strided convs read
// consecutive slots too: padded column `pc = ix + padLeft` lives at slot
// `(pc % sw) * wq + pc / sw`. Codes: [cout][kh * kw][groups] as u16/u8.

/** Geometry shared by the conv entry points (set once per call by `convSetup`). */
let gInH = 0;
let gInW = 0;
let gCin = 0;
let gKh = 0;
let gKw = 0;
let gSh = 0;
let gSw = 0;
let gPadTop = 0;
let gPadLeft = 0;
let gOutH = 0;
let gOutW = 0;
let gCout = 0;
let gGroups = 0;
let gWq = 0;
let gS = 0;

/** Sets the geometry of the next `lutConv` calls and returns the scratch bytes they need. */
export function convSetup(
  inH: i32,
  inW: i32,
  cin: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  padTop: i32,
  padLeft: i32,
  outH: i32,
  outW: i32,
  cout: i32,
): i32 {
  gInH = inH;
  gInW = inW;
  gCin = cin;
  gKh = kh;
  gKw = kw;
  gSh = sh;
  gSw = sw;
  gPadTop = padTop;
  gPadLeft = padLeft;
  gOutH = outH;
  gOutW = outW;
  gCout = cout;
  gGroups = (cin + 7) >> 3;
  const ow4 = (outW + 3) & ~3;
  gWq = ow4 + ((((kw - 1) / sw) + 3) & ~3);
  gS = sw * gWq;
  // ring tables + planar row + binary sums + ring row ids + tap offsets
  return (kh * gGroups * 256 * gS + gGroups * 8 * gS + ow4) * 4 + kh * 4 + kh * kw * 4 + 16 + 512;
}

/** Builds the tables of input row `iy` of image `x` into ring slot `iy % kh`. */
function buildConvRow(x: usize, iy: i32, scratch: usize): void {
  const S = gS;
  const S4 = <usize>S << 2;
  const groups = gGroups;
  const planar = scratch + <usize>(gKh * groups * 256 * S) * 4;
  memory.fill(planar, 0, <usize>(groups * 8) * S4);
  const rowBase = x + (<usize>(iy * gInW * gCin) << 2);
  for (let p = 0; p < gSw; p++) {
    for (let q = 0; q < gWq; q++) {
      const ix = q * gSw + p - gPadLeft;
      if (ix < 0 || ix >= gInW) continue;
      const src = rowBase + (<usize>(ix * gCin) << 2);
      const dst = planar + (<usize>(p * gWq + q) << 2);
      for (let c = 0; c < gCin; c++) {
        store<f32>(dst + <usize>c * S4, load<f32>(src + (<usize>c << 2)));
      }
    }
  }
  // 256 = 16 x 16: the sums of the low 4 inputs' subsets (lo) and of the high
  // 4 (hi), then every entry as one lo + hi: one load, add and store each,
  // where building each entry from a previous one needs two loads.
  const ring = scratch + <usize>((iy % gKh) * groups * 256) * S4;
  const lo = loHi(scratch);
  const hi = lo + 256;
  for (let g = 0; g < groups; g++) {
    const tg = ring + <usize>(g * 256) * S4;
    const xg = planar + <usize>(g * 8) * S4;
    for (let s: usize = 0; s < S4; s += 16) {
      subsetSums(xg + s, S4, lo);
      subsetSums(xg + 4 * S4 + s, S4, hi);
      let p = tg + s;
      for (let a: usize = 0; a < 256; a += 16) {
        const h = v128.load(hi + a);
        v128.store(p, f32x4.add(h, v128.load(lo)));
        v128.store(p + S4, f32x4.add(h, v128.load(lo, 16)));
        v128.store(p + 2 * S4, f32x4.add(h, v128.load(lo, 32)));
        v128.store(p + 3 * S4, f32x4.add(h, v128.load(lo, 48)));
        p += 4 * S4;
        v128.store(p, f32x4.add(h, v128.load(lo, 64)));
        v128.store(p + S4, f32x4.add(h, v128.load(lo, 80)));
        v128.store(p + 2 * S4, f32x4.add(h, v128.load(lo, 96)));
        v128.store(p + 3 * S4, f32x4.add(h, v128.load(lo, 112)));
        p += 4 * S4;
        v128.store(p, f32x4.add(h, v128.load(lo, 128)));
        v128.store(p + S4, f32x4.add(h, v128.load(lo, 144)));
        v128.store(p + 2 * S4, f32x4.add(h, v128.load(lo, 160)));
        v128.store(p + 3 * S4, f32x4.add(h, v128.load(lo, 176)));
        p += 4 * S4;
        v128.store(p, f32x4.add(h, v128.load(lo, 192)));
        v128.store(p + S4, f32x4.add(h, v128.load(lo, 208)));
        v128.store(p + 2 * S4, f32x4.add(h, v128.load(lo, 224)));
        v128.store(p + 3 * S4, f32x4.add(h, v128.load(lo, 240)));
        p += 4 * S4;
      }
    }
  }
  store<i32>(ringIds(scratch) + (<usize>(iy % gKh) << 2), iy);
}

/** The 16 subset sums of 4 input vectors `x[0], x[stride], ...` into `out[0..16)` (v128 each). */
@inline
function subsetSums(x: usize, stride: usize, out: usize): void {
  const x0 = v128.load(x);
  const x1 = v128.load(x + stride);
  const x2 = v128.load(x + 2 * stride);
  const x3 = v128.load(x + 3 * stride);
  const s01 = f32x4.add(x0, x1);
  const s02 = f32x4.add(x0, x2);
  const s12 = f32x4.add(x1, x2);
  const s012 = f32x4.add(s01, x2);
  v128.store(out, f32x4.splat(0));
  v128.store(out, x0, 16);
  v128.store(out, x1, 32);
  v128.store(out, s01, 48);
  v128.store(out, x2, 64);
  v128.store(out, s02, 80);
  v128.store(out, s12, 96);
  v128.store(out, s012, 112);
  v128.store(out, x3, 128);
  v128.store(out, f32x4.add(x0, x3), 144);
  v128.store(out, f32x4.add(x1, x3), 160);
  v128.store(out, f32x4.add(s01, x3), 176);
  v128.store(out, f32x4.add(x2, x3), 192);
  v128.store(out, f32x4.add(s02, x3), 208);
  v128.store(out, f32x4.add(s12, x3), 224);
  v128.store(out, f32x4.add(s012, x3), 240);
}

/** 512 bytes of scratch for the lo and hi subset sums of `buildConvRow`. */
function loHi(scratch: usize): usize {
  return (ringIds(scratch) + (<usize>(gKh + gKh * gKw) << 2) + 15) & ~15;
}

function ringIds(scratch: usize): usize {
  const ow4 = (gOutW + 3) & ~3;
  return scratch + <usize>((gKh * gGroups * 256 * gS + gGroups * 8 * gS + ow4) * 4);
}

/** Stores 4 lanes of `v` (columns ox0..ox0+3, those < outW) at stride `cout`. */
@inline
function storeColumns(y: usize, ox0: i32, v: v128, stride: usize): void {
  const left = gOutW - ox0;
  store<f32>(y, f32x4.extract_lane(v, 0));
  if (left > 1) store<f32>(y + stride, f32x4.extract_lane(v, 1));
  if (left > 2) store<f32>(y + 2 * stride, f32x4.extract_lane(v, 2));
  if (left > 3) store<f32>(y + 3 * stride, f32x4.extract_lane(v, 3));
}

@inline
function finish(
  aP: v128,
  aN: v128,
  sall: v128,
  mode: i32,
  p: v128,
  n: v128,
  b: v128,
  relu: i32,
): v128 {
  let y: v128;
  if (mode == 0) y = f32x4.mul(p, aP);
  else if (mode == 1) y = f32x4.sub(f32x4.mul(p, aP), f32x4.mul(n, aN));
  else y = f32x4.sub(f32x4.mul(f32x4.add(p, n), aP), f32x4.mul(n, sall));
  y = f32x4.add(y, b);
  if (relu != 0) y = f32x4.max(y, f32x4.splat(0));
  return y;
}

/**
 * Quantized conv of image `x` (`[inH, inW, cin]`) into `out`
 * (`[outH, outW, cout]`), output rows `[oy0, oy1)` and channels `[o0, o1)`,
 * with the geometry of the last `convSetup`. `scratch` holds the table ring.
 */
export function lutConv(
  x: usize,
  codes: usize,
  mode: i32,
  pos: usize,
  neg: usize,
  bias: usize,
  relu: i32,
  out: usize,
  scratch: usize,
  oy0: i32,
  oy1: i32,
  o0: i32,
  o1: i32,
): void {
  const S4 = <usize>gS << 2;
  const groups = gGroups;
  const taps = gKh * gKw;
  const wordBytes: usize = mode == 2 ? 1 : 2;
  const ids = ringIds(scratch);
  for (let r = 0; r < gKh; r++) store<i32>(ids + (<usize>r << 2), -1);
  const sallBuf = ids - (<usize>((gOutW + 3) & ~3) << 2);
  const oStride = <usize>gCout << 2;
  const zero = f32x4.splat(0);
  // Per tap, the byte offset of its tables' first column in the ring for the
  // current output row, or -1 for a row in the padding: computed once per row,
  // so the inner loops do no division.
  const tapOffs = ids + (<usize>gKh << 2);
  const tableBytes = <usize>256 * S4;
  for (let oy = oy0; oy < oy1; oy++) {
    const iyTop = oy * gSh - gPadTop;
    for (let ky = 0; ky < gKh; ky++) {
      const iy = iyTop + ky;
      const valid = iy >= 0 && iy < gInH;
      if (valid && load<i32>(ids + (<usize>(iy % gKh) << 2)) != iy) buildConvRow(x, iy, scratch);
      const ring = valid ? <i32>(<usize>((iy % gKh) * groups) * tableBytes) : 0;
      for (let kx = 0; kx < gKw; kx++) {
        store<i32>(
          tapOffs + (<usize>(ky * gKw + kx) << 2),
          valid ? ring + (((kx % gSw) * gWq + kx / gSw) << 2) : -1,
        );
      }
    }
    if (mode == 2) {
      // Sum of all inputs under each output column's window (the -Wn * sum(x) term).
      for (let ox0 = 0; ox0 < gOutW; ox0 += 4) {
        let s = zero;
        for (let t = 0; t < taps; t++) {
          const off = load<i32>(tapOffs + (<usize>t << 2));
          if (off < 0) continue;
          let tg = scratch + <usize>off + (<usize>ox0 << 2) + 255 * S4;
          for (let g = 0; g < groups; g++) {
            s = f32x4.add(s, v128.load(tg));
            tg += tableBytes;
          }
        }
        v128.store(sallBuf + (<usize>ox0 << 2), s);
      }
    }
    const yRow = out + (<usize>(oy * gOutW) * oStride);
    for (let o = o0; o < o1; o++) {
      const oo = <usize>o << 2;
      const pv = f32x4.splat(load<f32>(pos + oo));
      const nv = f32x4.splat(load<f32>(neg + oo));
      const bv = bias != 0 ? f32x4.splat(load<f32>(bias + oo)) : zero;
      const co = codes + <usize>(o * taps * groups) * wordBytes;
      let ox0 = 0;
      // Blocks of 16 output columns, then of 4.
      for (; ox0 + 16 <= gOutW; ox0 += 16) {
        let p0 = zero;
        let p1 = zero;
        let p2 = zero;
        let p3 = zero;
        let n0 = zero;
        let n1 = zero;
        let n2 = zero;
        let n3 = zero;
        let wp = co;
        for (let t = 0; t < taps; t++) {
          const off = load<i32>(tapOffs + (<usize>t << 2));
          if (off < 0) {
            wp += <usize>groups * wordBytes;
            continue;
          }
          let tg = scratch + <usize>off + (<usize>ox0 << 2);
          for (let g = 0; g < groups; g++) {
            if (mode == 2) {
              const pa = tg + <usize>load<u8>(wp) * S4;
              p0 = f32x4.add(p0, v128.load(pa));
              p1 = f32x4.add(p1, v128.load(pa, 16));
              p2 = f32x4.add(p2, v128.load(pa, 32));
              p3 = f32x4.add(p3, v128.load(pa, 48));
            } else {
              const w = load<u16>(wp);
              const pa = tg + <usize>(w & 255) * S4;
              const na = tg + <usize>(w >> 8) * S4;
              if (mode == 0) {
                p0 = f32x4.add(p0, f32x4.sub(v128.load(pa), v128.load(na)));
                p1 = f32x4.add(p1, f32x4.sub(v128.load(pa, 16), v128.load(na, 16)));
                p2 = f32x4.add(p2, f32x4.sub(v128.load(pa, 32), v128.load(na, 32)));
                p3 = f32x4.add(p3, f32x4.sub(v128.load(pa, 48), v128.load(na, 48)));
              } else {
                p0 = f32x4.add(p0, v128.load(pa));
                p1 = f32x4.add(p1, v128.load(pa, 16));
                p2 = f32x4.add(p2, v128.load(pa, 32));
                p3 = f32x4.add(p3, v128.load(pa, 48));
                n0 = f32x4.add(n0, v128.load(na));
                n1 = f32x4.add(n1, v128.load(na, 16));
                n2 = f32x4.add(n2, v128.load(na, 32));
                n3 = f32x4.add(n3, v128.load(na, 48));
              }
            }
            wp += wordBytes;
            tg += tableBytes;
          }
        }
        const sb = sallBuf + (<usize>ox0 << 2);
        const y = yRow + <usize>ox0 * oStride + oo;
        storeColumns(y, ox0, finish(p0, n0, v128.load(sb), mode, pv, nv, bv, relu), oStride);
        storeColumns(
          y + 4 * oStride,
          ox0 + 4,
          finish(p1, n1, v128.load(sb, 16), mode, pv, nv, bv, relu),
          oStride,
        );
        storeColumns(
          y + 8 * oStride,
          ox0 + 8,
          finish(p2, n2, v128.load(sb, 32), mode, pv, nv, bv, relu),
          oStride,
        );
        storeColumns(
          y + 12 * oStride,
          ox0 + 12,
          finish(p3, n3, v128.load(sb, 48), mode, pv, nv, bv, relu),
          oStride,
        );
      }
      // Blocks of 8, then 4 (8x8 maps: one block of 8).
      for (; ox0 + 8 <= gOutW; ox0 += 8) {
        let p0 = zero;
        let p1 = zero;
        let n0 = zero;
        let n1 = zero;
        let wp = co;
        for (let t = 0; t < taps; t++) {
          const off = load<i32>(tapOffs + (<usize>t << 2));
          if (off < 0) {
            wp += <usize>groups * wordBytes;
            continue;
          }
          let tg = scratch + <usize>off + (<usize>ox0 << 2);
          for (let g = 0; g < groups; g++) {
            if (mode == 2) {
              const pa = tg + <usize>load<u8>(wp) * S4;
              p0 = f32x4.add(p0, v128.load(pa));
              p1 = f32x4.add(p1, v128.load(pa, 16));
            } else {
              const w = load<u16>(wp);
              const pa = tg + <usize>(w & 255) * S4;
              const na = tg + <usize>(w >> 8) * S4;
              if (mode == 0) {
                p0 = f32x4.add(p0, f32x4.sub(v128.load(pa), v128.load(na)));
                p1 = f32x4.add(p1, f32x4.sub(v128.load(pa, 16), v128.load(na, 16)));
              } else {
                p0 = f32x4.add(p0, v128.load(pa));
                p1 = f32x4.add(p1, v128.load(pa, 16));
                n0 = f32x4.add(n0, v128.load(na));
                n1 = f32x4.add(n1, v128.load(na, 16));
              }
            }
            wp += wordBytes;
            tg += tableBytes;
          }
        }
        const sb = sallBuf + (<usize>ox0 << 2);
        const y = yRow + <usize>ox0 * oStride + oo;
        storeColumns(y, ox0, finish(p0, n0, v128.load(sb), mode, pv, nv, bv, relu), oStride);
        storeColumns(
          y + 4 * oStride,
          ox0 + 4,
          finish(p1, n1, v128.load(sb, 16), mode, pv, nv, bv, relu),
          oStride,
        );
      }
      for (; ox0 < gOutW; ox0 += 4) {
        let p0 = zero;
        let n0 = zero;
        let wp = co;
        for (let t = 0; t < taps; t++) {
          const off = load<i32>(tapOffs + (<usize>t << 2));
          if (off < 0) {
            wp += <usize>groups * wordBytes;
            continue;
          }
          let tg = scratch + <usize>off + (<usize>ox0 << 2);
          for (let g = 0; g < groups; g++) {
            if (mode == 2) {
              p0 = f32x4.add(p0, v128.load(tg + <usize>load<u8>(wp) * S4));
            } else {
              const w = load<u16>(wp);
              const pa = v128.load(tg + <usize>(w & 255) * S4);
              const na = v128.load(tg + <usize>(w >> 8) * S4);
              if (mode == 0) p0 = f32x4.add(p0, f32x4.sub(pa, na));
              else {
                p0 = f32x4.add(p0, pa);
                n0 = f32x4.add(n0, na);
              }
            }
            wp += wordBytes;
            tg += tableBytes;
          }
        }
        const sb = sallBuf + (<usize>ox0 << 2);
        storeColumns(
          yRow + <usize>ox0 * oStride + oo,
          ox0,
          finish(p0, n0, v128.load(sb), mode, pv, nv, bv, relu),
          oStride,
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Float conv2d / dense (the float32 layers of a quantized model): lanes over
// 4 output channels, kernel `[kh, kw, cin, cout]` as stored.

/**
 * Float conv of image `x` into `out`, output rows `[oy0, oy1)`, with the
 * geometry of the last `convSetup` (a dense layer is a 1x1 conv over a
 * `1 x rows` image).
 */
export function floatConv(
  x: usize,
  w: usize,
  bias: usize,
  relu: i32,
  out: usize,
  oy0: i32,
  oy1: i32,
): void {
  const cin = gCin;
  const cout = gCout;
  const cout4 = cout & ~3;
  const wRow = <usize>cout << 2;
  const zero = f32x4.splat(0);
  for (let oy = oy0; oy < oy1; oy++) {
    for (let ox = 0; ox < gOutW; ox++) {
      const y = out + (<usize>((oy * gOutW + ox) * cout) << 2);
      let o = 0;
      for (; o + 16 <= cout; o += 16) {
        const bo = bias + (<usize>o << 2);
        let a0 = bias != 0 ? v128.load(bo) : zero;
        let a1 = bias != 0 ? v128.load(bo, 16) : zero;
        let a2 = bias != 0 ? v128.load(bo, 32) : zero;
        let a3 = bias != 0 ? v128.load(bo, 48) : zero;
        for (let ky = 0; ky < gKh; ky++) {
          const iy = oy * gSh - gPadTop + ky;
          if (iy < 0 || iy >= gInH) continue;
          for (let kx = 0; kx < gKw; kx++) {
            const ix = ox * gSw - gPadLeft + kx;
            if (ix < 0 || ix >= gInW) continue;
            const xp = x + (<usize>((iy * gInW + ix) * cin) << 2);
            let wp = w + (<usize>((ky * gKw + kx) * cin * cout + o) << 2);
            for (let c = 0; c < cin; c++) {
              const xv = f32x4.splat(load<f32>(xp + (<usize>c << 2)));
              a0 = f32x4.add(a0, f32x4.mul(xv, v128.load(wp)));
              a1 = f32x4.add(a1, f32x4.mul(xv, v128.load(wp, 16)));
              a2 = f32x4.add(a2, f32x4.mul(xv, v128.load(wp, 32)));
              a3 = f32x4.add(a3, f32x4.mul(xv, v128.load(wp, 48)));
              wp += wRow;
            }
          }
        }
        if (relu != 0) {
          a0 = f32x4.max(a0, zero);
          a1 = f32x4.max(a1, zero);
          a2 = f32x4.max(a2, zero);
          a3 = f32x4.max(a3, zero);
        }
        const yo = y + (<usize>o << 2);
        v128.store(yo, a0);
        v128.store(yo, a1, 16);
        v128.store(yo, a2, 32);
        v128.store(yo, a3, 48);
      }
      for (; o < cout4; o += 4) {
        let a0 = bias != 0 ? v128.load(bias + (<usize>o << 2)) : zero;
        for (let ky = 0; ky < gKh; ky++) {
          const iy = oy * gSh - gPadTop + ky;
          if (iy < 0 || iy >= gInH) continue;
          for (let kx = 0; kx < gKw; kx++) {
            const ix = ox * gSw - gPadLeft + kx;
            if (ix < 0 || ix >= gInW) continue;
            const xp = x + (<usize>((iy * gInW + ix) * cin) << 2);
            let wp = w + (<usize>((ky * gKw + kx) * cin * cout + o) << 2);
            for (let c = 0; c < cin; c++) {
              const xv = f32x4.splat(load<f32>(xp + (<usize>c << 2)));
              a0 = f32x4.add(a0, f32x4.mul(xv, v128.load(wp)));
              wp += wRow;
            }
          }
        }
        if (relu != 0) a0 = f32x4.max(a0, zero);
        v128.store(y + (<usize>o << 2), a0);
      }
      for (; o < cout; o++) {
        let a: f32 = bias != 0 ? load<f32>(bias + (<usize>o << 2)) : 0;
        for (let ky = 0; ky < gKh; ky++) {
          const iy = oy * gSh - gPadTop + ky;
          if (iy < 0 || iy >= gInH) continue;
          for (let kx = 0; kx < gKw; kx++) {
            const ix = ox * gSw - gPadLeft + kx;
            if (ix < 0 || ix >= gInW) continue;
            const xp = x + (<usize>((iy * gInW + ix) * cin) << 2);
            let wp = w + (<usize>((ky * gKw + kx) * cin * cout + o) << 2);
            for (let c = 0; c < cin; c++) {
              a += load<f32>(xp + (<usize>c << 2)) * load<f32>(wp);
              wp += wRow;
            }
          }
        }
        if (relu != 0 && a < 0) a = 0;
        store<f32>(y + (<usize>o << 2), a);
      }
    }
  }
}
