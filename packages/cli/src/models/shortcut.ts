import * as tf from '@tensorflow/tfjs';

export interface ChannelPadShortcutArgs {
  /** Channels of the output (≥ input channels). */
  outChannels: number;
  /** Spatial subsampling stride (1 or 2). */
  stride: number;
  name?: string;
}

/**
 * `x[:, ::s, ::s, :]`. tfjs has no gradient for StridedSlice, so this pads H
 * and W up to multiples of `s`, splits each into (size/s, s) and slices index 0.
 */
function subsample(x: tf.Tensor4D, s: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const ph = (s - (h % s)) % s;
  const pw = (s - (w % s)) % s;
  const padded =
    ph || pw
      ? tf.pad(x, [
          [0, 0],
          [0, ph],
          [0, pw],
          [0, 0],
        ])
      : x;
  const H = (h + ph) / s;
  const W = (w + pw) / s;
  const split = tf.reshape(padded, [b, H, s, W, s, c]);
  return tf.reshape(tf.slice(split, [0, 0, 0, 0, 0, 0], [b, H, 1, W, 1, c]), [b, H, W, c]);
}

/**
 * ResNet option-A shortcut (He et al. 2016, CIFAR): subsample by `stride`
 * (`x[:, ::s, ::s, :]`) and zero-pad the channels symmetrically up to
 * `outChannels`. Parameter-free, so ResNet-20 keeps its 0.27M parameters.
 */
export class ChannelPadShortcut extends tf.layers.Layer {
  static className = 'TritChannelPadShortcut';
  readonly outChannels: number;
  readonly stride: number;

  constructor(args: ChannelPadShortcutArgs) {
    super(args);
    this.outChannels = args.outChannels;
    this.stride = args.stride;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = inputShape as tf.Shape;
    const sub = (d: number | null) => (d == null ? null : Math.ceil(d / this.stride));
    return [s[0] ?? null, sub(s[1] ?? null), sub(s[2] ?? null), this.outChannels];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const c = x.shape[3];
      const sub = this.stride === 1 ? x : subsample(x, this.stride);
      const extra = this.outChannels - c;
      if (extra < 0)
        throw new Error(
          `${this.name}: input has ${c} channels, more than outChannels=${this.outChannels}`,
        );
      const before = Math.floor(extra / 2);
      return extra === 0
        ? sub
        : tf.pad(sub as tf.Tensor4D, [
            [0, 0],
            [0, 0],
            [0, 0],
            [before, extra - before],
          ]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), outChannels: this.outChannels, stride: this.stride };
  }
}
tf.serialization.registerClass(ChannelPadShortcut);
