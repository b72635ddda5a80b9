/**
 * End to end on the smoke preset: `trit bench --export` trains every method
 * (1 epoch of FP32 pre-training, 1 epoch of fine-tuning) into a temp folder
 * and exports each run; the exported models, loaded by @trit/runtime, must
 * reproduce the trained tfjs models (same top-1 on every test image, logits
 * within 1e-4), be smaller than the float32 tfjs model by the amounts the
 * bit-widths give, and bad files must be clear errors.
 */
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff } from '@trit/quant-core/testing';
import {
  crc32,
  type Manifest,
  manifestTensors,
  parseManifest,
  TritFormatError,
} from '@trit/runtime';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPreset } from '../src/bench/presets.js';
import type { RunResult } from '../src/bench/run.js';
import { DataSpecSchema } from '../src/bench/study.js';
import { registerBenchCommands } from '../src/cli/bench-command.js';
import { registerExportCommand } from '../src/cli/export-command.js';
import { registerInferCommand } from '../src/cli/infer-command.js';
import type { ExportRunReport } from '../src/export/export-run.js';
import { loadExported } from '../src/export/infer.js';
import { loadRun } from '../src/export/run-dir.js';
import { readCheckpointIndex } from '../src/training/checkpoint.js';
import { syntheticData } from '../src/training/synthetic-data.js';

const METHODS = ['fp32', 'bwn', 'twn', 'ttq', 'sq', 'hla'] as const;
const smoke = { data: DataSpecSchema.parse(getPreset('smoke').data) };

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** Runs `trit <args>` in-process with the bench, export and infer commands; returns stdout. */
async function trit(...args: string[]): Promise<string> {
  const stdout = new Capture();
  const stderr = new Capture();
  const program = new Command('trit').exitOverride();
  program.configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) });
  registerBenchCommands(program);
  registerExportCommand(program, { stdout, stderr });
  registerInferCommand(program, { stdout, stderr });
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(['node', 'trit', ...args]);
  } catch (err) {
    // Nothing was printed before the failure.
    expect(stdout.text).toBe('');
    throw err;
  }
  return stdout.text;
}

/** The error `fn` rejects with (fails if it resolves). */
async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, but the call succeeded');
}

let work: string;
let out: string;
const runDir = (m: string) => path.join(out, 'runs', `${m}-seed0`);
const exportDir = (m: string) => path.join(out, 'export', `${m}-seed0`);
const report = (m: string) =>
  JSON.parse(
    readFileSync(path.join(exportDir(m), 'export-report.json'), 'utf8'),
  ) as ExportRunReport;

// The smoke preset's test split, as the trainer evaluated it.
const test = (() => {
  const d = syntheticData(smoke.data as Extract<typeof smoke.data, { type: 'synthetic' }>);
  const [b] = [...d.testBatches(1000)];
  return { x: b!.x, labels: Array.from(b!.y), count: b!.size, shape: d.inputShape };
})();

