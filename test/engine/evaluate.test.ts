// The SAE runner (engine/evaluate.ts) with its dictionary split into feature shards, as a device whose
// buffers cannot hold W_enc or W_dec whole would split it: the same activations as the unsplit runner, bit
// for bit (each shard's encoder sums as the whole one does, and TopK selects over the placed row), the same
// reconstructions and metrics within rounding (the decoder adds the shards in order).
import { describe, expect, it } from 'vitest';
import { SaeRunner, runnerPlan } from '../../src/engine/evaluate.ts';
import { readBuffer } from '../../src/engine/kernel.ts';
import type { SaeWeights } from '../../src/engine/sae.ts';
import { expectClose, getDevice, randomArray } from '../support/gpu.ts';

const d = 36;
const F = 200; // shards of 64: 64 + 64 + 64 + 8
const ROWS = 150;

function sae(arch: 'standard' | 'topk'): SaeWeights {
  return {
    arch, d, features: F, ...(arch === 'topk' ? { k: 9 } : {}), applyBDecToInput: arch === 'topk',
    W_enc: randomArray(d * F, 1), b_enc: randomArray(F, 2, -0.3, 0.1), W_dec: randomArray(F * d, 3), b_dec: randomArray(d, 4),
    metadata: {},
  };
}

describe('SaeRunner split into feature shards', () => {
  for (const arch of ['standard', 'topk'] as const) {
    it(`${arch}: activations bit for bit, reconstructions and metrics within rounding`, async () => {
      const device = await getDevice();
      const x = randomArray(ROWS * d, 5, -2, 2);
      const whole = new SaeRunner(device, sae(arch), 64);
      const split = new SaeRunner(device, sae(arch), 64, 64);
      try {
        expect(whole.shards.length).toBe(1);
        expect(split.shards.map((s) => s.F)).toEqual([64, 64, 64, 8]);
        const a = await whole.forward(x);
        const b = await split.forward(x);
        expect(Array.from(b.acts)).toEqual(Array.from(a.acts));
        expect(a.acts.some((v) => v > 0)).toBe(true);
        expectClose(b.recon, a.recon, 1e-5, 'reconstruction');
        const ma = await whole.evaluate([x]);
        const mb = await split.evaluate([x]);
        expect(Math.abs(mb.fvu! / ma.fvu! - 1)).toBeLessThan(1e-5);
        expect(mb.l0).toBe(ma.l0);
        expect(Array.from(mb.density)).toEqual(Array.from(ma.density));
        // what the feature statistics read: the encoder's output for one batch
        const rows = 64;
        const read = async (r: SaeRunner) => {
          const out = r.encode(x.subarray(0, rows * d));
          const buf = out.dense ?? out.idx!;
          return new Uint32Array(await readBuffer(device, buf, 0, (out.dense ? rows * F : rows * out.k!) * 4));
        };
        expect(Array.from(await read(split))).toEqual(Array.from(await read(whole)));
      } finally {
        whole.destroy();
        split.destroy();
      }
    });
  }

  it('takes fewer rows a batch where the (rows, F) activations would pass one buffer', async () => {
    const device = await getDevice();
    const limits = { ...device.limits, maxStorageBufferBindingSize: 64 * F * 4, maxBufferSize: 64 * F * 4 } as GPUSupportedLimits;
    expect(runnerPlan(d, F, limits).rows).toBe(64);
    expect(runnerPlan(d, F, limits).shards.length).toBe(1);
    expect(runnerPlan(d, 10 * F, { ...limits, maxStorageBufferBindingSize: 64 * d * 4, maxBufferSize: 64 * d * 4 } as GPUSupportedLimits).shards.length).toBe(Math.ceil((10 * F) / 64));
    expect(() => runnerPlan(d, F, { ...limits, maxStorageBufferBindingSize: 100, maxBufferSize: 100 } as GPUSupportedLimits)).toThrow(/evaluating 200 features on d=36 needs .* MiB for a shard of 64 features/);
  });
});

describe('SaeRunner metrics on rows that do not vary', () => {
  it('say FVU is undefined instead of Infinity', async () => {
    const x = new Float32Array(20 * d).fill(0.5);
    const runner = new SaeRunner(await getDevice(), sae('standard'), 64);
    try {
      const m = await runner.evaluate([x]);
      expect(m.fvu).toBeNull();
      expect(m.explained_variance).toBeNull();
      expect(Number.isFinite(m.mse_per_token)).toBe(true);
    } finally {
      runner.destroy();
    }
  });
});
