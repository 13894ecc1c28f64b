// The start-up tuner (src/engine/tuner.ts): its decision rule on made-up timings (a challenger must win by
// more than the measured noise), the block it times, and a real tuning on this adapter through a cache.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/engine/config.ts';
import { GEMM_VARIANTS, gemmApplies } from '../../src/engine/gemm.ts';
import {
  MIN_TILES, TUNE_FLOPS, cacheKey, choose, defaultChoices, describeKernels, describeTuning, stepGemms, timedBlock, tuneStep,
  type GemmTuning, type TunerCache,
} from '../../src/engine/tuner.ts';
import { getDevice } from '../support/gpu.ts';

function memoryCache(): TunerCache & { map: Map<string, GemmTuning> } {
  const map = new Map<string, GemmTuning>();
  return {
    map,
    async get(key: string) {
      return structuredClone(map.get(key));
    },
    async put(key: string, value: GemmTuning) {
      map.set(key, structuredClone(value));
    },
  };
}

describe('choose', () => {
  it('keeps the default when the challenger wins by less than the noise', () => {
    // vec4 spreads ±15% around 100: MAD 15, noise 2·15/100 = 30%; tiled32 is 20% faster, inside it
    const r = choose('vec4', { vec4: [85, 100, 115, 100, 85], tiled32: [80, 80, 80, 80, 80] });
    expect(r.noise).toBeCloseTo(0.3, 6);
    expect(r.choice).toBe('vec4');
  });

  it('takes a challenger that wins by more than the noise', () => {
    const r = choose('vec4', { vec4: [100, 101, 99, 100, 100], vec4x8: [80, 80, 81, 79, 80], tiled32: [60, 61, 59, 60, 60] });
    expect(r.noise).toBeCloseTo(0.2, 6); // the floor: these timings barely move
    expect(r.medianMs).toEqual({ vec4: 100, vec4x8: 80, tiled32: 60 });
    expect(r.choice).toBe('tiled32');
  });

  it('between challengers within the noise of each other, takes the first in a fixed order, not the faster', () => {
    expect(choose('vec4', { vec4: [100, 100, 100], vec4x8: [60, 60, 60], tiled32: [58, 58, 58] }).choice).toBe('vec4x8');
    expect(choose('vec4', { vec4: [100, 100, 100], vec4x8: [58, 58, 58], tiled32: [60, 60, 60] }).choice).toBe('vec4x8');
  });

  it('is robust to one slow round', () => {
    const r = choose('vec4', { vec4: [100, 100, 400, 100, 100], scalar: [70, 70, 70, 70, 70] });
    expect(r.choice).toBe('scalar');
  });

  it('refuses timings without the default', () => {
    expect(() => choose('vec4', { scalar: [1] })).toThrow(/default GEMM variant vec4 was not timed/);
  });
});

describe('timedBlock', () => {
  it('times the whole of a small problem', () => {
    expect(timedBlock({ M: 19, N: 101, K: 37, transA: false, transB: false })).toEqual({ rows: 19, cols: 101 });
  });

  it('cuts a large one to multiples of 64, within the work budget', () => {
    for (const p of stepGemms(defaultConfig({ d: 512, features: 16384, batch: 1024 }))) {
      const b = timedBlock(p);
      expect(b.rows % 64, p.role).toBe(0);
      expect(b.cols % 64, p.role).toBe(0);
      expect(b.rows).toBeLessThanOrEqual(p.M);
      expect(b.cols).toBeLessThanOrEqual(p.N);
      expect(2 * b.rows * b.cols * p.K, p.role).toBeLessThanOrEqual(Math.max(TUNE_FLOPS, 2 * MIN_TILES * 64 * 64 * p.K));
      // enough workgroups of the largest tile (64×64) to keep every core busy, as the run would
      expect(b.rows * b.cols, p.role).toBeGreaterThanOrEqual(MIN_TILES * 64 * 64);
    }
  });
});

describe('stepGemms', () => {
  it('lists the five GEMMs of a standard step and the one of a TopK step', () => {
    expect(stepGemms(defaultConfig({ d: 8 })).map((p) => p.role)).toEqual(['encode', 'decode', 'backprop', 'gradDec', 'gradEnc']);
    expect(stepGemms(defaultConfig({ d: 8, arch: 'topk' })).map((p) => p.role)).toEqual(['encode']);
    // vec4 wherever the widths it reads along are multiples of 4 (here d = 9 is not, F = 36 is)
    expect(defaultChoices(defaultConfig({ d: 9, features: 36 }))).toEqual({ encode: 'scalar', decode: 'scalar', backprop: 'scalar', gradDec: 'scalar', gradEnc: 'scalar' });
  });
});

describe('tuneStep on this adapter', () => {
  it('times every variant that applies, chooses one per GEMM, and a second run reads the same from the cache', async () => {
    const device = await getDevice();
    const cfg = defaultConfig({ d: 36, features: 100, batch: 19 });
    const cache = memoryCache();
    const first = await tuneStep(device, 'test adapter', cfg, cache);
    expect(first.cached).toBe(0);
    expect(first.gemms.map((g) => g.role)).toEqual(['encode', 'decode', 'backprop', 'gradDec', 'gradEnc']);
    for (const g of first.gemms) {
      expect(gemmApplies(g.choice, g.problem, device.features)).toBe(true);
      const timed = Object.keys(g.medianMs);
      const dropped = Object.keys(g.dropped);
      // every applicable variant was either timed or dropped with a reason
      expect([...timed, ...dropped].sort()).toEqual(GEMM_VARIANTS.filter((v) => gemmApplies(v, g.problem, device.features)).sort());
      for (const ms of Object.values(g.medianMs)) expect(ms).toBeGreaterThan(0);
      expect(g.noise).toBeGreaterThanOrEqual(0.2);
      expect(Object.values(g.dropped).every((why) => !/differed/.test(why!))).toBe(true); // every variant computed the same C
    }
    expect(cache.map.size).toBe(5);
    expect([...cache.map.keys()].every((k) => k.startsWith('test adapter|matmul@'))).toBe(true);
    expect(describeTuning(first)).toHaveLength(5);
    expect(describeKernels({ matmul: first.choices })).toMatch(/^GEMM kernels: encode \w+ · decode \w+ · backprop \w+ · gradDec \w+ · gradEnc \w+$/);

    const again = await tuneStep(device, 'test adapter', cfg, cache);
    expect(again.cached).toBe(5);
    expect(again.choices).toEqual(first.choices);

    // another adapter's choices are not taken
    const other = await tuneStep(device, 'another adapter', defaultConfig({ d: 36, features: 100, batch: 19, arch: 'topk' }), cache);
    expect(other.cached).toBe(0);
    expect(cacheKey('a', stepGemms(cfg)[0]!)).not.toBe(cacheKey('b', stepGemms(cfg)[0]!));
  });
});
