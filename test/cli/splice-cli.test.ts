// An SAE spliced into a model from the command line: `eval --model`'s CE loss and KL scores against the same
// numbers computed here, independently, from the logits `forward` dumps (clean, with --sae, with --ablate);
// steering through --sae equal to --add with α·W_dec,i; a clamped generation; and SAEs that do not fit the
// model refused with both sides named.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, openNpy } from '../../src/data/formats/npy.ts';
import { encodeSaelens } from '../../src/data/formats/saelens.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { openModel } from '../../src/model/folder.ts';
import { nodeModelFiles } from '../../src/model/node-files.ts';
import { expectRefused, runCli } from '../support/cli.ts';
import { GPT2 } from '../support/bad-models.ts';
import { randomSae } from '../support/random-sae.ts';

const dir = mkdtempSync(join(tmpdir(), 'sae-lab-splice-cli-'));
const cli = (...args: string[]) => runCli(dir, ...args);
const HOOK = 'blocks.1.hook_resid_pre';
const TEXT = 'The jury said the city was on fire, and the man who ran it said that the fire was out.';

async function logits(out: string): Promise<{ data: Float32Array; vocab: number }> {
  const path = join(dir, out, 'logits.npy');
  const src = await openNpy(memorySource(new Uint8Array(readFileSync(path)), path));
  return { data: await src.readRows(0, src.rows), vocab: src.d };
}

function logSoftmax(row: Float32Array): number[] {
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
  return Array.from(row, (v) => v - lse);
}

function saeFolder(name: string, sae: ReturnType<typeof randomSae>): string {
  const files = encodeSaelens(sae, undefined);
  const out = join(dir, name);
  mkdirSync(out);
  for (const [f, data] of Object.entries(files)) writeFileSync(join(out, f), data);
  return out;
}

