import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { getQuantizer, listQuantizers } from '@trit/quant-core';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { listModels, modelEntry } from '../models/registry.js';
import { MAX_SEED, type TrainConfig, TrainConfigSchema } from '../training/train.js';
import { fieldPath, showValue, valueAt } from './describe.js';
import { firstDifference, type PretrainIdentity, readIdentity } from './identity.js';
import { parseMethod } from './method-spec.js';

/**
 * A study: one comparison experiment, as a file (JSON or YAML) that `trit bench
 * --study` runs. The built-in presets are study files shipped in the package
 * (`studies/`). Every field is documented in the published JSON Schema
 * (`study.schema.json`) and in the benchmark README.
 */

const NAME = /^[a-z0-9][a-z0-9._-]*$/;

export const DataSpecSchema = z.discriminatedUnion('type', [
  z
    .strictObject({
      type: z.literal('synthetic'),
      size: z.number().int().min(4).max(256).describe('image height and width in pixels'),
      numClasses: z.number().int().min(2).max(1000),
      numTrain: z.number().int().positive().max(1_000_000),
      numTest: z.number().int().positive().max(1_000_000),
      noise: z
        .number()
        .nonnegative()
        .max(10)
        .optional()
        .describe('amplitude of the pixel noise (default 0.35): higher makes the task harder'),
    })
    .describe('a generated image task (seconds to train; tests and smoke runs)'),
  z
    .strictObject({
      type: z.literal('dataset'),
      name: z
        .string()
        .regex(NAME)
        .describe(
          'a dataset imported with `trit data import` (cifar10, cifar10-sample, tiny-imagenet-10, ...), or one registered by an imported module (registerDataSource)',
        ),
    })
    .describe('a dataset by name'),
]);
export type DataSpec = z.infer<typeof DataSpecSchema>;

/**
 * A model by registry name (`type`) plus that model's options. The options are
 * checked against the registered model's own schema when the study resolves.
 */
export const ModelSpecSchema = z
  .looseObject({
    type: z
      .string()
      .describe(
        'a registered model: resnet-cifar, resnet18-64, or one added by an imported module',
      ),
  })
  .describe(
    "the model: `type` names a registered model, the other fields are that model's options",
  );
export type ModelSpec = { readonly type: string } & Readonly<Record<string, unknown>>;

/** A partial training config that a method entry merges over the study's. */
const TrainOverrideSchema = z
  .record(z.string(), z.unknown())
  .describe(
    "fields of the training config to change for this method (deep-merged over the study's finetune config, or pretrain for the scratch protocol); an optimizer or schedule with a different `type` replaces the study's whole object",
  );

export const MethodEntrySchema = z.strictObject({
  method: z
    .string()
    .min(1)
    .describe(
      'a registered quantizer, optionally with options: "ttq", "ttq:init=mean", "sq:gamma=2"',
    ),
  label: z
    .string()
    .min(1)
    .max(80)
    .optional()
    .describe('the name of this row in every table, chart and run folder (default: `method`)'),
  quantizer: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      "quantizer options for this method, over the study's quantizerConfigs (and under the options written in `method`)",
    ),
  train: TrainOverrideSchema.optional(),
  seeds: z
    .array(z.number().int().min(0).max(MAX_SEED))
    .min(1)
    .optional()
    .describe(
      "the seeds of this row, instead of the study's: e.g. [0] for an extra row reported with n = 1",
    ),
});
export type MethodEntry = z.infer<typeof MethodEntrySchema>;

/** A training config as written in a study: the seed comes from the study's `seeds`. */
const TrainConfigFileSchema = TrainConfigSchema.omit({ seed: true });

