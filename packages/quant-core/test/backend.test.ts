import { describe, expect, it } from 'vitest';
import { initBackend } from '../src/index.js';

describe('initBackend', () => {
  it('rejects an unknown backend name and lists the valid ones', async () => {
    await expect(initBackend({ prefer: 'gpu' as never })).rejects.toThrow(
      'unknown backend "gpu"; valid backends: tensorflow, cpu, wasm',
    );
  });
});
