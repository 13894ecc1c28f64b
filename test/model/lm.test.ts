// The GPU forward pass (src/model/lm.ts, the code the page and the CLI run) against Hugging Face
// transformers' outputs for every fixture model: every hook of both prompts, the logits, the steered logits,
// the greedy continuation through the key/value cache, and both prompts as one batch.
import { describe, expect, it } from 'vitest';
import { basename } from 'node:path';
import { LanguageModel } from '../../src/model/lm.ts';
import { generate } from '../../src/model/generate.ts';
import { hookNames } from '../../src/model/hooks.ts';
import { getDevice, noValidationErrors } from '../support/gpu.ts';
import { expectMatches, lmFixtureDirs, loadLmFixture } from '../support/lm-fixtures.ts';

describe('GPU language model against transformers', () => {
  for (const dir of lmFixtureDirs()) {
    it(basename(dir), async () => {
      const device = await getDevice();
      const f = await loadLmFixture(dir);
      const c = f.plan.config;
      const lm = LanguageModel.create(device, c, f.weights, basename(dir));
      const hooks = hookNames(c);
      await noValidationErrors(device, async () => {
        for (let p = 0; p < f.prompts.ids.length; p++) {
          const out = await lm.forward({ ids: f.prompts.ids[p], read: hooks });
          for (const name of hooks) expectMatches(out.hooks.get(name)!, (await f.expected(`P${p}.${name}.npy`)).data, `P${p} ${name}`);
          expectMatches(out.logits!, (await f.expected(`P${p}.logits.npy`)).data, `P${p} logits`);
        }
        const steered = await lm.forward({ ids: f.prompts.ids[0], edits: new Map([[f.prompts.steer.hook, { kind: 'add', vector: await f.steerVector() }]]) });
        expectMatches(steered.logits!, (await f.expected('steer.logits.npy')).data, 'steered logits');
        const ids = await generate(lm, f.greedy.prompt_ids, { tokens: f.greedy.new_ids.length });
        expect(ids).toEqual(f.greedy.new_ids);
      });
      // without logits the pass stops at the last hook read, and that hook is as in the full pass
      const early = hooks[1];
      const cut = await lm.forward({ ids: f.prompts.ids[0], read: [early], logits: 'none' });
      expect(cut.logits).toBeUndefined();
      expectMatches(cut.hooks.get(early)!, (await f.expected(`P0.${early}.npy`)).data, `P0 ${early} alone`);
      // both prompts as one batch (cut to the shorter one's length): each sequence's rows as alone
      const T = Math.min(...f.prompts.ids.map((p) => p.length));
      const both = await lm.forward({ ids: [...f.prompts.ids[0].slice(0, T), ...f.prompts.ids[1].slice(0, T)], batch: 2, read: [hooks[hooks.length - 1]] });
      for (let p = 0; p < 2; p++) {
        const alone = await lm.forward({ ids: f.prompts.ids[p].slice(0, T), read: [hooks[hooks.length - 1]] });
        expect(both.logits!.subarray(p * T * c.vocab, (p + 1) * T * c.vocab)).toEqual(alone.logits);
      }
      lm.destroy();
    });
  }
});
