// sae-lab harvest --model (and perplexity, on the same sequences): a hook of a model over the built-in corpus or a text file, into files that
// `sae-lab train` reads, and an SAE whose cfg.json names the model, hook, context and BOS as SAELens does;
// bad input refused in one line with nothing written.
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openNpy } from '../../src/data/formats/npy.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { expectRefused, runCli, runCliAsync } from '../support/cli.ts';
import { SHARED_LM, expectMatches } from '../support/lm-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'sae-lab-lm-harvest-'));
const cli = (...args: string[]) => runCli(dir, ...args);
const LLAMA = join(SHARED_LM, 'llama-tiny');
const HOOK = 'blocks.0.hook_resid_post';

async function npy(path: string) {
  const src = await openNpy(memorySource(new Uint8Array(readFileSync(path)), path));
  return { rows: src.rows, d: src.d, data: await src.readRows(0, src.rows) };
}

describe('sae-lab harvest --model', () => {
  it('harvests the built-in corpus, and an SAE trained on it records its provenance', async () => {
    const r = cli('harvest', '--model', LLAMA, '--hook', HOOK, '--tokens', '600', '--context', '24', '--batch', '4', '--out', 'h');
    expect(r.code, r.stderr).toBe(0);
    const acts = await npy(join(dir, 'h/activations.npy'));
    const lines = readFileSync(join(dir, 'h/tokens.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect([acts.rows, lines.length]).toEqual([600, 600]);
    const info = JSON.parse(readFileSync(join(dir, 'h/harvest.json'), 'utf8'));
    expect(info.saelens).toEqual({ model_name: 'llama-tiny', hook_name: HOOK, context_size: 24, prepend_bos: true });
    expect(info.corpus.documents[0]).toBe('ca01');
    expect(lines[0]).toMatchObject({ doc: 0, sentence: 0, pos: 1, kind: 'prose' });
    expect(lines.every((l) => l.pos >= 1 && l.pos <= 23)).toBe(true);

    // the second sequence's rows are what `sae-lab forward` gives for BOS + its ids
    const seq = lines.filter((l) => l.sentence === 1);
    const at = lines.indexOf(seq[0]);
    const f = cli('forward', '--model', LLAMA, '--ids', [info.sequences.bos_token_id, ...seq.map((l) => l.id)].join(','), '--hooks', HOOK, '--out', 'fw');
    expect(f.code, f.stderr).toBe(0);
    const want = (await npy(join(dir, `fw/${HOOK}.npy`))).data.subarray(acts.d);
    expectMatches(acts.data.subarray(at * acts.d, (at + seq.length) * acts.d), want, 'sequence 1');

    const t = cli('train', '--data', 'h/activations.npy', '--features', '32', '--steps', '5', '--no-tune', '--out', 'sae');
    expect(t.code, t.stderr).toBe(0);
    const meta = JSON.parse(readFileSync(join(dir, 'sae/cfg.json'), 'utf8')).metadata;
    expect(meta).toMatchObject({ model_name: 'llama-tiny', hook_name: HOOK, context_size: 24, prepend_bos: true });
  });

  it('harvests a text file, one document per paragraph', async () => {
    writeFileSync(join(dir, 'mine.txt'), 'The cat sat.\n\nThe dog ran far away from home.\n');
    const r = cli('harvest', '--model', LLAMA, '--hook', 'blocks.1.hook_mlp_out', '--tokens', '1000', '--text', 'mine.txt', '--out', 't');
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(join(dir, 't/tokens.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(new Set(lines.map((l) => l.doc))).toEqual(new Set([0, 1]));
    const info = JSON.parse(readFileSync(join(dir, 't/harvest.json'), 'utf8'));
    expect(info.corpus).toMatchObject({ name: 'mine.txt', documents: ['mine.txt ¶1', 'mine.txt ¶2'], exhausted: true });
    expect((await npy(join(dir, 't/activations.npy'))).rows).toBe(lines.length);
  });

  it('sae-lab perplexity measures the same sequences and prints JSON', () => {
    const r = cli('perplexity', '--model', LLAMA, '--text', 'mine.txt', '--context', '8');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ model: 'llama-tiny', sequences: { context_size: 8, prepend_bos: true }, corpus: { name: 'mine.txt', documents: ['mine.txt ¶1', 'mine.txt ¶2'] } });
    expect(out.perplexity).toBeCloseTo(Math.exp(out.cross_entropy), 6);
    expect(out.by_kind.prose.tokens).toBe(out.tokens);
    expectRefused(cli('perplexity', '--model', LLAMA, '--split', 'dev'), '--split');
  });

  it('refuses bad input in one line, writing nothing', async () => {
    writeFileSync(join(dir, 'bad.txt'), Buffer.from([0xff, 0xfe, 0x41]));
    const before = readdirSync(dir).sort();
    // independent refusals, each its own process: side by side
    const cases: [string[], string[]][] = [
      [['--model', LLAMA, '--hook', 'blocks.7.hook_resid_pre', '--tokens', '10'], ['--hook', 'blocks.7']],
      [['--model', LLAMA, '--hook', 'blocks.0.hook_q', '--tokens', '10'], ['hook_q']],
      [['--model', LLAMA, '--hook', HOOK, '--tokens', '10', '--context', '100000'], ['--context', 'positions']],
      [['--model', LLAMA, '--hook', HOOK, '--tokens', '10', '--text', 'nope.txt'], ['nope.txt']],
      [['--model', LLAMA, '--hook', HOOK, '--tokens', '10', '--text', 'bad.txt'], ['bad.txt', 'UTF-8']],
      [['--model', join(dir, 'no-model'), '--hook', HOOK, '--tokens', '10'], ['no-model', 'not a folder']],
      [['--model', LLAMA, '--hook', HOOK, '--tokens', '10', '--split', 'test'], ['--split']],
    ];
    const results = await Promise.all(cases.map(([args]) => runCliAsync(dir, 'harvest', ...args, '--out', 'x')));
    results.forEach((r, i) => expectRefused(r, ...cases[i]![1]));
    expect(existsSync(join(dir, 'x'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