export const StudyFileSchema = z.strictObject({
  $schema: z.string().optional().describe('the JSON Schema this file follows (for editors)'),
  name: z.string().regex(NAME).describe('short name: lower-case letters, digits, ".", "_", "-"'),
  description: z.string().default('').describe('one line saying what the study compares'),
  imports: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'modules to import before the study runs (a package name, or a path relative to the study file); they register quantizers, models or data sources',
    ),
  data: DataSpecSchema,
  model: ModelSpecSchema,
  protocol: z
    .enum(['finetune', 'scratch'])
    .describe(
      'finetune: pre-train FP32, then fine-tune every method from it (the FP32 row is fine-tuned for the same budget); scratch: every method trains from random initialization',
    ),
  methods: z
    .array(z.union([z.string().min(1), MethodEntrySchema]))
    .min(1)
    .describe(
      'the rows: a quantizer name (with options after colons) or an entry with its own label, options and training overrides',
    ),
  seeds: z
    .array(z.number().int().min(0).max(MAX_SEED))
    .min(1)
    .describe('seeds; each method runs once per seed'),
  pretrainSeed: z
    .number()
    .int()
    .min(0)
    .max(MAX_SEED)
    .optional()
    .describe(
      'finetune protocol: pre-train FP32 once with this seed and fine-tune every seed from it (the seeds then vary the fine-tuning only); absent: one pre-training per seed',
    ),
  pretrain: TrainConfigFileSchema.optional().describe(
    'the FP32 pre-training (finetune protocol) or the whole run of every method (scratch); with pretrainFrom it may be left out (it is read from there)',
  ),
  pretrainFrom: z
    .string()
    .min(1)
    .optional()
    .describe(
      "finetune protocol: fine-tune every seed from this finished FP32 pre-training folder (a `pretrain/seed<S>` folder of a trit bench output, e.g. a published one; relative to the study file) instead of pre-training; its recorded data and model must be the study's",
    ),
  finetune: TrainConfigFileSchema.optional().describe(
    'the fine-tuning of every method (finetune protocol; default: the pretrain config)',
  ),
  quantizerConfigs: z
    .record(z.string(), z.record(z.string(), z.unknown()))
    .default({})
    .describe('options per quantizer name, for every method using that quantizer'),
  reference: z
    .string()
    .optional()
    .describe('a method label to compare every method with (paired by seed), besides FP32'),
});
export type StudyFile = z.input<typeof StudyFileSchema>;

/** One row of a resolved study: its label, quantizer, full quantizer options and training config. */
export interface ResolvedMethod {
  readonly label: string;
  readonly quantizer: string;
  readonly quantizerConfig: Readonly<Record<string, unknown>>;
  /** The method's training config (fine-tuning, or the whole run for scratch), seed excluded. */
  readonly train: Omit<TrainConfig, 'seed'>;
  /** The seeds this row runs: its entry's `seeds`, else the study's. */
  readonly seeds: readonly number[];
}

/**
 * A study with every default filled in and every method's options and
 * training config worked out: what runs, what `results.json` records, and
 * what `--print-study` prints. It is itself a valid study file.
 */
export interface Study {
  readonly name: string;
  readonly description: string;
  readonly imports: readonly string[];
  readonly data: DataSpec;
  readonly model: ModelSpec;
  readonly protocol: 'finetune' | 'scratch';
  readonly methods: readonly (string | MethodEntry)[];
  readonly seeds: readonly number[];
  readonly pretrainSeed?: number;
  /** A finished FP32 pre-training folder every seed is fine-tuned from (absolute path). */
  readonly pretrainFrom?: string;
  readonly pretrain: Omit<TrainConfig, 'seed'>;
  readonly finetune?: Omit<TrainConfig, 'seed'>;
  readonly quantizerConfigs: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly reference?: string;
}

/** A problem with a study, naming the file (if any), the field path, the value and what is allowed. */
export class StudyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StudyError';
  }
}

/** Zod issues as lines `field: value is <v>; <what is allowed>`. */
export function describeIssues(
  error: z.ZodError,
  root: unknown,
  prefix: PropertyKey[] = [],
): string {
  return error.issues
    .map((i) => {
      const at = [...prefix, ...i.path];
      const value = i.code === 'unrecognized_keys' ? undefined : valueAt(root, i.path);
      const shown = i.code === 'unrecognized_keys' ? '' : ` (value: ${showValue(value)})`;
      return `  ${fieldPath(at)}: ${i.message}${shown}`;
    })
    .join('\n');
}

