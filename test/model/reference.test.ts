// The float64 reference forward pass against Hugging Face transformers' own outputs: every hook of both
// prompts, the logits, and the steered logits, for every fixture model.
import { describe, it } from 'vitest';
import { basename } from 'node:path';
import { referenceForward } from '../../src/reference/transformer.ts';
import { hookNames } from '../../src/model/hooks.ts';
import { expectMatches, lmFixtureDirs, loadLmFixture } from '../support/lm-fixtures.ts';

describe('reference transformer against transformers', () => {
  for (const dir of lmFixtureDirs()) {
    it(basename(dir), async () => {
      const f = await loadLmFixture(dir);
      const c = f.plan.config;
      for (let p = 0; p < f.prompts.ids.length; p++) {
        const out = referenceForward(c, f.weights, f.prompts.ids[p], { read: hookNames(c) });
        for (const name of hookNames(c)) expectMatches(out.hooks.get(name)!, (await f.expected(`P${p}.${name}.npy`)).data, `P${p} ${name}`);
        expectMatches(out.logits, (await f.expected(`P${p}.logits.npy`)).data, `P${p} logits`);
      }
      const vec = await f.steerVector();
      const steered = referenceForward(c, f.weights, f.prompts.ids[0], { add: new Map([[f.prompts.steer.hook, vec]]) });
      expectMatches(steered.logits, (await f.expected('steer.logits.npy')).data, 'steered logits');
    });
  }
});
