// Harvest: the tokenizer against the model package's own, Brown parsing and the tag collapse on the real
// corpus files, and the model run on a few sentences (shapes, finite values, padding dropped, batching
// and sorting changing nothing but rounding, the sentence embedding matching the package's embed()).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { baseBrownTag, BROWN_UNIVERSAL, COMPOUND_UNIVERSAL, parseBrownDocument, parseBrownToken, universalTag } from '../../src/data/harvest/brown.ts';
import { embedSentences, harvestLayer, harvestLayerSorted, LAYER_NODES, runNodes, tokenRows, type UseLite } from '../../src/data/harvest/model.ts';
import { brownCorpusDir, listBrownDocuments, readBrownDocuments } from '../../src/data/harvest/node-brown.ts';
import { loadNodeUseLite, modelDir } from '../../src/data/harvest/node-model.ts';
import { harvestCorpus, modelText, toTokenContext, type HarvestChunk } from '../../src/data/harvest/pipeline.ts';
import { SentencePieceTokenizer, type Vocabulary } from '../../src/data/harvest/tokenizer.ts';

const require = createRequire(import.meta.url);
const vocab = JSON.parse(readFileSync(join(modelDir(), 'vocab.json'), 'utf8')) as Vocabulary;

/** the tokenizer inside @energetic-ai/embeddings (the package exports it only as EmbeddingsModel.tokenizer) */
function packageTokenizer(): { encode(text: string): number[] } {
  const { EmbeddingsModel } = require('@energetic-ai/embeddings');
  return new EmbeddingsModel({ vocabulary: vocab, model: null }).tokenizer;
}

const ca01 = readFileSync(join(brownCorpusDir(), 'ca01'), 'latin1');

/** |a − b| ≤ tol · max(1, |a|) everywhere */
function maxRelDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i])));
  return worst;
}

describe('SentencePieceTokenizer', () => {
  const tok = new SentencePieceTokenizer(vocab);
  const pieces = (text: string) => tok.encode(text).map((id) => tok.pieceText(id));

  it('segments known strings', () => {
    expect(pieces('Hello world .')).toEqual(['▁H', 'ello', '▁world', '▁', '.']);
    expect(pieces('The jury said')).toEqual(['▁The', '▁jury', '▁said']);
    expect(tok.encode('')).toEqual([]);
  });

  it('gives the ids of the model package’s own tokenizer', () => {
    const ref = packageTokenizer();
    const texts = [
      ...parseBrownDocument('ca01', ca01).sentences.slice(0, 40).map((s) => s.map((w) => modelText(w.word)).join(' ')),
      'Hello  world', 'naïve café ﬁne Ⅻ ½', 'It costs $3:30 at 12:00 :) see http://x.org', '日本語のテキスト', '🙂 emoji 🙂🙂',
      'x'.repeat(40), '”5 ”5', "Atlanta's 1-1/2-story don't",
    ];
    for (const t of texts) expect(tok.encode(t), t).toEqual(ref.encode(t));
  });

  it('merges a run of unknown symbols into one unknown piece', () => {
    const ids = tok.encode('a 🙂🙂🙂 b');
    expect(ids.filter((id) => id === 0)).toHaveLength(1);
  });

  it('says which word each piece came from; a lone ▁ goes with the word after it', () => {
    const words = ['Atlanta\'s', 'election', '.'];
    const p = tok.encodeWords(words);
    expect(p.map((x) => x.id)).toEqual(tok.encode(words.join(' ')));
    expect(p.map((x) => `${x.text}@${x.word}`)).toEqual(['▁Atlanta@0', "'@0", 's@0', '▁election@1', '▁@2', '.@2']);
  });
});

