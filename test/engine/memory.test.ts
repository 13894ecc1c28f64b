// The memory check: a dictionary is split into feature shards where its buffers would pass the device's
// limit, and what no split makes fit is refused before any allocation, naming the sizes.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/engine/config.ts';
import { DoesNotFitError, checkFits, estimateMemory } from '../../src/engine/memory.ts';

const MiB = 2 ** 20;
// a binding of up to `binding` MiB, a buffer of up to `buffer` MiB (a run may take 4 buffers' worth)
const limits = (binding: number, buffer = 1024) => ({ maxStorageBufferBindingSize: binding * MiB, maxBufferSize: buffer * MiB }) as GPUSupportedLimits;

describe('checkFits', () => {
  it('splits what must be split, and refuses what no split makes fit, naming the sizes', () => {
    const demo = defaultConfig({ d: 512, features: 4096, batch: 1024 });
    expect(checkFits(demo, limits(128))).toEqual([{ f0: 0, F: 4096 }]);
    const large = defaultConfig({ d: 768, features: 32768, batch: 4096 });
    expect(estimateMemory(large).largest.bytes).toBeGreaterThan(128 * MiB);
    const shards = checkFits(large, limits(128));
    expect(shards.map((s) => s.F)).toEqual([8192, 8192, 8192, 8192]);
    expect(estimateMemory(large, 8192).largest.bytes).toBeLessThanOrEqual(128 * MiB);
    // a batch whose rows alone pass the limit
    const rows = defaultConfig({ d: 768, features: 4096, batch: 65536 });
    expect(() => checkFits(rows, limits(128))).toThrow(DoesNotFitError);
    expect(() => checkFits(rows, limits(128))).toThrow(/4096 features on d=768 with batch 65536 needs .* MiB/);
    expect(() => checkFits(defaultConfig({ d: 64, arch: 'topk', k: 600 }), limits(128))).toThrow(/at most 512/);
    // shards get past one buffer's limit, not past the device: 4 of its largest buffers in all
    expect(estimateMemory(large).total).toBeGreaterThan(4 * 128 * MiB);
    expect(() => checkFits(large, limits(128, 128))).toThrow(/needs about .* MiB in all, more than the 512\.0 MiB/);
  });
});
