// One training step of each newer recipe against SAELens 6.18 itself (../shared/fixtures/saelens6/train/): from
// the same parameters and batch, the float64 reference reproduces SAELens's outputs, every named loss, every
// gradient autograd took (relative error < 1e-4 of each tensor's largest entry) and the batch threshold's update.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchTopKStep } from '../../src/reference/batchtopk.ts';
import { jumpReluStep } from '../../src/reference/jumprelu.ts';
import type { Params64 } from '../../src/reference/params.ts';

const ROOT = resolve(__dirname, '../../../shared/fixtures/saelens6/train');

/** any C-order .npy of float32 or bool, flattened (the fixtures hold 1-D vectors and bool masks too) */
async function npy(path: string): Promise<Float64Array> {
  const bytes = new Uint8Array(readFileSync(path));
  const headerLength = new DataView(bytes.buffer).getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
  const body = bytes.slice(10 + headerLength);
  if (header.includes("'|b1'")) return Float64Array.from(body);
  if (!header.includes("'<f4'")) throw new Error(`${path}: ${header}`);
  return Float64Array.from(new Float32Array(body.buffer));
}

async function load(name: string) {
  const dir = join(ROOT, name);
  const params: Params64 = {
    W_enc: await npy(join(dir, 'params/W_enc.npy')),
    b_enc: await npy(join(dir, 'params/b_enc.npy')),
    W_dec: await npy(join(dir, 'params/W_dec.npy')),
    b_dec: await npy(join(dir, 'params/b_dec.npy')),
  };
  const grad = async (key: string) => npy(join(dir, `grads/${key}.npy`));
  const json = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const dead = existsSync(join(dir, 'dead_mask.npy')) ? Uint8Array.from(await npy(join(dir, 'dead_mask.npy'))) : undefined;
  return { dir, params, x: await npy(join(dir, 'batch.npy')), grad, json, dead, out: (f: string) => npy(join(dir, `out/${f}.npy`)) };
}

