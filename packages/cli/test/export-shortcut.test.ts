/**
 * The CLI registers the export of its own ResNet layer, `ChannelPadShortcut`
 * (option A), with @trit/export: a strided subsample and symmetric zero
 * channels, matching tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import { exportModel, getLayerConverter } from '@trit/export';
import { maxAbsDiff, seededRandom } from '@trit/quant-core/testing';
import { decodeModel } from '@trit/runtime';
import { describe, expect, it } from 'vitest';
import { convertChannelPadShortcut } from '../src/export/shortcut-converter.js';
import { ChannelPadShortcut } from '../src/models/shortcut.js';

type Sym = tf.SymbolicTensor;

describe('the ChannelPadShortcut converter', () => {
  it('is registered with @trit/export by the CLI', () => {
    expect(getLayerConverter(ChannelPadShortcut.className)).toBe(convertChannelPadShortcut);
  });

  for (const [stride, out, ops] of [
    [2, 21, ['in', 'sc/subsample', 'sc']],
    [1, 13, ['in', 'sc']],
    [2, 8, ['in', 'sc/subsample']],
  ] as const) {
    it(`stride ${stride}, 8 -> ${out} channels: ops ${ops.join(', ')}, matching tfjs`, () => {
      const input = tf.input({ shape: [5, 5, 8], name: 'in' });
      const y = new ChannelPadShortcut({ outChannels: out, stride, name: 'sc' }).apply(
        input,
      ) as Sym;
      const model = tf.model({ inputs: input, outputs: y });
      const { manifest, binary } = exportModel(model);
      expect(manifest.ops.map((o) => o.name)).toEqual(ops);
      if (out > 8) {
        // Odd padding puts the smaller half before: 13 channels = 2 + 8 + 3.
        const before = Math.floor((out - 8) / 2);
        expect(manifest.ops.find((o) => o.name === 'sc')).toMatchObject({
          op: 'zeroPad',
          channels: [before, out - 8 - before],
        });
      }
      const rand = seededRandom(stride * 100 + out);
      const x = Float32Array.from({ length: 2 * 5 * 5 * 8 }, () => rand() * 2 - 1);
      const ours = decodeModel(manifest, binary).predict({ shape: [2, 5, 5, 8], data: x });
      const ref = tf.tidy(
        () => (model.predict(tf.tensor4d(x, [2, 5, 5, 8])) as tf.Tensor).dataSync() as Float32Array,
      );
      expect(ours.shape).toEqual([2, stride === 2 ? 3 : 5, stride === 2 ? 3 : 5, out]);
      expect(maxAbsDiff(ours.data, ref)).toBe(0);
      model.dispose();
    });
  }
});