function argmax(y: ArrayLike<number>, rows: number, classes: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (y[r * classes + c]! > y[r * classes + best]!) best = c;
    return best;
  });
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'trit-export-'));
  out = path.join(work, 'bench');
  await trit(
    'bench',
    '--preset',
    'smoke',
    '--epochs',
    '1',
    '--pretrain-epochs',
    '1',
    '--export',
    '--out',
    out,
    '--no-progress',
  );
}, 300_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('trit bench --export on the smoke preset', () => {
  it('exports every method into <out>/export/<method>-seed0', () => {
    for (const m of METHODS) {
      for (const f of ['model.json', 'model.bin', 'export-report.json'])
        expect(existsSync(path.join(exportDir(m), f)), `${m}/${f}`).toBe(true);
      const manifest = JSON.parse(
        readFileSync(path.join(exportDir(m), 'model.json'), 'utf8'),
      ) as Manifest;
      expect(manifest.metadata).toMatchObject({
        source: { run: `${m}-seed0`, method: m, seed: 0, epoch: 1 },
        inputShape: [16, 16, 3],
        numClasses: 4,
        data: { type: 'synthetic', size: 16, numClasses: 4, numTrain: 256, numTest: 64 },
        preprocessing: { type: 'none' },
      });
      expect(report(m).warnings).toEqual([]);
    }
  });

  for (const m of METHODS) {
    it(`${m}: the exported model reproduces the trained tfjs model (same top-1 on all 64 test images, logits within 1e-4)`, async () => {
      const run = await loadRun(runDir(m));
      const result = JSON.parse(
        readFileSync(path.join(runDir(m), 'result.json'), 'utf8'),
      ) as RunResult;
      const last = result.history[result.history.length - 1]!;
      // The rebuilt model is the trained one: it gives the loss and accuracy the trainer recorded.
      const [h, w, c] = test.shape;
      const ref = tf.tidy(() => {
        const logits = run.model.predict(tf.tensor4d(test.x, [test.count, h, w, c])) as tf.Tensor2D;
        const labels = tf.oneHot(tf.tensor1d(test.labels, 'int32'), 4);
        const ce = tf.losses.softmaxCrossEntropy(
          labels,
          logits,
          undefined,
          undefined,
          tf.Reduction.SUM,
        );
        return {
          logits: Float32Array.from(logits.dataSync()),
          loss: ce.dataSync()[0]! / test.count,
        };
      });
      run.model.dispose();
      const refTop1 = argmax(ref.logits, test.count, 4);
      const refAcc = refTop1.filter((p, i) => p === test.labels[i]).length / test.count;
      expect(refAcc).toBe(last.testAccuracy);
      expect(Math.abs(ref.loss - last.testLoss)).toBeLessThan(1e-5 * Math.max(1, last.testLoss));

      const model = await loadExported(exportDir(m));
      const ours = model.predict({ shape: [test.count, h, w, c], data: test.x });
      expect(ours.shape).toEqual([test.count, 4]);
      expect(maxAbsDiff(ours.data, ref.logits)).toBeLessThan(1e-4);
      expect(argmax(ours.data, test.count, 4)).toEqual(refTop1);
      // Batch 1 gives the same numbers as the whole batch.
      const one = model.predict(test.x.subarray(0, h * w * c)).data;
      expect(maxAbsDiff(one, ref.logits.subarray(0, 4))).toBeLessThan(1e-4);

      // `trit infer` (runtime only) reports the same accuracy.
      const inferred = JSON.parse(
        await trit(
          'infer',
          exportDir(m),
          '--dataset',
          'synthetic',
          '--latency-samples',
          '8',
          '--warmup',
          '1',
          '--json',
        ),
      );
      expect(inferred).toMatchObject({
        dataset: 'synthetic',
        split: 'test',
        images: 64,
        accuracy: refAcc,
      });
      expect(inferred.latency.samples).toBe(8);
      expect(inferred.latency.medianMs).toBeGreaterThan(0);
      expect(inferred.latency.imagesPerSecond).toBeCloseTo(1000 / inferred.latency.medianMs, 6);
    });
  }
});