describe('Brown corpus', () => {
  it('lists the 500 documents in order', async () => {
    const names = await listBrownDocuments();
    expect(names).toHaveLength(500);
    expect([names[0], names[1], names[499]]).toEqual(['ca01', 'ca02', 'cr09']);
  });

  it('parses real lines into sentences of word/tag', () => {
    const doc = parseBrownDocument('ca01', ca01);
    expect(doc.sentences.length).toBe(98);
    const first = doc.sentences[0];
    expect(first.slice(0, 4)).toEqual([
      { word: 'The', tag: 'at', upos: 'DET' },
      { word: 'Fulton', tag: 'np-tl', upos: 'NOUN' },
      { word: 'County', tag: 'nn-tl', upos: 'NOUN' },
      { word: 'Grand', tag: 'jj-tl', upos: 'ADJ' },
    ]);
    expect(first.find((w) => w.word === "Atlanta's")).toEqual({ word: "Atlanta's", tag: 'np$', upos: 'NOUN' });
    expect(first[first.length - 1]).toEqual({ word: '.', tag: '.', upos: '.' });
    expect(first.map((w) => w.word).join(' ')).toBe(
      "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced `` no evidence '' that any irregularities took place .",
    );
  });

  it('splits a token at its last slash', () => {
    expect(parseBrownToken('1-1/2/cd')).toEqual({ word: '1-1/2', tag: 'cd', upos: 'NUM' });
    expect(() => parseBrownToken('nothing')).toThrow("'nothing' is not a word/TAG token");
  });

  it('collapses suffixed, negated, compound and foreign tags', () => {
    const cases: [string, string, string][] = [
      ['nn-tl-hl', 'nn', 'NOUN'], ['np$', 'np$', 'NOUN'], ['---hl', '--', '.'], [':-tl', ':', '.'],
      ['bez*', 'bez', 'VERB'], ['md*-hl', 'md', 'VERB'], ['*', '*', 'ADV'], ['*-hl', '*', 'ADV'],
      ['ppss+bem', 'ppss+bem', 'PRT'], ['ppss+ber-n', 'ppss+ber', 'PRT'], ['wrb+dod*', 'wrb+dod', 'PRT'],
      ['vb+ppo', 'vb+ppo', 'VERB'], ['in+ppo', 'in+ppo', 'ADP'], ['wdt+ber+pp', 'wdt+ber+pp', 'X'],
      ['fw-in+at-tl', 'fw-in+at-tl', 'X'], ['fw-nn', 'fw-nn', 'X'], ['nil', 'nil', 'X'],
      ['pp$', 'pp$', 'DET'], ['pp$$', 'pp$$', 'PRON'], ['cs', 'cs', 'ADP'], ['od', 'od', 'ADJ'], ['to', 'to', 'PRT'],
    ];
    for (const [tag, base, upos] of cases) {
      expect(baseBrownTag(tag), tag).toBe(base);
      expect(universalTag(tag), tag).toBe(upos);
    }
    expect(universalTag('vb+nn')).toBe('VERB'); // a compound not in the table takes its first part's class
  });

  it('maps every tag of the whole corpus through the table, with NLTK’s universal counts', async () => {
    const counts: Record<string, number> = {};
    const unknown = new Set<string>();
    for await (const doc of readBrownDocuments()) {
      for (const s of doc.sentences) {
        for (const w of s) {
          counts[w.upos] = (counts[w.upos] ?? 0) + 1;
          const base = baseBrownTag(w.tag);
          if (!base.startsWith('fw-') && !(base in BROWN_UNIVERSAL) && !(base in COMPOUND_UNIVERSAL)) unknown.add(w.tag);
        }
      }
    }
    expect([...unknown]).toEqual([]);
    // brown.tagged_words(tagset='universal') in NLTK counts these
    expect(counts).toEqual({
      NOUN: 275558, VERB: 182750, '.': 147565, ADP: 144766, DET: 137019, ADJ: 83721,
      ADV: 56239, PRON: 49334, CONJ: 38151, PRT: 29829, NUM: 14874, X: 1386,
    });
  });
});

