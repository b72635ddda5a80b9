// Study files: the schema field by field, method entries and overrides, YAML,
// re-running a results.json, the published JSON Schema, and pretrainFrom.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_FILE, RUN_FORMAT_VERSION } from '../src/bench/identity.js';
import { getPreset, presetNames } from '../src/bench/presets.js';
import { readStudyRecord, recordStudy, unionStudy } from '../src/bench/run.js';
import {
  mergeConfig,
  portableStudy,
  readStudyFile,
  resolveStudy,
  StudyError,
  studyJsonSchema,
} from '../src/bench/study.js';
import { applyOverrides } from '../src/cli/bench-command.js';
import { PACKAGE_DIR, removeDir, tempDir } from './bench-support.js';

const base = () => getPreset('smoke');
const resolve = (patch: Record<string, unknown>) =>
  resolveStudy({ ...base(), ...patch }, 'my.json');

/** The StudyError a patched smoke study gives. */
function errorOf(patch: Record<string, unknown>): string {
  try {
    resolve(patch);
  } catch (err) {
    expect(err).toBeInstanceOf(StudyError);
    return (err as Error).message;
  }
  throw new Error(`no error for ${JSON.stringify(patch)}`);
}

let work: string;
beforeAll(() => {
  work = tempDir('trit-study-');
});
afterAll(() => removeDir(work));

describe('study schema: every error names the file, the field path, the value and what is allowed', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['name', { name: 'My Study' }, /^my\.json:\n {2}name: .*pattern.* \(value: "My Study"\)/],
    ['unknown top-level key', { seed: 1 }, /^my\.json:\n {2}\(root\): Unrecognized key: "seed"/],
    [
      'data.type',
      { data: { type: 'imagenet' } },
      /data\.type: Invalid discriminator value\. Expected 'synthetic' \| 'dataset' \(value: "imagenet"\)/,
    ],
    [
      'data.size',
      { data: { type: 'synthetic', size: 2, numClasses: 4, numTrain: 8, numTest: 8 } },
      /data\.size: Too small: expected number to be >=4 \(value: 2\)/,
    ],
    [
      'model.type',
      { model: { type: 'vgg' } },
      /model\.type: unknown model "vgg"; registered models: resnet-cifar, resnet18-64/,
    ],
    [
      'model.depth',
      { model: { type: 'resnet-cifar', depth: 21 } },
      /model\.depth: depth must be 6n\+2 .* \(value: 21\)/,
    ],
    [
      'model option typo',
      { model: { type: 'resnet-cifar', depht: 20 } },
      /model: Unrecognized key: "depht"/,
    ],
    [
      'protocol',
      { protocol: 'distill' },
      /protocol: Invalid option: expected one of "finetune"\|"scratch" \(value: "distill"\)/,
    ],
    [
      'methods empty',
      { methods: [] },
      /methods: Too small: expected array to have >=1 items \(value: \[\]\)/,
    ],
    [
      'methods[i] unknown quantizer',
      { methods: ['fp32', 'xnor'] },
      /methods\[1\]: unknown quantizer "xnor"; registered: .*twn/,
    ],
    [
      'methods[i] bad option',
      { methods: ['ttq:init=zero'] },
      /methods\[0\]: method "ttq:init=zero": ttq: option "init" must be one of/,
    ],
    [
      'methods[i] duplicate label',
      { methods: ['twn', { method: 'twn' }] },
      /methods\[1\]: method label "twn" is used twice/,
    ],
    [
      'methods[i].train',
      { methods: [{ method: 'twn', train: { optimizer: { lr: -1 } } }] },
      /methods\[0\]\.train\.optimizer\.lr: Too small: expected number to be >0 \(value: -1\)/,
    ],
    [
      'seeds negative',
      { seeds: [-1] },
      /seeds\[0\]: Too small: expected number to be >=0 \(value: -1\)/,
    ],
    [
      'seeds huge',
      { seeds: [2 ** 40] },
      /seeds\[0\]: Too big: expected number to be <=4294967295 \(value: 1099511627776\)/,
    ],
    ['seeds twice', { seeds: [1, 1] }, /seeds: seed 1 is listed twice \(value: \[1,1\]\)/],
    [
      'pretrain.epochs',
      { pretrain: { epochs: 0, batchSize: 8, optimizer: { type: 'sgd', lr: 0.1 } } },
      /pretrain\.epochs: Too small: expected number to be >0 \(value: 0\)/,
    ],
    [
      'pretrain typo',
      { pretrain: { epoch: 3, epochs: 1, batchSize: 8, optimizer: { type: 'sgd', lr: 0.1 } } },
      /pretrain: Unrecognized key: "epoch"/,
    ],
    [
      'finetune.optimizer.type',
      { finetune: { epochs: 1, batchSize: 8, optimizer: { type: 'rmsprop', lr: 0.1 } } },
      /finetune\.optimizer\.type: Invalid discriminator value\. Expected 'sgd' \| 'adam' \(value: "rmsprop"\)/,
    ],
    [
      'finetune with scratch',
      { protocol: 'scratch' },
      /finetune: only the finetune protocol fine-tunes/,
    ],
    [
      'reference',
      { reference: 'ttq' },
      /reference: "ttq" is not one of the methods \(fp32, bwn, twn, ttq, sq, hla\)|reference: "ttq"/,
    ],
    [
      'reference unknown',
      { reference: 'xnor' },
      /reference: "xnor" is not one of the methods \(fp32, bwn, twn, ttq, sq, hla\)/,
    ],
    [
      'pretrain missing',
      { pretrain: undefined },
      /pretrain: required \(the FP32 pre-training, or give pretrainFrom\)/,
    ],
  ];
  for (const [what, patch, expected] of cases) {
    if (what === 'reference') {
      it('reference: a method label is accepted', () => {
        expect(resolve(patch).study.reference).toBe('ttq');
      });
      continue;
    }
    it(what, () => {
      expect(errorOf(patch)).toMatch(expected);
    });
  }
});