describe('sizes against the float32 tfjs model', () => {
  it('the float32 side is what tfjs model.save writes: 4 bytes per weight plus the model.json', async () => {
    const run = await loadRun(runDir('ttq'));
    const weights = run.model.weights.reduce(
      (n, v) => n + v.shape.reduce((a: number, b) => a * (b ?? 1), 1),
      0,
    );
    const saveDir = path.join(work, 'tfjs-ttq');
    await run.model.save(`file://${saveDir}`);
    run.model.dispose();
    const r = report('ttq');
    expect(r.sizes.tfjs.weightsBytes).toBe(4 * weights);
    expect(r.sizes.tfjs.weightsBytes).toBe(readFileSync(path.join(saveDir, 'weights.bin')).length);
    expect(r.sizes.tfjs.modelJsonBytes).toBe(readFileSync(path.join(saveDir, 'model.json')).length);
  });

  it('per-layer bytes follow the bit-widths (s3b1_conv2: a 3x3x32x32 kernel with a folded BatchNorm)', () => {
    const layer = (m: string) => report(m).layers.find((l) => l.name === 's3b1_conv2')!;
    // 3*3*32*32 = 9216 weights. Ternary codes, 5 per byte: ceil(9216 / 5) = ceil(1843.2) = 1844 bytes;
    // a per-channel vector is 32 float32 = 128 bytes, a per-layer value 4 bytes.
    expect(layer('ttq')).toMatchObject({
      encoding: 'ternary',
      bits: 2,
      scales: 'per-channel',
      bytes: 1844 + 4 + 4 + 128 + 128,
    }); // codes, Wp, Wn (per layer), the folded BatchNorm's per-channel scale, bias
    for (const m of ['twn', 'hla']) {
      // codes, one per-channel scale (alpha times the BatchNorm factor, stored once), bias
      expect(layer(m)).toMatchObject({ encoding: 'ternary', bits: 2, bytes: 1844 + 128 + 128 });
    }
    // Binary codes, 8 per byte: 9216 / 8 = 1152 bytes; scale, bias
    expect(layer('bwn')).toMatchObject({ encoding: 'binary', bits: 1, bytes: 1152 + 128 + 128 });
    expect(layer('fp32')).toMatchObject({ encoding: 'float32', bits: 32, bytes: 9216 * 4 + 128 });
    // In memory the runtime holds 2 bits per ternary weight, as quant-core's modelSummary counts:
    // 9216 * 2 / 8 = 2304 bytes (9 rows * 4 groups of 8 inputs * 32 outputs * 2 bytes).
    const row = report('twn').memory.rows.find((r) => r.layer === 's3b1_conv2')!;
    expect(row).toMatchObject({
      summaryBits: 2,
      exportedBits: 2,
      summaryKernelBytes: 2304,
      runtimeKernelBytes: 2304,
      exportedKernelBytes: 1844,
    });
  });

  for (const m of METHODS) {
    it(`${m}: exported model.json + model.bin are smaller than tfjs model.json + weights.bin; summary bits agree`, () => {
      const r = report(m);
      const s = r.sizes;
      expect(s.exported.totalBytes).toBe(s.exported.manifestBytes + s.exported.binaryBytes);
      expect(s.exported.binaryBytes).toBe(
        readFileSync(path.join(exportDir(m), 'model.bin')).length,
      );
      expect(s.ratio).toBeCloseTo(s.tfjs.totalBytes / s.exported.totalBytes, 10);
      expect(s.ratio).toBeGreaterThan(1);
      // quant-core's modelSummary (the bench's "weight memory") and the export agree on every kernel.
      expect(r.memory.bitsAgree).toBe(true);
      expect(r.memory.kernelBytesAgree).toBe(true);
      const quantized = r.layers.filter((l) => l.encoding === 'ternary' || l.encoding === 'binary');
      if (m === 'fp32') {
        expect(quantized).toEqual([]);
        expect(r.quantizedWeights).toBe(0);
      } else {
        // Every conv but the first is quantized: 18,432 of the 18,900 parameters.
        expect(quantized.map((l) => l.name)).toEqual([
          's1b1_conv1',
          's1b1_conv2',
          's2b1_conv1',
          's2b1_conv2',
          's3b1_conv1',
          's3b1_conv2',
        ]);
        expect(r.quantizedWeights).toBe(18_432);
        // Weights alone: float32 vs 2 bits (1 for BWN) plus scales, biases and the float first/last layers.
        expect(s.weightsRatio).toBeGreaterThan(m === 'bwn' ? 15 : 10);
      }
      if (m === 'bwn') expect(quantized.every((l) => l.bits === 1)).toBe(true);
      if (['twn', 'ttq', 'hla'].includes(m))
        expect(quantized.every((l) => l.bits === 2)).toBe(true);
      if (m === 'sq') {
        // SQ decides per layer (1 or 2 bits): the export stores what modelSummary counts.
        for (const row of r.memory.rows.filter((x) => x.quantizer === 'sq'))
          expect(row.exportedBits, row.layer).toBe(row.summaryBits);
      }
    });
  }
});