describe('tokenRows', () => {
  it('keeps positions < length from the padded layout and takes the packed one as it is', () => {
    // 2 sentences (lengths 1, 2), maxLen 2, d 2: padded data, row-major
    const padded = Float32Array.from([1, 1, 9, 9, 2, 2, 3, 3]);
    expect([...tokenRows(padded, [2, 2, 2], [1, 2])]).toEqual([1, 1, 2, 2, 3, 3]);
    expect([...tokenRows(Float32Array.from([1, 1, 2, 2, 3, 3]), [1, 3, 2], [1, 2])]).toEqual([1, 1, 2, 2, 3, 3]);
    expect(() => tokenRows(padded, [2, 3, 2], [1, 2], 'x')).toThrow('x: shape (2, 3, 2) is neither');
  });
});

describe('the model', () => {
  let use: UseLite;
  const short = 'The jury said .';
  const long = "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced no evidence .";
  beforeAll(async () => {
    use = await loadNodeUseLite();
  });

  it('returns one finite row per token for every layer; the layers differ', async () => {
    const sentences = [use.tokenizer.encode(short), use.tokenizer.encode(long)];
    const n = sentences[0].length + sentences[1].length;
    const layers = ['resid0', 'resid1', 'mlp0', 'mlp1'] as const;
    const out = await runNodes(use, sentences, layers.map((l) => LAYER_NODES[l].node));
    layers.forEach((l, i) => {
      expect(out[i].length, l).toBe(n * LAYER_NODES[l].d);
      expect(out[i].every(Number.isFinite), l).toBe(true);
    });
    expect(LAYER_NODES.resid0.d).toBe(512);
    expect(LAYER_NODES.mlp0.d).toBe(1536);
    expect(maxRelDiff(out[0], out[1])).toBeGreaterThan(0.1);
    for (const mlp of [out[2], out[3]]) {
      expect(mlp.every((v) => v >= 0)).toBe(true); // ReLU
      const active = mlp.filter((v) => v > 0).length / mlp.length;
      expect(active).toBeGreaterThan(0.01);
      expect(active).toBeLessThan(0.5);
    }
  });

  it('drops padding: a sentence alone and beside a longer one gives the same rows', async () => {
    const a = use.tokenizer.encode(short);
    const b = use.tokenizer.encode(long);
    for (const layer of ['resid0', 'resid1', 'mlp0', 'mlp1'] as const) {
      const d = LAYER_NODES[layer].d;
      const alone = await harvestLayer(use, [a], layer);
      const batched = await harvestLayer(use, [b, a], layer); // the short one second: padded, and at an offset
      expect(batched.length).toBe((a.length + b.length) * d);
      expect(maxRelDiff(alone, batched.subarray(b.length * d)), layer).toBeLessThan(1e-5);
      const longAlone = await harvestLayer(use, [b], layer);
      expect(maxRelDiff(longAlone, batched.subarray(0, b.length * d)), layer).toBeLessThan(1e-5);
    }
  });

  it('runs sorted batches and puts the rows back in order', async () => {
    const sentences = parseBrownDocument('ca01', ca01).sentences.slice(0, 5).map((s) => use.tokenizer.encodeWords(s.map((w) => modelText(w.word))).map((p) => p.id));
    const oneByOne = new Float32Array(sentences.reduce((n, s) => n + s.length, 0) * 512);
    let row = 0;
    for (const s of sentences) {
      oneByOne.set(await harvestLayer(use, [s], 'resid1'), row * 512);
      row += s.length;
    }
    // batches of other shapes round differently (a few 1e-6 of the row scale), nothing more
    expect(maxRelDiff(oneByOne, await harvestLayerSorted(use, sentences, 'resid1', 2))).toBeLessThan(5e-5);
  });

  it('feeds the graph the input the package does: same sentence embeddings as its embed()', async () => {
    const { EmbeddingsModel } = require('@energetic-ai/embeddings');
    const ref = new EmbeddingsModel({ vocabulary: vocab, model: use.model });
    const expected = Float32Array.from((await ref.embed([short, long])).flat() as number[]);
    const got = await embedSentences(use, [use.tokenizer.encode(short), use.tokenizer.encode(long)]);
    expect(maxRelDiff(expected, got)).toBeLessThan(1e-6);
  });

  it('refuses sentences the graph would cut or that are empty', async () => {
    await expect(harvestLayer(use, [new Array(129).fill(7)], 'resid0')).rejects.toThrow('has 129 tokens; the model keeps only the first 128');
    await expect(harvestLayer(use, [[]], 'resid0')).rejects.toThrow('sentence 0 has no tokens');
  });

  it('harvests documents in order, pieces carrying their word’s tags, stopping at the token count', async () => {
    const doc = parseBrownDocument('ca01', ca01);
    const docs = [{ name: 'ca01', sentences: doc.sentences.slice(0, 3) }, { name: 'ca02', sentences: doc.sentences.slice(3, 5) }];
    const chunks: HarvestChunk[] = [];
    const summary = await harvestCorpus(use, docs, { layer: 'mlp0', tokens: 180, batchSentences: 2, sortWindowBatches: 1 }, (c) => {
      chunks.push({ rows: c.rows.slice(), context: c.context });
    });
    const context = chunks.flatMap((c) => c.context);
    const rows = new Float32Array(chunks.reduce((n, c) => n + c.rows.length, 0));
    chunks.reduce((at, c) => (rows.set(c.rows, at), at + c.rows.length), 0);
    expect(summary).toMatchObject({ rows: 180, d: 1536, exhausted: false, truncatedSentences: 0 });
    expect(context).toHaveLength(180); // the 3 sentences of 'ca01' (146 tokens), then part of the first of 'ca02'
    expect(rows.length).toBe(180 * 1536);
    expect(context[0]).toEqual({ doc: 0, sentence: 0, pos: 0, token: '▁The', tag: 'at', upos: 'DET' });
    // positions count up within a sentence and restart at each new one; sentences and docs never go back
    for (let i = 1; i < context.length; i++) {
      const [p, c] = [context[i - 1], context[i]];
      expect(c.sentence === p.sentence ? c.pos === p.pos + 1 : c.pos === 0 && c.sentence === p.sentence + 1).toBe(true);
      expect(c.doc).toBeGreaterThanOrEqual(p.doc);
    }
    expect(new Set(context.map((c) => c.doc))).toEqual(new Set([0, 1]));
    // each sentence's rows are its own harvest
    const sentenceIds = [...new Set(context.map((c) => c.sentence))];
    let at = 0;
    for (const sid of sentenceIds) {
      const words = docs.flatMap((d) => d.sentences)[sid];
      const ids = use.tokenizer.encodeWords(words.map((w) => modelText(w.word))).map((p) => p.id);
      const n = context.filter((c) => c.sentence === sid).length;
      const alone = await harvestLayer(use, [ids], 'mlp0');
      expect(maxRelDiff(alone.subarray(0, n * 1536), rows.subarray(at * 1536, (at + n) * 1536))).toBeLessThan(5e-5);
      at += n;
    }
    const ctx = toTokenContext(context);
    expect(ctx.rows).toBe(180);
    expect(ctx.strings[ctx.token[0]]).toBe('▁The');
    expect(ctx.labels.pos_universal.names.slice(0, 3)).toEqual(['NOUN', 'VERB', 'ADJ']);
    expect(ctx.labels.pos_universal.names[ctx.labels.pos_universal.values[0]]).toBe('DET');
  });

  it('stops at the end of the documents and says so', async () => {
    const words = parseBrownDocument('ca01', ca01).sentences[0];
    const summary = await harvestCorpus(use, [{ name: 'ca01', sentences: [words] }], { layer: 'resid0', tokens: 1000, batchSentences: 4 }, () => {});
    const n = use.tokenizer.encodeWords(words.map((w) => modelText(w.word))).length;
    expect(summary).toMatchObject({ rows: n, sentences: 1, exhausted: true, documents: ['ca01'] });
  });
});