describe('resolving methods', () => {
  it('quantizer options: quantizerConfigs, then the entry, then the method string; training overrides deep-merge', () => {
    const { methods } = resolve({
      methods: [
        'ttq',
        {
          method: 'ttq:threshold=0.1',
          label: 'ttq-paper',
          quantizer: { threshold: 0.2, init: 'mean' },
          train: { optimizer: { lr: 0.1 }, epochs: 4 },
        },
        { method: 'twn', label: 'twn-adam', train: { optimizer: { type: 'adam', lr: 0.001 } } },
      ],
      quantizerConfigs: { ttq: { threshold: 0.07 } },
    });
    const [ttq, paper, adam] = methods as [
      (typeof methods)[0],
      (typeof methods)[0],
      (typeof methods)[0],
    ];
    expect([ttq.label, ttq.quantizer, ttq.quantizerConfig]).toEqual([
      'ttq',
      'ttq',
      { threshold: 0.07 },
    ]);
    expect([paper.label, paper.quantizerConfig]).toEqual([
      'ttq-paper',
      { threshold: 0.1, init: 'mean' },
    ]);
    // The smoke finetune: 2 epochs, batch 32, SGD 0.01 momentum 0.9, constant.
    expect(ttq.train).toMatchObject({
      epochs: 2,
      batchSize: 32,
      optimizer: { type: 'sgd', lr: 0.01, momentum: 0.9 },
    });
    expect(paper.train).toMatchObject({
      epochs: 4,
      batchSize: 32,
      optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9 },
    });
    // A different optimizer type replaces the object (no SGD momentum left on Adam).
    expect(adam.train.optimizer).toEqual({
      type: 'adam',
      lr: 0.001,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
    });
  });

  it("a method entry's seeds replace the study's for that row (an extra row with n = 1); repeated seeds are errors", () => {
    const { methods } = resolve({
      seeds: [0, 1, 2],
      methods: [
        'fp32',
        { method: 'ttq', label: 'ttq-paper', seeds: [0] },
        { method: 'twn', seeds: [2, 7] },
      ],
    });
    expect(methods.map((m) => [m.label, m.seeds])).toEqual([
      ['fp32', [0, 1, 2]],
      ['ttq-paper', [0]],
      ['twn', [2, 7]],
    ]);
    expect(errorOf({ methods: [{ method: 'twn', seeds: [1, 1] }] })).toBe(
      'my.json:\n  methods[0].seeds: seed 1 is listed twice (value: [1,1])',
    );
    expect(errorOf({ methods: [{ method: 'twn', seeds: [] }] })).toContain('methods[0].seeds');
    expect(errorOf({ methods: [{ method: 'twn', seeds: [-1] }] })).toContain('methods[0].seeds[0]');
  });

  it('mergeConfig: objects merge key by key unless their type differs', () => {
    expect(mergeConfig({ a: 1, o: { type: 'x', p: 1, q: 2 } }, { o: { q: 3 } })).toEqual({
      a: 1,
      o: { type: 'x', p: 1, q: 3 },
    });
    expect(mergeConfig({ o: { type: 'x', p: 1 } }, { o: { type: 'y', r: 2 } })).toEqual({
      o: { type: 'y', r: 2 },
    });
    expect(mergeConfig({ l: [1, 2] }, { l: [3] })).toEqual({ l: [3] });
  });

  it('applyOverrides: --methods picks entries by label or adds method strings; --epochs reaches per-method epochs; --seeds, --pretrain-epochs', () => {
    const raw = {
      ...base(),
      methods: ['fp32', { method: 'twn', label: 'twn-long', train: { epochs: 9 } }],
    };
    const o = applyOverrides(raw, {
      methods: ['twn-long', 'ttq:init=mean'],
      epochs: 3,
      seeds: [4, 5],
      pretrainEpochs: 7,
    });
    expect(o.methods).toEqual([
      { method: 'twn', label: 'twn-long', train: { epochs: 3 } },
      'ttq:init=mean',
    ]);
    expect(o.seeds).toEqual([4, 5]);
    expect((o.pretrain as { epochs: number }).epochs).toBe(7);
    expect((o.finetune as { epochs: number }).epochs).toBe(3);
    expect(raw.methods[1]).toEqual({ method: 'twn', label: 'twn-long', train: { epochs: 9 } }); // not mutated
  });

  it("applyOverrides: --seeds replaces a method entry's own seeds too", () => {
    const raw = { ...base(), methods: ['fp32', { method: 'ttq', label: 'ttq-paper', seeds: [0] }] };
    const o = applyOverrides(raw, { seeds: [3] });
    expect(o.seeds).toEqual([3]);
    expect(o.methods).toEqual(['fp32', { method: 'ttq', label: 'ttq-paper' }]);
    expect(resolveStudy(o, 'o').methods.map((m) => m.seeds)).toEqual([[3], [3]]);
  });
});