describe('an SAE spliced in from the command line', () => {
  it('eval --model gives the CE loss and KL scores the dumped logits give', async () => {
    const files = nodeModelFiles(GPT2);
    const plan = await openModel(files);
    await files.close();
    const c = plan.config;
    const ids = [c.bosTokenId!, ...plan.tokenizer.encodeRaw(TEXT)];
    writeFileSync(join(dir, 'text.txt'), TEXT + '\n');
    const sae = randomSae(c.d, 40, 'standard', 9, { hook_name: HOOK, model_name: 'gpt2-tiny' });
    const saeDir = saeFolder('sae', sae);

    const r = cli('eval', '--sae', saeDir, '--model', GPT2, '--text', 'text.txt', '--context', String(ids.length), '--tokens', '1000');
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.tokens).toBe(ids.length - 1);
    expect(got.hook).toBe(HOOK);
    expect(JSON.parse(readFileSync(join(saeDir, 'metrics.json'), 'utf8')).model_fidelity.ce_loss_score).toBe(got.ce_loss_score);

    for (const [out, ...extra] of [['clean'], ['spliced', '--sae', saeDir], ['zero', '--ablate', HOOK]]) {
      const f = cli('forward', '--model', GPT2, '--ids', ids.join(','), '--out', out!, ...extra);
      expect(f.code, f.stderr).toBe(0);
    }
    const [clean, spliced, zero] = [await logits('clean'), await logits('spliced'), await logits('zero')];
    const V = clean.vocab;
    const ce = { clean: 0, sae: 0, zero: 0 };
    const kl = { sae: 0, zero: 0 };
    for (let t = 0; t + 1 < ids.length; t++) {
      const row = (l: { data: Float32Array }) => logSoftmax(l.data.subarray(t * V, (t + 1) * V));
      const p = row(clean);
      const q = { sae: row(spliced), zero: row(zero) };
      ce.clean -= p[ids[t + 1]!]!;
      for (const k of ['sae', 'zero'] as const) {
        ce[k] -= q[k][ids[t + 1]!]!;
        kl[k] += p.reduce((s, lp, v) => s + Math.exp(lp) * (lp - q[k][v]!), 0);
      }
    }
    const n = ids.length - 1;
    expect(got.ce_loss_without_sae).toBeCloseTo(ce.clean / n, 4);
    expect(got.ce_loss_with_sae).toBeCloseTo(ce.sae / n, 4);
    expect(Math.abs(got.ce_loss_score - (ce.zero - ce.sae) / (ce.zero - ce.clean))).toBeLessThan(1e-3);
    expect(Math.abs(got.kl_div_score - (kl.zero - kl.sae) / kl.zero)).toBeLessThan(1e-3);
    expect(got.ce_loss_with_sae).toBeGreaterThan(got.ce_loss_without_sae);
    expect(got.kl_div_with_mean_ablation).toBeGreaterThan(0);

    // steering through the SAE is adding alpha·W_dec,i at its hook
    writeFileSync(join(dir, 'vec.npy'), encodeNpy(sae.W_dec.slice(5 * c.d, 6 * c.d).map((x) => 2 * x), [c.d]));
    for (const [out, ...extra] of [['steer', '--sae', saeDir, '--error-term', '--steer', '5=2'], ['add', '--add', `${HOOK}=vec.npy`]]) {
      const f = cli('forward', '--model', GPT2, '--ids', ids.join(','), '--out', out!, ...extra);
      expect(f.code, f.stderr).toBe(0);
    }
    expect((await logits('steer')).data).toEqual((await logits('add')).data);

    // a clamped generation runs and differs from the clean one; the same SAE on another model warns
    const plain = JSON.parse(cli('generate', '--model', GPT2, '--text', 'The jury', '--tokens', '8', '--greedy').stdout);
    const clamped = cli('generate', '--model', GPT2, '--text', 'The jury', '--tokens', '8', '--greedy', '--sae', saeDir, '--clamp', '0=40');
    expect(clamped.code, clamped.stderr).toBe(0);
    expect(JSON.parse(clamped.stdout).ids).not.toEqual(plain.ids);
    expect(clamped.stderr).toBe('');

    // the feature tools print what they found as JSON
    const run = (...args: string[]) => {
      const r = cli(...args, '--model', GPT2, '--sae', saeDir);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const att = run('attribute', '--text', TEXT, '--target', `#${ids[4]}`, '--top', '5');
    expect(att.target.id).toBe(ids[4]);
    expect(att.contributions.length).toBeLessThanOrEqual(5);
    expect(att.contributions.every((c: { position: number }) => c.position > 0 && c.position < att.tokens.length)).toBe(true);
    const eff = run('effects', '--feature', '0,1', '--text', 'text.txt', '--tokens', '64', '--context', '16');
    expect(eff.features.map((f: { feature: number }) => f.feature)).toEqual([0, 1]);
    expect(eff.features[0].logit_effects.promoted).toHaveLength(10);
    expect(eff.features[0].on_text.tokens).toBeGreaterThan(10);
    const con = run('concept', '--for', 'The jury said it', '--for', 'the city was on fire', '--against', 'and the man who ran it', '--top', '3');
    expect(con.features).toHaveLength(3);
    expect(con.tokens.for).toBeGreaterThan(5);
  }, 240_000);

  it('refuses an SAE that does not fit the model, naming both', () => {
    const wide = saeFolder('wide', randomSae(65, 16, 'standard', 1, { hook_name: HOOK }));
    expectRefused(cli('forward', '--model', GPT2, '--text', 'a', '--sae', wide, '--out', 'x'), wide, 'd_in=65', 'gpt2-tiny has d=');
    const elsewhere = saeFolder('elsewhere', randomSae(64, 16, 'standard', 1, { hook_name: 'blocks.7.hook_mlp_out' }));
    expectRefused(cli('eval', '--sae', elsewhere, '--model', GPT2), "hook 'blocks.7.hook_mlp_out'");
    expectRefused(cli('generate', '--model', GPT2, '--text', 'a', '--tokens', '2', '--steer', '1=2'), '--steer needs --sae');
    // an SAE whose cfg.json names no hook is spliced in where --hook says
    const bare = saeFolder('bare', randomSae(64, 16, 'standard', 1));
    expectRefused(cli('forward', '--model', GPT2, '--text', 'a', '--sae', bare, '--out', 'x'), 'names no hook_name');
    const r = cli('forward', '--model', GPT2, '--text', 'a b', '--sae', bare, '--hook', HOOK, '--out', 'bare-out');
    expect(r.code, r.stderr).toBe(0);
  });
});
