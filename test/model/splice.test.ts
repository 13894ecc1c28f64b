// An SAE spliced into the GPU language model (src/model/sae-splice.ts, shaders/splice.wgsl) against the float64
// reference model with the SAE applied in float64 at the hook: the reconstruction alone, a clamped feature
// (with and without the error term), steering; and the identities the seed's experiments rest on — with the
// error term and no edit the logits are the clean ones, bit for bit; steering by α equals adding α·W_dec,i.
import { describe, expect, it } from 'vitest';
import { LanguageModel } from '../../src/model/lm.ts';
import { SaeSplice, checkSaeForModel, fillEdit } from '../../src/model/sae-splice.ts';
import { referenceForward } from '../../src/reference/transformer.ts';
import { saeActivations64 } from '../../src/reference/sae-forward.ts';
import type { SaeWeights } from '../../src/engine/sae.ts';
import { getDevice, noValidationErrors } from '../support/gpu.ts';
import { SHARED_LM, expectMatches, loadLmFixture } from '../support/lm-fixtures.ts';
import { randomSae } from '../support/random-sae.ts';

const HOOK = 'blocks.1.hook_resid_pre';

/** x rewritten as the spliced model does, in float64: rows holding a special token are left alone */
function splice64(sae: SaeWeights, ids: readonly number[], special: number[], o: { errorTerm: boolean; clamp?: { feature: number; value: number }[]; steer?: { feature: number; alpha: number }[] }) {
  return (a: Float64Array) => {
    const { d, features: F } = sae;
    const f = saeActivations64(sae, a);
    for (let r = 0; r < ids.length; r++) {
      if (special.includes(ids[r]!)) {
        for (const s of o.steer ?? []) for (let j = 0; j < d; j++) a[r * d + j] += s.alpha * sae.W_dec[s.feature * d + j]!;
        continue;
      }
      const g = f.slice(r * F, (r + 1) * F);
      for (const c of o.clamp ?? []) g[c.feature] = c.value;
      for (let j = 0; j < d; j++) {
        let hat = sae.b_dec[j]!;
        let hatClean = sae.b_dec[j]!;
        for (let i = 0; i < F; i++) {
          hat += g[i]! * sae.W_dec[i * d + j]!;
          hatClean += f[r * F + i]! * sae.W_dec[i * d + j]!;
        }
        let v = o.errorTerm ? a[r * d + j]! + hat - hatClean : hat;
        for (const s of o.steer ?? []) v += s.alpha * sae.W_dec[s.feature * d + j]!;
        a[r * d + j] = v;
      }
    }
  };
}

describe.each([
  ['gpt2-tiny', 'standard'],
  ['llama-tiny', 'topk'],
] as const)('an SAE spliced into %s (%s)', (model, arch) => {
  it('matches the float64 model with the SAE applied at the hook, and keeps the clean logits with its error term', async () => {
    const device = await getDevice();
    const f = await loadLmFixture(`${SHARED_LM}/${model}`);
    const c = f.plan.config;
    const sae = randomSae(c.d, 37, arch, 5, { hook_name: HOOK, model_name: model });
    const lm = LanguageModel.create(device, c, f.weights, model);
    const special = [c.bosTokenId!, ...c.eosTokenIds];
    const ids = [c.bosTokenId!, ...f.prompts.ids[0]!.filter((id) => !special.includes(id))];
    const splice = new SaeSplice(device, sae, ids.length, special);
    const acts = saeActivations64(sae, referenceForward(c, f.weights, ids, { read: [HOOK] }).hooks.get(HOOK)!);
    const on = [...Array(sae.features).keys()].find((i) => acts[sae.features + i]! > 0)!;
    const run = (o: Parameters<SaeSplice['edit']>[0]) => lm.forward({ ids, edits: new Map([[HOOK, splice.edit(o)]]) });
    await noValidationErrors(device, async () => {
      const clean = await lm.forward({ ids });
      expect((await run({ errorTerm: true })).logits).toEqual(clean.logits);
      const cases = [
        { errorTerm: false },
        { errorTerm: false, clamp: [{ feature: on, value: 3 }, { feature: sae.features - 1, value: 2 }] },
        { errorTerm: true, clamp: [{ feature: on, value: 0 }] },
        { errorTerm: true, steer: [{ feature: 2, alpha: 1.5 }], clamp: [{ feature: on, value: 5 }] },
      ];
      for (const o of cases) {
        const want = referenceForward(c, f.weights, ids, { edit: new Map([[HOOK, splice64(sae, ids, special, o)]]) }).logits;
        const got = (await run(o)).logits!;
        expectMatches(got, want, JSON.stringify(o));
        expect(got).not.toEqual(clean.logits);
      }
      // steering with the error term is the model's own vector addition, bit for bit
      const alpha = 2.5;
      const vector = sae.W_dec.slice(3 * c.d, 4 * c.d).map((v) => alpha * v);
      const added = await lm.forward({ ids, edits: new Map([[HOOK, { kind: 'add', vector }]]) });
      expect((await run({ errorTerm: true, steer: [{ feature: 3, alpha }] })).logits).toEqual(added.logits);
      // zero ablation: the hook's activation replaced by zeros everywhere
      const zero = referenceForward(c, f.weights, ids, { edit: new Map([[HOOK, (a: Float64Array) => a.fill(0)]]) }).logits;
      expectMatches((await lm.forward({ ids, edits: new Map([[HOOK, fillEdit(device, new Float32Array(c.d))]]) })).logits!, zero, 'zero ablation');
    });
    splice.destroy();
    lm.destroy();
  });
});

describe('an SAE checked against a model', () => {
  it('refuses widths and hooks that do not match, naming both, and warns about another model', async () => {
    const f = await loadLmFixture(`${SHARED_LM}/llama-tiny`);
    const c = f.plan.config;
    const sae = randomSae(c.d, 16, 'standard', 1, { hook_name: HOOK, model_name: 'gpt2-tiny' });
    expect(checkSaeForModel(sae, 'my-sae', c, 'llama-tiny')).toEqual({ hook: HOOK, warning: "my-sae was trained on gpt2-tiny's activations, not llama-tiny's" });
    expect(checkSaeForModel({ ...sae, metadata: { hook_name: HOOK, model_name: 'llama-tiny' } }, 'my-sae', c, 'llama-tiny').warning).toBeUndefined();
    expect(() => checkSaeForModel(sae, 'my-sae', c, 'llama-tiny', 'blocks.0.hook_mlp_out')).toThrow('my-sae was trained at blocks.1.hook_resid_pre, not at blocks.0.hook_mlp_out');
    expect(() => checkSaeForModel(randomSae(c.d + 1, 16, 'standard', 1, { hook_name: HOOK }), 'wide', c, 'llama-tiny')).toThrow(`wide reads activations of width d_in=${c.d + 1}; llama-tiny has d=${c.d} at ${HOOK}`);
    expect(() => checkSaeForModel({ ...sae, metadata: {} }, 'bare', c, 'llama-tiny')).toThrow('bare: its cfg.json names no hook_name');
    expect(() => checkSaeForModel({ ...sae, metadata: { hook_name: 'blocks.9.hook_resid_pre' } }, 'deep', c, 'llama-tiny')).toThrow("hook 'blocks.9.hook_resid_pre': the model has");
  });
});