describe('trit export and trit infer: paths and bad input', () => {
  it('exports from the checkpoint folder too, byte for byte the same model; --json prints the report', async () => {
    const dir = path.join(work, 'from-checkpoint');
    const json = JSON.parse(
      await trit('export', path.join(runDir('twn'), 'checkpoint'), '--out', dir, '--json'),
    );
    expect(json.sizes.exported.binaryBytes).toBe(report('twn').sizes.exported.binaryBytes);
    expect(
      readFileSync(path.join(dir, 'model.bin')).equals(
        readFileSync(path.join(exportDir('twn'), 'model.bin')),
      ),
    ).toBe(true);
    const text = await trit('export', runDir('twn'), '--out', dir);
    expect(text).toMatch(/s3b1_conv2\s+conv2d\s+ternary\s+twn\s+2\s+per-channel/);
    expect(text).toMatch(/float32 tfjs model\.save \(model\.json \+ weights\.bin\)/);
    expect(text).toMatch(/ratio: \d+\.\d\dx smaller/);
  });

  it('a finished run of a sweep still in progress (no results.json yet) exports with its data, from its identity.json', async () => {
    const mid = path.join(work, 'mid-sweep', 'runs', 'twn-seed0');
    cpSync(runDir('twn'), mid, { recursive: true });
    expect(existsSync(path.join(work, 'mid-sweep', 'results.json'))).toBe(false);
    const dir = path.join(work, 'from-mid-sweep');
    const json = JSON.parse(await trit('export', mid, '--out', dir, '--json'));
    expect(json.warnings).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as Manifest;
    expect(manifest.metadata).toMatchObject({
      data: { type: 'synthetic', size: 16, numClasses: 4, numTrain: 256, numTest: 64 },
      preprocessing: { type: 'none' },
    });
    expect(
      readFileSync(path.join(dir, 'model.bin')).equals(
        readFileSync(path.join(exportDir('twn'), 'model.bin')),
      ),
    ).toBe(true);
  });

  it('a truncated binary is rejected, naming the sizes', async () => {
    const dir = path.join(work, 'truncated');
    cpSync(exportDir('ttq'), dir, { recursive: true });
    const size = readFileSync(path.join(dir, 'model.bin')).length;
    truncateSync(path.join(dir, 'model.bin'), size - 100);
    const e = await rejection(() => trit('infer', dir, '--dataset', 'synthetic'));
    expect(e).toBeInstanceOf(TritFormatError);
    expect((e as TritFormatError).code).toBe('truncated');
    expect(e.message).toContain(
      `cannot load ${dir}: binary is truncated: ${size - 100} bytes, the manifest expects ${size}`,
    );
  });

  it('a corrupted byte is a checksum error naming the tensor', async () => {
    const dir = path.join(work, 'corrupted');
    cpSync(exportDir('ttq'), dir, { recursive: true });
    const manifest = parseManifest(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const t = manifestTensors(manifest).find((x) => x.name === 's2b1_conv1/codes')!;
    const bin = readFileSync(path.join(dir, 'model.bin'));
    bin[t.byteOffset + 5] = bin[t.byteOffset + 5]! ^ 0x10;
    writeFileSync(path.join(dir, 'model.bin'), bin);
    const e = await rejection(() => trit('infer', dir, '--dataset', 'synthetic'));
    expect((e as TritFormatError).code).toBe('checksum');
    expect(e.message).toMatch(/checksum mismatch in tensor "s2b1_conv1\/codes"/);
  });

  it('an unknown format version is rejected, naming the versions', async () => {
    const dir = path.join(work, 'version');
    cpSync(exportDir('twn'), dir, { recursive: true });
    const file = path.join(dir, 'model.json');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('"version":2,');
    writeFileSync(file, text.replace('"version":2,', '"version":99,'));
    const e = await rejection(() => trit('infer', dir, '--dataset', 'synthetic'));
    expect((e as TritFormatError).code).toBe('unsupported-version');
    expect(e.message).toMatch(
      /unsupported trit-model format version 99; this reader supports version 2/,
    );
  });

  it('a manifest with the binary of another model is rejected', async () => {
    // twn and hla have the same layout (ternary, symmetric scales): equal lengths, different bytes.
    const dir = path.join(work, 'mismatch');
    cpSync(exportDir('twn'), dir, { recursive: true });
    copyFileSync(path.join(exportDir('hla'), 'model.bin'), path.join(dir, 'model.bin'));
    const e = await rejection(() => trit('infer', dir, '--dataset', 'synthetic'));
    expect((e as TritFormatError).code).toBe('checksum');
    expect(e.message).toMatch(/checksum mismatch in tensor "conv1\/kernel"/);
    // ttq's manifest expects more bytes than twn's binary has (Wp and Wn per layer besides the per-channel scale).
    const dir2 = path.join(work, 'mismatch2');
    cpSync(exportDir('ttq'), dir2, { recursive: true });
    copyFileSync(path.join(exportDir('twn'), 'model.bin'), path.join(dir2, 'model.bin'));
    const e2 = await rejection(() => trit('infer', dir2, '--dataset', 'synthetic'));
    expect((e2 as TritFormatError).code).toBe('truncated');
  });

  it('a run folder without model.json, or with a truncated checkpoint, writes nothing', async () => {
    const broken = path.join(work, 'no-topology', 'runs', 'ttq-seed0');
    cpSync(runDir('ttq'), broken, { recursive: true });
    rmSync(path.join(broken, 'model.json'));
    const target = path.join(work, 'never-written');
    const e = await rejection(() =>
      trit('export', broken, '--out', target, '--dataset', 'synthetic'),
    );
    expect(e.message).toMatch(
      /ttq-seed0 has no model\.json \(the tfjs topology a bench run writes next to checkpoint\/\)/,
    );
    expect(existsSync(target)).toBe(false);

    const cut = path.join(work, 'cut', 'runs', 'ttq-seed0');
    cpSync(runDir('ttq'), cut, { recursive: true });
    truncateSync(path.join(cut, 'checkpoint', 'tensors.bin'), 1000);
    const e2 = await rejection(() =>
      trit('export', cut, '--out', target, '--dataset', 'synthetic'),
    );
    expect(e2.message).toMatch(
      /tensors\.bin: 1000 bytes, the index expects \d+ \(truncated or mismatched\)/,
    );
    expect(existsSync(target)).toBe(false);
  });

  it('a flipped byte or a bad field in the checkpoint: export names the file and the tensor or field, writes nothing', async () => {
    // Before checksums, this exported a model that scored 75% instead of 100%, without a word.
    const bad = path.join(work, 'flipped', 'runs', 'ttq-seed0');
    cpSync(runDir('ttq'), bad, { recursive: true });
    const ck = path.join(bad, 'checkpoint');
    const kernel = readCheckpointIndex(ck).tensors.find(
      (t) => t.group === 'model' && t.name.startsWith('s2b1_conv1/'),
    )!;
    const bin = path.join(ck, 'tensors.bin');
    const good = readFileSync(bin);
    const flipped = Buffer.from(good);
    flipped[kernel.offset + 7]! ^= 0x40;
    writeFileSync(bin, flipped);
    const target = path.join(work, 'never-written-flipped');
    const e = await rejection(() => trit('export', bad, '--out', target, '--dataset', 'synthetic'));
    expect(e.message).toMatch(
      new RegExp(
        `^${bin}: tensor "${kernel.name}" \\(model\\) fails its checksum: CRC-32 is [0-9a-f]{8}, the index says ${kernel.crc32} \\(corrupted\\)$`,
      ),
    );
    expect(existsSync(target)).toBe(false);

    // With a previous checkpoint kept next to it, the error says where and what to do.
    cpSync(runDir('ttq'), path.join(work, 'flipped', 'copy'), { recursive: true });
    cpSync(path.join(work, 'flipped', 'copy', 'checkpoint'), `${ck}.prev`, { recursive: true });
    const e2 = await rejection(() =>
      trit('export', bad, '--out', target, '--dataset', 'synthetic'),
    );
    expect(e2.message).toContain(
      `(corrupted). The previous checkpoint is kept at ${ck}.prev: export it, or resume the run (trit bench --resume), which falls back to it and trains the last epoch again`,
    );

    // A state field: the epoch the export reports comes from it.
    writeFileSync(bin, good);
    const json = path.join(ck, 'checkpoint.json');
    const index = JSON.parse(readFileSync(json, 'utf8'));
    index.state.epoch = 'two';
    writeFileSync(json, JSON.stringify(index));
    const e3 = await rejection(() =>
      trit('export', bad, '--out', target, '--dataset', 'synthetic'),
    );
    expect(e3.message).toMatch(
      new RegExp(`^${json}: field "state.epoch": Invalid input: expected number, received string`),
    );
    expect(existsSync(target)).toBe(false);
  });

  it('refuses to export over a run folder (its model.json is the tfjs topology)', async () => {
    const before = readFileSync(path.join(runDir('sq'), 'model.json'), 'utf8');
    const e = await rejection(() => trit('export', runDir('twn'), '--out', runDir('sq')));
    expect(e.message).toMatch(
      /refusing to export into .*sq-seed0: its model\.json is not a trit model/,
    );
    expect(readFileSync(path.join(runDir('sq'), 'model.json'), 'utf8')).toBe(before);
  });

  it('infer refuses data it cannot preprocess like the trainer, and a folder that is not an export', async () => {
    const e = await rejection(() => trit('infer', exportDir('twn'), '--dataset', 'cifar10-sample'));
    expect(e.message).toMatch(/this export records no input normalization/);
    const e2 = await rejection(() => trit('infer', work, '--dataset', 'synthetic'));
    expect(e2.message).toMatch(/has no model\.json: not a folder written by `trit export`/);
    const e3 = await rejection(() => trit('infer', runDir('twn'), '--dataset', 'synthetic'));
    expect((e3 as TritFormatError).code).toBe('unknown-format');
    expect(e3.message).toMatch(
      /its model\.json is a tfjs model \(a bench run folder\?\): export it first with `trit export/,
    );
  });

  it('a manifest over the size limit is refused before it is read, by infer and as export --out', async () => {
    const dir = path.join(work, 'huge-manifest');
    cpSync(exportDir('twn'), dir, { recursive: true });
    truncateSync(path.join(dir, 'model.json'), 600 * 1024 * 1024); // sparse: no disk used
    const e = await rejection(() => trit('infer', dir, '--dataset', 'synthetic'));
    expect((e as TritFormatError).code).toBe('too-large');
    expect(e.message).toContain(
      `cannot load ${dir}: the manifest ${path.join(dir, 'model.json')} is 629145600 bytes, ` +
        'over the 4194304-byte limit of a trit model manifest',
    );
    const e2 = await rejection(() => trit('export', runDir('twn'), '--out', dir));
    expect(e2.message).toBe(
      `refusing to export into ${dir}: its model.json is 629145600 bytes, over the 4194304-byte ` +
        'limit of a trit model manifest, so not a trit model; choose another --out folder',
    );
  });

  it('a scale of 3e38 in the file: infer names the op that overflows instead of reporting an accuracy', async () => {
    const dir = path.join(work, 'overflow');
    cpSync(exportDir('twn'), dir, { recursive: true });
    const file = path.join(dir, 'model.json');
    const m = JSON.parse(readFileSync(file, 'utf8'));
    const bin = readFileSync(path.join(dir, 'model.bin'));
    // The first ternary conv: every level 3e38 (a valid float32), checksums re-signed.
    const op = m.ops.find(
      (o: { kernel?: { encoding: string } }) => o.kernel?.encoding === 'ternary',
    );
    const [offset, length] = op.tensors.positive as [number, number, string];
    new Float32Array(bin.buffer, bin.byteOffset + offset, length / 4).fill(3e38);
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    op.tensors.positive[2] = hex(crc32(bin.subarray(offset, offset + length)));
    m.binary.crc32 = hex(crc32(bin));
    writeFileSync(path.join(dir, 'model.bin'), bin);
    writeFileSync(file, JSON.stringify(m));
    const e = await rejection(() => trit('infer', dir, '--dataset', 'synthetic'));
    expect((e as TritFormatError).code).toBe('non-finite');
    expect(e.message).toMatch(
      new RegExp(
        `^${dir}: the model's output is not finite on the batch starting at image 0 \\(output "\\w+" holds ` +
          `-?(NaN|Infinity) at index \\d+ \\(sample \\d+\\): op "${op.name}" \\(conv2d.*\\) produced -?Infinity .*\\); ` +
          'no accuracy is reported over non-finite outputs$',
      ),
    );
  });

  it('--limit evaluates the first n images only', async () => {
    const r = JSON.parse(
      await trit(
        'infer',
        exportDir('fp32'),
        '--dataset',
        'synthetic',
        '--limit',
        '10',
        '--batch-size',
        '4',
        '--json',
      ),
    );
    expect(r.images).toBe(10);
    expect(r.latency.samples).toBe(10);
  });
});
