// The memory check refuses, before any allocation, a run whose largest buffer exceeds the device's limit.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/engine/config.ts';
import { DoesNotFitError, checkFits, estimateMemory } from '../../src/engine/memory.ts';

const limits = { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 256 * 2 ** 20 } as GPUSupportedLimits;

describe('checkFits', () => {
  it('accepts the demo shape and refuses one that needs a bigger binding', () => {
    expect(() => checkFits(defaultConfig({ d: 512, features: 4096, batch: 1024 }), limits)).not.toThrow();
    const big = defaultConfig({ d: 768, features: 32768, batch: 4096 });
    expect(estimateMemory(big).largest.bytes).toBeGreaterThan(limits.maxStorageBufferBindingSize);
    expect(() => checkFits(big, limits)).toThrow(DoesNotFitError);
    expect(() => checkFits(big, limits)).toThrow(/32768 features .* MiB/);
  });

  it('refuses k beyond the selection kernel', () => {
    expect(() => checkFits(defaultConfig({ d: 64, arch: 'topk', k: 600 }), limits)).toThrow(/at most 512/);
  });
});
