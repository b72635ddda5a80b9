import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { customGradient, recordingGradients, tidyValue } from '../src/tensor-ops.js';

describe('recordingGradients', () => {
  it('is true only while a tape records the forward', () => {
    const seen: Record<string, boolean> = { top: recordingGradients() };
    const x = tf.scalar(2);
    const op = customGradient(([a]) => {
      seen.customGradForward = recordingGradients();
      return {
        value: tf.square(a!),
        gradFunc: (dy) => {
          seen.backward = recordingGradients();
          return [tf.mul(dy, tf.mul(a!, 2))];
        },
      };
    });
    const g = tf.grad((v: tf.Tensor) => {
      seen.forward = recordingGradients();
      return op(v);
    })(x);
    seen.after = recordingGradients();
    expect(g.dataSync()[0]).toBe(4);
    expect(seen).toEqual({
      top: false,
      forward: true,
      customGradForward: false,
      backward: false,
      after: false,
    });
    tf.dispose([x, g]);
  });

  it('is false again after a tf.grad that throws (the tape is left set)', () => {
    const x = tf.scalar(1);
    // f does not use x: tfjs throws "Cannot compute gradient" before its backward pass.
    expect(() => tf.grad(() => tf.scalar(3))(x)).toThrow('Cannot compute gradient');
    expect(tf.engine().state.activeTape).not.toBeNull(); // what `activeTape != null` got wrong
    expect(recordingGradients()).toBe(false);
    x.dispose();
  });
});

describe('tidyValue', () => {
  it('returns the value and frees the tensors made on the way', () => {
    const before = tf.memory().numTensors;
    const v = tidyValue(() => tf.sum(tf.tensor1d([1, 2, 3.5])).dataSync()[0]);
    expect(v).toBe(6.5);
    expect(tf.memory().numTensors).toBe(before);
  });
});