function parseWith<T>(
  schema: z.ZodType<T>,
  value: unknown,
  where: string,
  prefix: PropertyKey[],
): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new StudyError(`${where}:\n${describeIssues(r.error, value, prefix)}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * `override` merged over `base`: nested objects merge key by key, except that
 * an object whose `type` differs from the base's (an optimizer `sgd` → `adam`)
 * replaces it whole, since the two types have different fields.
 */
export function mergeConfig(
  base: Readonly<Record<string, unknown>>,
  override: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) {
    const b = out[k];
    if (isPlainObject(v) && isPlainObject(b) && (!('type' in v) || v.type === b.type))
      out[k] = mergeConfig(b, v);
    else out[k] = v;
  }
  return out;
}

/** A method entry's row name: its `label`, else its method string. */
export function methodLabel(entry: string | MethodEntry): string {
  return typeof entry === 'string' ? entry : (entry.label ?? entry.method);
}

/**
 * Checks a study (parsed from a file or built in code) and works out every
 * method: the quantizer options (quantizerConfigs, then the entry's
 * `quantizer`, then the options in the method string) and the training config
 * (the study's, with the entry's `train` merged over it), all validated by the
 * quantizer and the training-config schema. `where` names the source in errors.
 * Quantizers, models and data sources must be registered first (imports loaded).
 */
export function resolveStudy(
  input: unknown,
  where = 'study',
): { study: Study; methods: ResolvedMethod[] } {
  const { file, study } = parseStudyFile(input, where);
  const { type, ...modelOptions } = file.model;
  if (!listModels().includes(type))
    throw new StudyError(
      `${where}:\n  model.type: unknown model ${showValue(type)}; registered models: ${listModels().join(', ')}`,
    );
  parseWith(modelEntry(type).options, modelOptions, where, ['model']);

  const base = (
    study.protocol === 'finetune' ? (study.finetune ?? study.pretrain) : study.pretrain
  ) as Record<string, unknown>;
  const labels = new Set<string>();
  const methods = file.methods.map((entry, i): ResolvedMethod => {
    const at = `${where}:\n  methods[${i}]`;
    const label = methodLabel(entry);
    if (labels.has(label))
      throw new StudyError(
        `${at}: method label "${label}" is used twice; give one of them a \`label\``,
      );
    labels.add(label);
    const methodString = typeof entry === 'string' ? entry : entry.method;
    let spec: ReturnType<typeof parseMethod>;
    try {
      spec = parseMethod(methodString);
    } catch (err) {
      throw new StudyError(`${at}: ${(err as Error).message}`);
    }
    const quantizerConfig = {
      ...(file.quantizerConfigs[spec.quantizer] ?? {}),
      ...(typeof entry === 'string' ? {} : (entry.quantizer ?? {})),
      ...spec.options,
    };
    if (!listQuantizers().includes(spec.quantizer))
      throw new StudyError(
        `${at}: unknown quantizer "${spec.quantizer}"; registered: ${listQuantizers().join(', ')}`,
      );
    try {
      getQuantizer(spec.quantizer, quantizerConfig);
    } catch (err) {
      throw new StudyError(`${at}: method "${label}": ${(err as Error).message}`);
    }
    const trainInput =
      typeof entry === 'string' || !entry.train ? base : mergeConfig(base, entry.train);
    const train = parseWith(
      TrainConfigFileSchema,
      trainInput,
      where,
      typeof entry === 'string' || !entry.train
        ? [file.protocol === 'finetune' && file.finetune ? 'finetune' : 'pretrain']
        : ['methods', i, 'train'],
    );
    const seeds = (typeof entry === 'string' ? undefined : entry.seeds) ?? study.seeds;
    const dup = seeds.find((s, k) => seeds.indexOf(s) !== k);
    if (dup !== undefined)
      throw new StudyError(`${at}.seeds: seed ${dup} is listed twice (value: ${showValue(seeds)})`);
    return { label, quantizer: spec.quantizer, quantizerConfig, train, seeds };
  });
  if (file.reference !== undefined && !labels.has(file.reference))
    throw new StudyError(
      `${where}:\n  reference: ${showValue(file.reference)} is not one of the methods (${[...labels].join(', ')})`,
    );
  return { study, methods };
}

/**
 * Checks a study's structure and fills its defaults, without the registries:
 * enough to compare two studies (a folder's record with a new run) when the
 * modules the recorded one imports are not loaded. {@link resolveStudy} checks
 * the quantizers, models and options too.
 */
