// The language-model harvest (src/model/harvest.ts, what the CLI and the page run): the rows it keeps are the
// model's activations at the hook for one-document sequences with a BOS first, checked against the float64
// reference run on each sequence alone; the context says where each row came from; corpus order and splits.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseBrownDocument } from '../../src/data/harvest/brown.ts';
import { brownText, builtinDocuments, codeDocument, isHeldOut, plainDocuments, type CorpusReader, type LmDocument } from '../../src/model/corpus.ts';
import { harvestModel } from '../../src/model/harvest.ts';
import { tokenizeDocument, type LmTokenRow } from '../../src/model/sequences.ts';
import { LanguageModel } from '../../src/model/lm.ts';
import { referenceForward } from '../../src/reference/transformer.ts';
import { getDevice } from '../support/gpu.ts';
import { expectMatches, loadLmFixture, SHARED_LM } from '../support/lm-fixtures.ts';

const HOOK = 'blocks.1.hook_resid_mid';

const BROWN = [
  "\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, and/cc it's/pps+bez over/rp ./.",
  '',
  '\tIt/pps (/( was/bedz )/) fine/jj ./.',
].join('\n');

describe('corpus text', () => {
  it('writes Brown words back as prose with each word at its span', () => {
    const doc = brownText(parseBrownDocument('ca01', BROWN));
    expect(doc.text).toBe('The jury said "no evidence", and it\'s over. It (was) fine.');
    for (const w of doc.words) expect(doc.text.slice(w.start, w.end).length).toBe(w.end - w.start);
    expect(doc.words.map((w) => doc.text.slice(w.start, w.end))).toEqual(['The', 'jury', 'said', '"', 'no', 'evidence', '"', ',', 'and', "it's", 'over', '.', 'It', '(', 'was', ')', 'fine', '.']);
    expect(doc.words[9]).toMatchObject({ tag: 'pps+bez', upos: 'PRT', sentence: 0 });
    expect(doc.words[12].sentence).toBe(1);
  });

  it('interleaves prose and code in proportion and keeps the held-out documents apart', async () => {
    const doc = (kind: 'prose' | 'code', i: number): LmDocument => ({ name: `${kind}${i}`, kind, text: 'x', words: [] });
    const reader: CorpusReader = { proseCount: 45, codeCount: 12, prose: async (i) => doc('prose', i), code: async (i) => doc('code', i) };
    const names = async (split: 'train' | 'heldout' | 'all') => {
      const out: string[] = [];
      for await (const d of builtinDocuments(reader, split)) out.push(d.name);
      return out;
    };
    const all = await names('all');
    expect(all).toHaveLength(57);
    expect(new Set(all).size).toBe(57);
    // every prefix holds the two kinds in about the corpus's ratio
    const codeIn = (n: number) => all.slice(0, n).filter((s) => s.startsWith('code')).length;
    for (const n of [10, 20, 40]) expect(Math.abs(codeIn(n) - (n * 12) / 57)).toBeLessThanOrEqual(1.5);
    const held = await names('heldout');
    expect(held.sort()).toEqual(['code9', 'prose19', 'prose39']);
    expect((await names('train')).some((n) => held.includes(n))).toBe(false);
    expect(isHeldOut('prose', 19) && isHeldOut('code', 9) && !isHeldOut('prose', 0)).toBe(true);
  });

  it('reads typed text as one document per paragraph', () => {
    expect(plainDocuments('One. Two.\n\n  \nThree\r\n\r\nFour', 'mine').map((d) => [d.name, d.text])).toEqual([
      ['mine ¶1', 'One. Two.'],
      ['mine ¶2', 'Three'],
      ['mine ¶3', 'Four'],
    ]);
  });
});

