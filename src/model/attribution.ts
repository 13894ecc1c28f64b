// Attribution of a next token to the SAE's features, by exact ablation differences: for a prompt and a
// target token, each (position, feature) that is active is removed alone — x_t − f_i(t)·W_dec,i at that
// one position, the SAE's error term kept, which is exactly the model with f_i(t) = 0 — and its
// contribution is log p(target) clean minus log p(target) without it. Ablations run side by side as one
// batch of copies of the prompt, each with its own edit.
import { encodeCpu } from '../analysis/sae-cpu.ts';
import { Kernel, dispatch, flatGrid, storage, writeArray } from '../engine/kernel.ts';
import type { SaeWeights } from '../engine/sae.ts';
import type { HookEdit, LanguageModel } from './lm.ts';
import { tokenCrossEntropy } from './log-probs.ts';

export interface Contribution {
  position: number;
  feature: number;
  act: number;
  /** log p(target) clean − log p(target) with this one activation removed */
  contribution: number;
}

export interface NextTokenAttribution {
  target: number;
  /** log p(target) at the last position, clean */
  logProb: number;
  /** every (position, feature) tried, largest |contribution| first */
  contributions: Contribution[];
}

/** x += delta at the hook, delta (rows, d) given for every row of the pass */
export function deltaEdit(device: GPUDevice, delta: Float32Array): HookEdit {
  return {
    kind: 'apply',
    record(act, rows) {
      const k = Kernel.get(device, 'residual', 'add');
      const d = delta.length / rows;
      if (!Number.isInteger(d)) throw new RangeError(`a delta of ${delta.length} values does not cover ${rows} rows`);
      const u = k.uniform('u', { rows, d, T: rows }).buffer;
      const Y = storage(device, 'attribution.delta', delta.byteLength);
      writeArray(device, Y, 0, delta);
      return { dispatches: [dispatch(k, { u, X: act, Y }, flatGrid(delta.length))], buffers: [u, Y] };
    },
  };
}

/**
 * Each active (position, feature) of `ids` at `hook` — the `perPosition` strongest at each position — and its
 * exact contribution to log p(target) at the last position. `batch` ablations share a forward pass.
 */
export async function attributeNextToken(
  lm: LanguageModel,
  sae: SaeWeights,
  hook: string,
  ids: readonly number[],
  target: number,
  o: { perPosition?: number; batch?: number; signal?: AbortSignal; /** token ids whose positions are left out (the special tokens an SAE never reads) */ skip?: readonly number[] } = {},
): Promise<NextTokenAttribution> {
  const c = lm.config;
  const T = ids.length;
  const V = c.vocab;
  if (!Number.isInteger(target) || target < 0 || target >= V) throw new RangeError(`target token ${target} is outside the vocabulary`);
  const clean = await lm.forward({ ids, read: [hook], logits: 'last' });
  const logProb = -tokenCrossEntropy(clean.logits!, 0, V, target);
  const f = encodeCpu(sae, clean.hooks.get(hook)!);
  const F = sae.features;
  const tried: Omit<Contribution, 'contribution'>[] = [];
  for (let t = 0; t < T; t++) {
    if (o.skip?.includes(ids[t]!)) continue;
    const active = [...Array(F).keys()].filter((i) => f[t * F + i]! > 0).sort((a, b) => f[t * F + b]! - f[t * F + a]!);
    for (const i of active.slice(0, o.perPosition ?? 8)) tried.push({ position: t, feature: i, act: f[t * F + i]! });
  }
  const B = Math.max(1, o.batch ?? 16);
  const contributions: Contribution[] = [];
  for (let s = 0; s < tried.length; s += B) {
    o.signal?.throwIfAborted();
    const group = tried.slice(s, s + B);
    const delta = new Float32Array(group.length * T * c.d);
    group.forEach((a, b) => {
      for (let j = 0; j < c.d; j++) delta[(b * T + a.position) * c.d + j] = -a.act * sae.W_dec[a.feature * c.d + j]!;
    });
    const batchIds = group.flatMap(() => ids);
    const out = await lm.forward({ ids: batchIds, batch: group.length, logits: 'last', edits: new Map([[hook, deltaEdit(lm.device, delta)]]) });
    group.forEach((a, b) => contributions.push({ ...a, contribution: logProb + tokenCrossEntropy(out.logits!, b * V, V, target) }));
  }
  contributions.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
  return { target, logProb, contributions };
}