/** the largest difference relative to the largest entry of the expected tensor */
function expectTensor(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-4): void {
  expect(got.length, what).toBe(want.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  expect(diff / Math.max(scale, 1e-12), what).toBeLessThan(tol);
}

function expectLosses(got: Record<string, number>, total: number, want: Record<string, number>): void {
  const { total: wantTotal, ...named } = want;
  expect(Object.keys(got).filter((k) => got[k] !== 0 || k in named).sort()).toEqual(Object.keys(named).sort());
  for (const [k, v] of Object.entries(named)) expect(Math.abs(got[k]! - v) / Math.max(1, Math.abs(v)), k).toBeLessThan(1e-5);
  expect(Math.abs(total - wantTotal!) / Math.abs(wantTotal!)).toBeLessThan(1e-5);
}

describe.skipIf(!existsSync(ROOT))('one SAELens 6.18 training step, reproduced in float64', () => {
  for (const name of ['jumprelu-step', 'jumprelu-tanh-preact']) {
    it(`${name}: losses, outputs and the gradients of every parameter, log_threshold included`, async () => {
      const f = await load(name);
      const cfg = f.json('config.json');
      const r = jumpReluStep(f.params, await npy(join(f.dir, 'params/log_threshold.npy')), f.x, {
        mode: cfg.jumprelu_sparsity_loss_mode,
        bandwidth: cfg.jumprelu_bandwidth,
        l0: cfg.coefficients.l0,
        tanhScale: cfg.jumprelu_tanh_scale ?? 4,
        ...(cfg.pre_act_loss_coefficient !== undefined ? { preAct: cfg.pre_act_loss_coefficient } : {}),
        ...(f.dead ? { dead: f.dead } : {}),
      });
      expectLosses(r.losses, r.total, f.json('out/losses.json'));
      expectTensor(r.pre, await f.out('hidden_pre'), 'hidden_pre', 1e-5);
      expectTensor(r.f, await f.out('feature_acts'), 'feature_acts', 1e-5);
      expectTensor(r.xhat, await f.out('sae_out'), 'sae_out', 1e-5);
      for (const key of ['W_enc', 'b_enc', 'W_dec', 'b_dec', 'log_threshold'] as const) expectTensor(r.grads[key], await f.grad(key), `∂${key}`);
    });
  }

  for (const name of ['batchtopk', 'matryoshka-batchtopk']) {
    it(`${name}: the batch's active set, losses, gradients and the threshold's update`, async () => {
      const f = await load(name);
      const cfg = f.json('config.json');
      const r = batchTopKStep(f.params, f.x, {
        k: cfg.k,
        auxCoef: cfg.aux_loss_coefficient,
        threshold: cfg.topk_threshold_before,
        thresholdLr: cfg.topk_threshold_lr ?? 0.01,
        ...(f.dead ? { dead: f.dead } : {}),
        ...(cfg.matryoshka_widths ? { widths: cfg.matryoshka_widths } : {}),
      });
      const wantF = await f.out('feature_acts');
      expect([...r.f].map((v) => v > 0)).toEqual([...wantF].map((v) => v > 0));
      expectLosses(r.losses, r.total, f.json('out/losses.json'));
      expectTensor(r.pre, await f.out('hidden_pre'), 'hidden_pre', 1e-5);
      expectTensor(r.f, wantF, 'feature_acts', 1e-5);
      expectTensor(r.xhat, await f.out('sae_out'), 'sae_out', 1e-5);
      for (const key of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) expectTensor(r.grads[key], await f.grad(key), `∂${key}`);
      expect(Math.abs(r.threshold - f.json('after/topk_threshold.json').topk_threshold)).toBeLessThan(1e-7);
    });
  }
});

describe('the new recipes against finite differences, where the math is smooth (odd shapes)', () => {
  const d = 7, F = 19, B = 5;
  const rnd = (() => {
    let s = 12345;
    return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  })();
  const vec = (n: number, scale: number, shift = 0) => Float64Array.from({ length: n }, () => rnd() * scale + shift);
  const params = (): Params64 => ({ W_enc: vec(d * F, 1), b_enc: vec(F, 0.4), W_dec: vec(F * d, 1), b_dec: vec(d, 0.3) });
  const x = vec(B * d, 3);
  const dead = Uint8Array.from({ length: F }, (_, i) => (i % 3 === 0 ? 1 : 0));

  /** central differences of `loss` against the analytic gradient, over every entry of each parameter */
  function check(p: Params64, loss: (q: Params64) => number, grads: Params64, keys: (keyof Params64)[]): void {
    const h = 1e-6;
    for (const key of keys) {
      const fd = new Float64Array(p[key].length);
      for (let i = 0; i < fd.length; i++) {
        const v = p[key][i]!;
        p[key][i] = v + h;
        const up = loss(p);
        p[key][i] = v - h;
        const down = loss(p);
        p[key][i] = v;
        fd[i] = (up - down) / (2 * h);
      }
      expectTensor(grads[key], fd, `∂${key} vs finite differences`, 1e-5);
    }
  }

  for (const mode of ['step', 'tanh'] as const) {
    it(`JumpReLU (${mode}${mode === 'tanh' ? ', pre-activation loss' : ''}): ∂ of every weight`, () => {
      const p = params();
      const logT = vec(F, 0.5, Math.log(0.3));
      const o = { mode, bandwidth: 0.05, l0: 0.7, tanhScale: 4, ...(mode === 'tanh' ? { preAct: 0.3, dead } : {}) };
      const r = jumpReluStep(p, logT, x, o);
      expect(r.f.some((v) => v > 0) && r.f.some((v, k) => v === 0 && r.pre[k]! > 0)).toBe(true);
      check(p, (q) => jumpReluStep(q, logT, x, o).total, r.grads, ['W_enc', 'b_enc', 'W_dec', 'b_dec']);
    });
  }

  // (AuxK reconstructs a detached residual, so the total is not its own gradient's integral there: AuxK is
  // held to SAELens's autograd above instead)
  it('Matryoshka BatchTopK: ∂ of every weight', () => {
    const p = params();
    const o = { k: 3, auxCoef: 0.5, threshold: 0, thresholdLr: 0.01, widths: [4, 11, F] };
    const r = batchTopKStep(p, x, o);
    expect(Object.keys(r.losses)).toContain('inner_mse_loss_11');
    check(p, (q) => batchTopKStep(q, x, o).total, r.grads, ['W_enc', 'b_enc', 'W_dec', 'b_dec']);
  });

  it('Matryoshka widths that do not increase or do not end at the dictionary size are refused', () => {
    const o = { k: 3, auxCoef: 0, threshold: 0, thresholdLr: 0.01 };
    expect(() => batchTopKStep(params(), x, { ...o, widths: [8, 8, F] })).toThrow('Matryoshka widths must increase: 8 is followed by 8');
    expect(() => batchTopKStep(params(), x, { ...o, widths: [4, 11] })).toThrow('Matryoshka widths must end at the dictionary size 19; the last is 11');
  });
});
