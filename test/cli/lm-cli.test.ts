// sae-lab forward and generate on the fixture models, checked against transformers' outputs through the
// files they write; and every kind of bad model folder refused with one line naming the file and the
// problem, before anything is allocated, with nothing written.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openNpy } from '../../src/data/formats/npy.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { expectRefused, runCli, runCliAsync } from '../support/cli.ts';
import { GPT2, LLAMA, badModelFolders } from '../support/bad-models.ts';
import { expectMatches } from '../support/lm-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'sae-lab-lm-cli-'));
const cli = (...args: string[]) => runCli(dir, ...args);

async function npy(path: string): Promise<Float32Array> {
  const src = await openNpy(memorySource(new Uint8Array(readFileSync(path)), path));
  return src.readRows(0, src.rows);
}

describe('sae-lab forward and generate', () => {
  for (const model of [GPT2, LLAMA]) {
    it(`forward writes transformers' hooks and logits, and steered logits (${model.split('/').pop()})`, async () => {
      const prompts = JSON.parse(readFileSync(join(model, 'expected/prompts.json'), 'utf8'));
      const r = cli('forward', '--model', model, '--text', prompts.prompts[1], '--hooks', 'all', '--out', 'fw');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(readFileSync(join(dir, 'fw/ids.json'), 'utf8'))).toEqual(prompts.ids[1]);
      expectMatches(await npy(join(dir, 'fw/logits.npy')), await npy(join(model, 'expected/P1.logits.npy')), 'logits');
      for (const h of ['blocks.0.hook_resid_pre', 'blocks.1.hook_mlp_out', 'blocks.1.hook_resid_post']) {
        expectMatches(await npy(join(dir, `fw/${h}.npy`)), await npy(join(model, `expected/P1.${h}.npy`)), h);
      }
      const s = cli('forward', '--model', model, '--ids', prompts.ids[0].join(','), '--add', `${prompts.steer.hook}=${join(model, 'expected/steer.vec.npy')}`, '--out', 'steer');
      expect(s.code, s.stderr).toBe(0);
      expectMatches(await npy(join(dir, 'steer/logits.npy')), await npy(join(model, 'expected/steer.logits.npy')), 'steered logits');
      expect(existsSync(join(dir, 'steer/blocks.0.hook_resid_post.npy'))).toBe(false);
      rmSync(join(dir, 'fw'), { recursive: true });
      rmSync(join(dir, 'steer'), { recursive: true });
    });

    it(`generate continues greedily as transformers does (${model.split('/').pop()})`, async () => {
      const g = JSON.parse(readFileSync(join(model, 'expected/greedy.json'), 'utf8'));
      const r = cli('generate', '--model', model, '--ids', g.prompt_ids.join(','), '--tokens', String(g.new_ids.length), '--greedy');
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.ids).toEqual(g.new_ids);
      expect(typeof out.text).toBe('string');
      // sampling: the same seed gives the same ids, another seed (almost surely) others
      const sample = (seed: string) => runCliAsync(dir, 'generate', '--model', model, '--text', 'The quick', '--tokens', '12', '--seed', seed, '--temperature', '1.5');
      const [a, b, c] = (await Promise.all(['7', '7', '8'].map(sample))).map((x) => JSON.parse(x.stdout));
      expect(a.ids).toEqual(b.ids);
      expect(a.ids).not.toEqual(c.ids);
    });
  }
});

// independent refusals, each its own process: side by side
describe.concurrent('bad model folders are refused with the file and the problem, and nothing is written', () => {
  for (const bad of badModelFolders(join(dir, 'bad'))) {
    it(`${bad.kind}: ${basename(bad.dir)}`, async () => {
      expectRefused(await runCliAsync(dir, 'forward', '--model', bad.dir, '--ids', '1,2,3', '--out', 'never'), ...bad.fragments);
      expect(existsSync(join(dir, 'never'))).toBe(false);
    });
  }
});