export function parseStudy(input: unknown, where = 'study'): Study {
  return parseStudyFile(input, where).study;
}

/** {@link parseStudy}, also returning the parsed file (what {@link resolveStudy} reads the methods from). */
function parseStudyFile(
  input: unknown,
  where: string,
): { file: z.output<typeof StudyFileSchema>; study: Study } {
  const file = parseWith(StudyFileSchema, input, where, []);
  const { finetune } = file;
  if (file.protocol === 'scratch' && file.pretrainFrom !== undefined)
    throw new StudyError(
      `${where}:\n  pretrainFrom: only the finetune protocol starts from a pre-training (protocol is "scratch")`,
    );
  if (file.pretrain === undefined && file.pretrainFrom === undefined)
    throw new StudyError(
      `${where}:\n  pretrain: required (the ${file.protocol === 'scratch' ? 'training config of every run' : 'FP32 pre-training'}${file.protocol === 'finetune' ? ', or give pretrainFrom' : ''})`,
    );
  if (file.pretrain === undefined && file.finetune === undefined)
    throw new StudyError(
      `${where}:\n  finetune: required when pretrain is left out (the fine-tuning config of every method)`,
    );
  let pretrain = file.pretrain;
  let pretrainSeed = file.pretrainSeed;
  if (file.pretrainFrom !== undefined) {
    const recorded = recordedPretraining(file.pretrainFrom, where);
    for (const key of ['data', 'model'] as const) {
      const d = firstDifference(recorded[key], file[key]);
      if (d)
        throw new StudyError(
          `${where}:\n  ${key}${d.path === '(whole value)' ? '' : `.${d.path}`}: the pre-training in pretrainFrom (${file.pretrainFrom}) was trained with ${showValue(d.a)}, the study says ${showValue(d.b)}`,
        );
    }
    const { seed, ...recordedTrain } = recorded.train as Omit<TrainConfig, 'seed'> & {
      seed: number;
    };
    if (pretrain !== undefined) {
      const d = firstDifference(recordedTrain, pretrain);
      if (d)
        throw new StudyError(
          `${where}:\n  pretrain.${d.path}: the pre-training in pretrainFrom (${file.pretrainFrom}) has ${showValue(d.a)}, the study says ${showValue(d.b)} (leave pretrain out to take it from there)`,
        );
    }
    if (pretrainSeed !== undefined && pretrainSeed !== seed)
      throw new StudyError(
        `${where}:\n  pretrainSeed: the pre-training in pretrainFrom (${file.pretrainFrom}) has seed ${seed}, the study says ${pretrainSeed} (leave pretrainSeed out)`,
      );
    pretrain = recordedTrain;
    pretrainSeed = seed;
  }
  if (file.protocol === 'scratch' && file.finetune !== undefined)
    throw new StudyError(
      `${where}:\n  finetune: only the finetune protocol fine-tunes (protocol is "scratch"); remove it or set protocol "finetune"`,
    );
  if (file.protocol === 'scratch' && file.pretrainSeed !== undefined)
    throw new StudyError(
      `${where}:\n  pretrainSeed: only the finetune protocol pre-trains (protocol is "scratch")`,
    );
  const dupSeed = file.seeds.find((s, i) => file.seeds.indexOf(s) !== i);
  if (dupSeed !== undefined)
    throw new StudyError(
      `${where}:\n  seeds: seed ${dupSeed} is listed twice (value: ${showValue(file.seeds)})`,
    );
  const study: Study = {
    name: file.name,
    description: file.description,
    imports: file.imports,
    data: file.data,
    model: file.model as ModelSpec,
    protocol: file.protocol,
    methods: file.methods,
    seeds: file.seeds,
    ...(pretrainSeed !== undefined ? { pretrainSeed } : {}),
    ...(file.pretrainFrom !== undefined ? { pretrainFrom: file.pretrainFrom } : {}),
    pretrain: pretrain!,
    ...(finetune ? { finetune } : {}),
    quantizerConfigs: file.quantizerConfigs,
    ...(file.reference !== undefined ? { reference: file.reference } : {}),
  };
  return { file, study };
}

/**
 * The recorded configuration of a finished FP32 pre-training folder
 * (`pretrainFrom`): its identity.json, which must say `pretrain`, next to a
 * done.json and a checkpoint.
 */