describe('study files', () => {
  it('every built-in preset is a valid study file, and its name is its file name', () => {
    for (const name of presetNames()) {
      const { study, methods } = resolveStudy(getPreset(name), name);
      expect(study.name).toBe(name);
      expect(methods.length).toBeGreaterThan(0);
    }
    expect(presetNames().slice(0, 2)).toEqual(['smoke', 'quick']);
  });

  it('YAML and JSON read the same; relative imports and pretrainFrom are relative to the file', () => {
    const dir = path.join(work, 'yaml');
    mkdirSync(dir, { recursive: true });
    const yaml = [
      'name: tiny',
      'imports: [./plugin.mjs, some-package]',
      'data: { type: synthetic, size: 8, numClasses: 3, numTrain: 48, numTest: 24 }',
      'model: { type: resnet-cifar, depth: 8, widths: [4, 4, 8] }',
      'protocol: scratch',
      'methods: [fp32, { method: twn, label: twn-b, quantizer: { perChannel: true } }]',
      'seeds: [0]',
      'pretrain: { epochs: 1, batchSize: 16, optimizer: { type: sgd, lr: 0.05 } }',
    ].join('\n');
    writeFileSync(path.join(dir, 'tiny.yaml'), yaml);
    const raw = readStudyFile(path.join(dir, 'tiny.yaml'));
    expect(raw.imports).toEqual([path.join(dir, 'plugin.mjs'), 'some-package']);
    const { study, methods } = resolveStudy({ ...raw, imports: [] });
    expect(methods.map((m) => [m.label, m.quantizerConfig])).toEqual([
      ['fp32', {}],
      ['twn-b', { perChannel: true }],
    ]);
    expect(study.pretrain.epochs).toBe(1);
    writeFileSync(path.join(dir, 'bad.yaml'), 'name: [unclosed');
    expect(() => readStudyFile(path.join(dir, 'bad.yaml'))).toThrow(
      `${path.join(dir, 'bad.yaml')}: not valid YAML: `,
    );
    expect(() => readStudyFile(path.join(dir, 'missing.json'))).toThrow(
      `${path.join(dir, 'missing.json')}: cannot read the study file (ENOENT)`,
    );
    writeFileSync(path.join(dir, 'list.json'), '[1, 2]');
    expect(() => readStudyFile(path.join(dir, 'list.json'))).toThrow(
      'a study file holds one object, got [1,2]',
    );
  });

  it('a results.json re-runs its recorded study; one without a study is an error', () => {
    const study = resolve({}).study;
    const file = path.join(work, 'results.json');
    writeFileSync(file, JSON.stringify({ preset: 'smoke', study, summary: [], runs: [] }));
    expect(resolveStudy(readStudyFile(file)).study).toEqual(study);
    writeFileSync(file, JSON.stringify({ preset: 'smoke', summary: [], runs: [] }));
    expect(() => readStudyFile(file)).toThrow(
      'a results.json without a recorded study (written by an older trit)',
    );
  });

  it('the published study.schema.json is the schema of the code (regenerate: node scripts/write-study-schema.mjs after building)', () => {
    const committed = JSON.parse(readFileSync(path.join(PACKAGE_DIR, 'study.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(studyJsonSchema())));
    // Editors complete the training config's fields from it.
    const props = (
      committed as { properties: Record<string, { properties?: Record<string, unknown> }> }
    ).properties;
    expect(Object.keys(props.pretrain!.properties!)).toEqual(
      expect.arrayContaining([
        'epochs',
        'batchSize',
        'optimizer',
        'schedule',
        'weightDecay',
        'augment',
      ]),
    );
    expect(Object.keys(props)).toEqual(
      expect.arrayContaining(['pretrainSeed', 'pretrainFrom', 'reference', 'imports']),
    );
  });
});

describe('unionStudy: the record of a bench folder continued with --resume', () => {
  it('keeps the recorded rows in order, takes a changed row as the study now gives it, adds new rows and seeds', () => {
    const before = resolve({
      methods: ['fp32', 'sq', { method: 'twn', label: 'twn-adam', train: { epochs: 3 } }],
      seeds: [0],
    }).study;
    const now = resolve({
      methods: [
        'fp32',
        { method: 'sq', train: { freezeQuantizerParams: ['alpha'] } },
        { method: 'twn', label: 'twn-adam', train: { epochs: 3 } },
        'hla',
      ],
      seeds: [0, 1],
    }).study;
    const union = unionStudy(before, now);
    expect(union.methods).toEqual([
      'fp32',
      { method: 'sq', train: { freezeQuantizerParams: ['alpha'] } },
      { method: 'twn', label: 'twn-adam', train: { epochs: 3 } },
      'hla',
    ]);
    expect(union.seeds).toEqual([0, 1]);
    // Before: the recorded 'sq' entry stayed, so the record named a config no run used any more.
    expect(union.methods[1]).not.toEqual(before.methods[1]);
  });
});

describe('pretrainFrom: fine-tuning from a finished pre-training folder', () => {
  const smokePretrain = () => ({ ...(base().pretrain as Record<string, unknown>) });
  const folder = (name: string, identity: unknown, finished = true) => {
    const dir = path.join(work, name);
    mkdirSync(path.join(dir, 'checkpoint'), { recursive: true });
    if (finished) writeFileSync(path.join(dir, 'done.json'), '{}');
    if (identity !== undefined)
      writeFileSync(
        path.join(dir, IDENTITY_FILE),
        JSON.stringify({ format: 'trit-run-identity', identity }),
      );
    return dir;
  };
  const recorded = (patch: Record<string, unknown> = {}) => ({
    kind: 'pretrain',
    version: RUN_FORMAT_VERSION,
    data: base().data,
    model: base().model,
    train: { ...resolve({}).study.pretrain, seed: 3 },
    ...patch,
  });

  it('takes the pre-training config and seed from the folder', () => {
    const dir = folder('pt-ok', recorded());
    const { study } = resolve({ pretrain: undefined, pretrainFrom: dir });
    expect(study.pretrainSeed).toBe(3);
    expect(study.pretrain).toEqual(resolve({}).study.pretrain);
    // The resolved study resolves again to itself (results.json re-runs it).
    expect(resolveStudy(study).study).toEqual(study);
  });

  it('refuses a folder whose data, model, config or seed differ, or that is unfinished or unrecorded', () => {
    const model = folder('pt-model', recorded({ model: { type: 'resnet-cifar', depth: 14 } }));
    expect(errorOf({ pretrainFrom: model })).toMatch(
      `model.depth: the pre-training in pretrainFrom (${model}) was trained with 14, the study says 8`,
    );
    const ok = folder('pt-ok2', recorded());
    expect(errorOf({ pretrainFrom: ok, pretrain: { ...smokePretrain(), epochs: 5 } })).toMatch(
      `pretrain.epochs: the pre-training in pretrainFrom (${ok}) has 2, the study says 5`,
    );
    expect(errorOf({ pretrainFrom: ok, pretrainSeed: 0 })).toMatch(
      'pretrainSeed: the pre-training in pretrainFrom',
    );
    expect(errorOf({ pretrainFrom: folder('pt-unfinished', recorded(), false) })).toMatch(
      /pretrainFrom: .*pt-unfinished is not a finished FP32 pre-training/,
    );
    expect(errorOf({ pretrainFrom: folder('pt-legacy', undefined) })).toMatch(
      /pt-legacy has no recorded configuration \(identity.json; written by an older trit\)/,
    );
    expect(errorOf({ pretrainFrom: folder('pt-run', recorded({ kind: 'run' })) })).toMatch(
      /records a run, not a pre-training/,
    );
  });

  it('a bench folder records pretrainFrom and path imports relative to itself: moved (or cloned elsewhere) with its pre-training, it still reads', () => {
    const tree = path.join(work, 'campaign');
    const pretrainDir = folder(path.join('campaign', 'pretrain', 'seed0'), recorded());
    const plugin = path.join(tree, 'plugins', 'noop.js');
    mkdirSync(path.dirname(plugin), { recursive: true });
    writeFileSync(plugin, 'export {};\n');
    const { study } = resolve({
      pretrain: undefined,
      pretrainFrom: pretrainDir,
      imports: [plugin],
    });
    const out = path.join(tree, 'shard-1');
    recordStudy(out, study);
    const record = JSON.parse(readFileSync(path.join(out, 'study.json'), 'utf8')) as {
      study: { pretrainFrom: string; imports: string[] };
    };
    expect(record.study.pretrainFrom).toBe('../pretrain/seed0');
    expect(record.study.imports).toEqual(['../plugins/noop.js']);
    expect(readStudyRecord(out)).toEqual(study);
    // The whole tree moved: the absolute paths are gone, the relative ones still hold.
    const moved = path.join(work, 'campaign-moved');
    renameSync(tree, moved);
    const read = readStudyRecord(path.join(moved, 'shard-1'))!;
    expect(read.pretrainFrom).toBe(path.join(moved, 'pretrain', 'seed0'));
    expect(read.imports).toEqual([path.join(moved, 'plugins', 'noop.js')]);
    expect(read.pretrain).toEqual(study.pretrain);
    // A package name stays as it is.
    expect(portableStudy({ ...study, imports: ['@my/quantizer'] }, out).imports).toEqual([
      '@my/quantizer',
    ]);
  });
});