describe('harvest from a language model', async () => {
  const f = await loadLmFixture(join(SHARED_LM, 'gpt2-tiny'));
  const c = f.plan.config;
  const tok = f.plan.tokenizer;
  const docs = [
    brownText(parseBrownDocument('ca01', BROWN)),
    codeDocument('lib/a.ts', 'export function f(x: number): string {\n  throw new Error(`bad ${x}`);\n}\n'),
    ...plainDocuments('A short one.\n\nAnd a second paragraph that runs on for a while longer than the others do.', 'typed'),
  ];

  it('tags each token with the word it starts in', () => {
    const t = tokenizeDocument(tok, docs[0], 0);
    expect(t.ids).toEqual(tok.encodeRaw(docs[0].text));
    expect(t.rows.map((r) => r.token).join('')).toBe(docs[0].text);
    // every token that begins inside a word carries that word's tags
    const text = docs[0].text;
    let at = 0;
    for (const r of t.rows) {
      const first = at + r.token.length - r.token.trimStart().length;
      const word = docs[0].words.find((w) => w.start <= first && first < w.end);
      expect([r.tag, r.upos, r.kind], `'${r.token}' at ${at}`).toEqual([word?.tag ?? '', word?.upos ?? 'X', 'prose']);
      at += r.token.length;
    }
    expect(at).toBe(text.length);
    expect(t.rows.filter((r) => r.tag === 'nn').length).toBeGreaterThanOrEqual(2); // jury, evidence
    expect(tokenizeDocument(tok, docs[1], 1).rows.every((r) => r.kind === 'code' && r.upos === undefined)).toBe(true);
  });

  it('keeps the hook rows of one-document sequences with a BOS first, as the reference computes them', async () => {
    expect(c.bosTokenId).not.toBeNull();
    const device = await getDevice();
    const lm = LanguageModel.create(device, c, f.weights, 'gpt2-tiny', 3, 12);
    const context = 9;
    const chunks: { rows: Float32Array; context: LmTokenRow[] }[] = [];
    const summary = await harvestModel(lm, tok, docs, { hook: HOOK, tokens: 10_000, context, batch: 3 }, (ch) => void chunks.push(ch));
    const rows = chunks.flatMap((ch) => ch.context);
    const acts = new Float32Array(chunks.reduce((n, ch) => n + ch.rows.length, 0));
    chunks.reduce((at, ch) => (acts.set(ch.rows, at), at + ch.rows.length), 0);

    // every token of every document, once, in order; no BOS row, no padding row
    const all = docs.map((d, i) => tokenizeDocument(tok, d, i).ids);
    expect(rows.map((r) => r.id)).toEqual(all.flat());
    expect(summary).toMatchObject({ rows: rows.length, d: c.d, context, prependBos: true, exhausted: true, documents: docs.map((d) => d.name) });
    expect(summary.sequences).toBe(all.reduce((n, ids) => n + Math.ceil(ids.length / (context - 1)), 0));
    // each sequence run alone by the float64 reference gives its rows
    for (let s = 0; s < summary.sequences; s++) {
      const at = rows.findIndex((r) => r.sentence === s);
      const seq = rows.filter((r) => r.sentence === s);
      expect(seq.map((r) => r.pos)).toEqual(seq.map((_, i) => i + 1));
      expect(new Set(seq.map((r) => r.doc)).size).toBe(1);
      const ref = referenceForward(c, f.weights, [c.bosTokenId!, ...seq.map((r) => r.id)], { read: [HOOK] }).hooks.get(HOOK)!;
      expectMatches(acts.subarray(at * c.d, (at + seq.length) * c.d), ref.subarray(c.d), `sequence ${s}`);
    }
    lm.destroy();
  });

  it('stops at the tokens asked for, and when cancelled', async () => {
    const device = await getDevice();
    const lm = LanguageModel.create(device, c, f.weights, 'gpt2-tiny', 2, 16);
    let n = 0;
    const s = await harvestModel(lm, tok, docs, { hook: HOOK, tokens: 17, context: 16, batch: 2 }, (ch) => void (n += ch.context.length));
    expect([n, s.rows, s.exhausted]).toEqual([17, 17, false]);
    const stop = new AbortController();
    stop.abort(new Error('cancelled by the user'));
    await expect(harvestModel(lm, tok, docs, { hook: HOOK, tokens: 100, context: 16, batch: 2, signal: stop.signal }, () => {})).rejects.toThrow('cancelled by the user');
    await expect(harvestModel(lm, tok, docs, { hook: 'blocks.9.hook_resid_pre', tokens: 100, context: 16, batch: 2 }, () => {})).rejects.toThrow(/blocks\.9/);
    await expect(harvestModel(lm, tok, docs, { hook: HOOK, tokens: 100, context: c.maxPositions + 1, batch: 2 }, () => {})).rejects.toThrow(/context/);
    lm.destroy();
  });
});
