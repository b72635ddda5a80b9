/**
 * Checking what a caller hands to `TritModel.run`/`predict`, before any
 * compute: the feeds (type, shape, batch, finite values) and the names of
 * the outputs asked for. Every problem is a `TritFormatError` naming the
 * input and the value.
 */
import { TritFormatError } from './errors.js';
import { shapeSize } from './pack.js';

/**
 * Input values: float32, or float64 (converted to float32, the precision the
 * model computes in; see {@link toFloat32}).
 */
export type FeedData = Float32Array | Float64Array;

/** An input tensor: shape `[batch, ...input shape]` and row-major data. */
export interface FeedTensor {
  readonly shape: readonly number[];
  readonly data: FeedData;
}

/** One input: a tensor, or bare data read as a whole number of samples. */
export type Feed = FeedData | FeedTensor;

/** What `run` accepts: the feed of a single-input model, or feeds by input name. */
export type Feeds = Feed | Readonly<Record<string, Feed>>;

function bad(message: string): never {
  throw new TritFormatError('bad-input', message);
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'object') return `an object with keys ${JSON.stringify(Object.keys(v))}`;
  return `${typeof v} ${String(v).slice(0, 40)}`;
}

function isFeedData(v: unknown): v is FeedData {
  return v instanceof Float32Array || v instanceof Float64Array;
}

/** `{ shape: [...], data }` (whatever `data` is: it is checked next). */
function isFeedTensor(v: unknown): v is FeedTensor {
  return (
    typeof v === 'object' &&
    v !== null &&
    'data' in v &&
    Array.isArray((v as { shape?: unknown }).shape)
  );
}

/**
 * Float64 input as float32, rounded to nearest: the model computes in
 * float32, so this is the value any float32 pipeline would pass. Accepted
 * (not refused) because a Float64Array is the natural result of computing in
 * JavaScript numbers and holds the same values, only more precisely; other
 * typed arrays (uint8 pixels, int32) are refused, since their values usually
 * need the model's preprocessing first. Values beyond float32's range become
 * ±Infinity and are refused by the finite check.
 */
function toFloat32(data: FeedData): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/** Index of the first NaN or ±Infinity in `a`, or -1. */
export function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

/**
 * The checked feeds of `inputs`, as float32 data per input name, and the
 * batch size. Accepts the feed of a single-input model or an object of feeds
 * by input name; data as Float32Array or Float64Array (converted); refuses
 * anything else, a shape that does not match, disagreeing batch sizes, and
 * NaN or ±Infinity in the data (`non-finite`).
 */
export function resolveFeeds(
  inputs: readonly { readonly name: string; readonly shape: readonly number[] }[],
  feeds: unknown,
): { values: Map<string, Float32Array>; batch: number } {
  const expected = `a Float32Array, { shape, data } or an object of input name -> tensor`;
  if (typeof feeds !== 'object' || feeds === null || Array.isArray(feeds)) {
    bad(`feeds must be ${expected}, got ${kind(feeds)}`);
  }
  let map: Record<string, unknown>;
  if (ArrayBuffer.isView(feeds) || isFeedTensor(feeds)) {
    if (inputs.length !== 1) bad(`the model has ${inputs.length} inputs; pass feeds by name`);
    map = { [inputs[0]!.name]: feeds };
  } else {
    map = feeds as Record<string, unknown>;
  }
  for (const key of Object.keys(map)) {
    if (!inputs.some((i) => i.name === key)) {
      bad(
        `feed "${key}" is not an input of the model (inputs: ${inputs.map((i) => i.name).join(', ')})`,
      );
    }
  }
  let batch = -1;
  const values = new Map<string, Float32Array>();
  for (const input of inputs) {
    const at = `input "${input.name}"`;
    const feed = map[input.name];
    if (feed === undefined) bad(`missing feed for ${at}`);
    const size = shapeSize(input.shape);
    const raw = isFeedTensor(feed) ? feed.data : feed;
    if (!isFeedData(raw)) {
      bad(
        `${at}: data must be a Float32Array (or a Float64Array, converted to float32), got ${kind(raw)}` +
          (ArrayBuffer.isView(raw) ? '; convert it, with the preprocessing the model expects' : ''),
      );
    }
    if (isFeedTensor(feed)) {
      const s = feed.shape as unknown;
      if (!Array.isArray(s) || !s.every((d) => Number.isInteger(d) && d >= 0)) {
        bad(`${at}: shape must be an array of non-negative integers, got ${kind(s)}`);
      }
      if (s.length !== input.shape.length + 1 || s.slice(1).some((d, i) => d !== input.shape[i])) {
        bad(`${at}: shape [${s.join(', ')}] does not match [batch, ${input.shape.join(', ')}]`);
      }
      if (shapeSize(s) !== raw.length)
        bad(`${at}: ${raw.length} values for shape [${s.join(', ')}]`);
    }
    if (raw.length === 0 || raw.length % size !== 0) {
      bad(
        `${at}: ${raw.length} values is not a whole number of [${input.shape.join(', ')}] samples`,
      );
    }
    const b = raw.length / size;
    if (batch !== -1 && b !== batch) bad(`inputs disagree on the batch size (${batch} vs ${b})`);
    batch = b;
    const data = toFloat32(raw);
    const i = firstNonFinite(data);
    if (i >= 0) {
      throw new TritFormatError(
        'non-finite',
        `${at} holds ${data[i]} at index ${i} (sample ${Math.floor(i / size)})` +
          (raw instanceof Float64Array && Number.isFinite(raw[i]!)
            ? `: ${raw[i]} is beyond float32's range`
            : ''),
      );
    }
    values.set(input.name, data);
  }
  return { values, batch };
}

/** Checks the `outputs` argument of `run`: a non-empty array of op names. */
export function checkOutputNames(outputs: unknown): readonly string[] {
  if (
    !Array.isArray(outputs) ||
    outputs.length === 0 ||
    !outputs.every((o) => typeof o === 'string')
  ) {
    bad(`outputs must be a non-empty array of op names, got ${kind(outputs)}`);
  }
  return outputs;
}