function recordedPretraining(dir: string, where: string): PretrainIdentity {
  const bad = (why: string) => new StudyError(`${where}:\n  pretrainFrom: ${dir} ${why}`);
  if (!existsSync(path.join(dir, 'done.json')) || !existsSync(path.join(dir, 'checkpoint')))
    throw bad('is not a finished FP32 pre-training (no done.json and checkpoint/ inside)');
  let identity: ReturnType<typeof readIdentity>;
  try {
    identity = readIdentity(dir);
  } catch (err) {
    throw bad(`has a bad record: ${(err as Error).message}`);
  }
  if (identity === undefined)
    throw bad('has no recorded configuration (identity.json; written by an older trit)');
  if (identity.kind !== 'pretrain') throw bad(`records a ${identity.kind}, not a pre-training`);
  return identity;
}

/** The largest study file read (a study is a few KiB; this bounds memory on a wrong path). */
export const MAX_STUDY_FILE_BYTES = 1024 * 1024;

/**
 * Reads a study file: JSON (`.json`), YAML (`.yaml`/`.yml`), or a `results.json`
 * written by `trit bench` (its recorded `study`), so any published result
 * re-runs from its own results file. Returns the raw object; `resolveStudy`
 * validates it once imports are loaded.
 */
export function readStudyFile(file: string): Record<string, unknown> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new StudyError(
      `${file}: cannot read the study file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  if (size > MAX_STUDY_FILE_BYTES)
    throw new StudyError(
      `${file}: ${size} bytes is larger than a study file can be (${MAX_STUDY_FILE_BYTES} bytes)`,
    );
  const text = readFileSync(file, 'utf8');
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new StudyError(
      `${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`,
    );
  }
  if (!isPlainObject(raw))
    throw new StudyError(`${file}: a study file holds one object, got ${showValue(raw)}`);
  // A results.json of `trit bench`: re-run the study it recorded.
  if ('runs' in raw && 'summary' in raw) {
    if (!isPlainObject(raw.study))
      throw new StudyError(
        `${file}: a results.json without a recorded study (written by an older trit)`,
      );
    raw = raw.study;
  }
  // Relative paths in a study are relative to the study file.
  return resolveStudyPaths(raw as Record<string, unknown>, path.dirname(path.resolve(file)));
}

/** Whether an `imports` entry is a path relative to its study (not a package name or an absolute path). */
const isRelativeImport = (m: unknown): m is string =>
  typeof m === 'string' && (m.startsWith('./') || m.startsWith('../'));

/**
 * A raw study's relative paths (`pretrainFrom`, `./` and `../` imports)
 * resolved against `dir`, the folder of the file that holds it (in place).
 */
export function resolveStudyPaths(
  study: Record<string, unknown>,
  dir: string,
): Record<string, unknown> {
  if (typeof study.pretrainFrom === 'string')
    study.pretrainFrom = path.resolve(dir, study.pretrainFrom);
  if (Array.isArray(study.imports))
    study.imports = study.imports.map((m) => (isRelativeImport(m) ? path.resolve(dir, m) : m));
  return study;
}

/**
 * The study as a file in `dir` records it (a bench folder's study.json, a
 * results.json): `pretrainFrom` and imports that are paths, relative to
 * `dir`, so a folder committed with the pre-training it started from (or
 * cloned elsewhere) still reads. {@link resolveStudyPaths} undoes it.
 */
export function portableStudy(study: Study, dir: string): Study {
  const relative = (p: string): string => {
    const r = path.relative(path.resolve(dir), p).split(path.sep).join('/');
    return r.startsWith('../') || r === '..' ? r : `./${r}`;
  };
  return {
    ...study,
    ...(study.pretrainFrom !== undefined ? { pretrainFrom: relative(study.pretrainFrom) } : {}),
    imports: study.imports.map((m) => (path.isAbsolute(m) ? relative(m) : m)),
  };
}

/** The JSON Schema of study files (for editors: `"$schema": ".../study.schema.json"`). */
export function studyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(StudyFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    title: 'trit study',
    description:
      'One comparison experiment for `trit bench --study`: data, model, protocol, methods, seeds and training configs. See packages/cli/README.md#study-files.',
    ...schema,
  };
}
