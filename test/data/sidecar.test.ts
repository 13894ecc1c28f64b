// The JSON-Lines token sidecar: parsing (defaults, labels, chunked streaming), encoding round trips, refusals.
import { describe, expect, it } from 'vitest';
import { RecordingSource } from '../support/recording-source.ts';
import { MemorySource } from '../../src/data/memory-source.ts';
import { encodeSidecar, parseSidecar } from '../../src/data/formats/sidecar.ts';
import type { TokenContext } from '../../src/data/context.ts';

const src = (text: string, name = 'tokens.jsonl') => new MemorySource(new TextEncoder().encode(text), name);
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** per row: the resolved values, so contexts with different table orders compare equal */
function resolved(ctx: TokenContext): Record<string, unknown>[] {
  return Array.from({ length: ctx.rows }, (_, r) => ({
    doc: ctx.doc[r],
    sentence: ctx.sentence[r],
    pos: ctx.pos[r],
    token: ctx.strings[ctx.token[r]],
    ...Object.fromEntries(Object.entries(ctx.labels).map(([k, c]) => [k, c.names[c.values[r]]])),
  }));
}

describe('parseSidecar', () => {
  it('reads every field, deduplicates strings, and makes string extras label columns', async () => {
    const ctx = await parseSidecar(src(jsonl([
      { doc: 12, sentence: 3, pos: 0, token: '▁The', tag: 'at', upos: 'DET' },
      { doc: 12, sentence: 3, pos: 1, token: '▁Paris', tag: 'np-tl', upos: 'PROPN' },
      { doc: 12, sentence: 3, pos: 2, token: '▁The', tag: 'at', upos: 'DET', score: 0.5, ok: true, extra: { a: 1 } },
    ])), 3);
    expect(ctx.rows).toBe(3);
    expect([...ctx.doc, ...ctx.sentence, ...ctx.pos]).toEqual([12, 12, 12, 3, 3, 3, 0, 1, 2]);
    expect(ctx.strings).toEqual(['▁The', '▁Paris']);
    expect([...ctx.token]).toEqual([0, 1, 0]);
    expect(Object.keys(ctx.labels).sort()).toEqual(['tag', 'upos']);
    expect(ctx.labels.upos.names).toEqual(['DET', 'PROPN']);
    expect([...ctx.labels.upos.values]).toEqual([0, 1, 0]);
    expect(ctx.labels.tag.names).toEqual(['at', 'np-tl']);
  });

  it('defaults: doc 0, sentence = doc, pos = running index within the doc', async () => {
    const ctx = await parseSidecar(src(jsonl([{ token: 'a' }, { token: 'b' }, { token: 'c' }])));
    expect(resolved(ctx).map((r) => [r.doc, r.sentence, r.pos])).toEqual([[0, 0, 0], [0, 0, 1], [0, 0, 2]]);
    const docs = await parseSidecar(src(jsonl([{ doc: 4, token: 'a' }, { doc: 4, token: 'b' }, { doc: 5, token: 'c' }, { doc: 5, token: 'd' }, { doc: 5, token: 'e' }])));
    expect(resolved(docs).map((r) => [r.doc, r.sentence, r.pos])).toEqual([[4, 4, 0], [4, 4, 1], [5, 5, 0], [5, 5, 1], [5, 5, 2]]);
  });

  it('pos restarts with each sentence when sentences are given, and continues from an explicit pos', async () => {
    const ctx = await parseSidecar(src(jsonl([
      { doc: 1, sentence: 7, token: 'a' }, { doc: 1, sentence: 7, token: 'b' },
      { doc: 1, sentence: 8, token: 'c' }, { doc: 1, sentence: 8, pos: 5, token: 'd' }, { doc: 1, sentence: 8, token: 'e' },
    ])));
    expect([...ctx.pos]).toEqual([0, 1, 0, 5, 6]);
  });

  it("a label absent from some rows gets '' there, even when it first appears late", async () => {
    const ctx = await parseSidecar(src(jsonl([{ token: 'a' }, { token: 'b', tag: 'nn' }, { token: 'c' }, { token: 'd', tag: 'vb' }])));
    expect(resolved(ctx).map((r) => r.tag)).toEqual(['', 'nn', '', 'vb']);
    expect(ctx.labels.tag.names).toEqual(['', 'nn', 'vb']);
  });

  it("reads the app's own export (row key ignored, labels nested)", async () => {
    const ctx = await parseSidecar(src(jsonl([
      { row: 0, doc: 0, sentence: 0, pos: 0, token: 'x', labels: { pos_brown: 'nn', pos_universal: 'NOUN' } },
      { row: 1, doc: 0, sentence: 0, pos: 1, token: 'y', labels: { pos_brown: 'vb', pos_universal: 'VERB' } },
    ])), 2);
    expect(Object.keys(ctx.labels).sort()).toEqual(['pos_brown', 'pos_universal']);
    expect(resolved(ctx)[1]).toEqual({ doc: 0, sentence: 0, pos: 1, token: 'y', pos_brown: 'vb', pos_universal: 'VERB' });
  });

  it('skips blank lines, takes CRLF endings and a last line without a newline', async () => {
    const ctx = await parseSidecar(src('{"token": "a"}\r\n\r\n  \n{"token": "b"}'));
    expect(ctx.strings).toEqual(['a', 'b']);
    expect(ctx.rows).toBe(2);
  });

  it('an empty file is an empty context', async () => {
    const ctx = await parseSidecar(src(''));
    expect(ctx.rows).toBe(0);
    expect(ctx.token.length).toBe(0);
  });

  it('streams in chunks: multi-byte characters split across chunk boundaries decode exactly', async () => {
    const rows = Array.from({ length: 60_000 }, (_, i) => ({ doc: Math.floor(i / 100), token: `▁tök${i % 997}€`, tag: i % 3 ? 'nn' : 'vb' }));
    const bytes = new TextEncoder().encode(jsonl(rows));
    expect(bytes.length).toBeGreaterThan(2 * (1 << 20)); // several chunks
    const recording = new RecordingSource(new MemorySource(bytes, 'big.jsonl'));
    const ctx = await parseSidecar(recording, rows.length);
    expect(Math.max(...recording.reads)).toBeLessThanOrEqual(1 << 20);
    expect(recording.reads.length).toBeGreaterThan(2);
    expect(ctx.strings.length).toBe(997);
    const got = resolved(ctx);
    for (const i of [0, 1, 12_345, 23_456, 59_999]) {
      expect(got[i]).toEqual({ doc: rows[i].doc, sentence: rows[i].doc, pos: i % 100, token: rows[i].token, tag: rows[i].tag });
    }
    expect(got.every((r, i) => r.token === rows[i].token)).toBe(true);
  });

  it('a character split exactly at the 1 MiB chunk boundary', async () => {
    const head = '{"token": "';
    const text = head + 'x'.repeat((1 << 20) - 1 - head.length) + '€"}\n{"token": "▁b"}\n'; // '€' = bytes 2^20 - 1 … 2^20 + 1
    const ctx = await parseSidecar(src(text), 2);
    expect(ctx.strings[0].endsWith('x€')).toBe(true);
    expect(ctx.strings[1]).toBe('▁b');
  });
});

describe('encodeSidecar', () => {
  it('round-trips a context, labels included', async () => {
    const ctx: TokenContext = {
      rows: 4,
      doc: Int32Array.from([0, 0, 3, 3]),
      sentence: Int32Array.from([0, 0, 9, 9]),
      pos: Int32Array.from([0, 1, 0, 1]),
      token: Int32Array.from([2, 0, 1, 2]),
      strings: ['▁Paris', 'says "hi"\n', 'ünï'],
      labels: {
        upos: { values: Int32Array.from([1, 0, 1, 1]), names: ['VERB', 'PROPN', 'NOUN'] },
        token: { values: Int32Array.from([0, 0, 1, 0]), names: ['x', 'y'] }, // a label named like a field
        sparse: { values: Int32Array.from([0, 1, 0, 0]), names: ['', 'only-here'] },
      },
    };
    const bytes = encodeSidecar(ctx);
    const back = await parseSidecar(new MemorySource(bytes, 'rt.jsonl'), 4);
    expect(resolved(back)).toEqual(resolved(ctx));
    const lines = new TextDecoder().decode(bytes).trimEnd().split('\n');
    expect(JSON.parse(lines[1])).toEqual({ doc: 0, sentence: 0, pos: 1, token: '▁Paris', upos: 'VERB', labels: { token: 'x' }, sparse: 'only-here' });
    expect(JSON.parse(lines[0])).not.toHaveProperty('sparse'); // '' means absent
  });

  it('parse → encode → parse is stable', async () => {
    const text = jsonl([
      { doc: 2, token: 'a', tag: 'x' }, { doc: 2, token: 'b' }, { doc: 3, sentence: 5, pos: 4, token: 'a', tag: 'y', n: 3 },
    ]);
    const once = await parseSidecar(src(text));
    const twice = await parseSidecar(new MemorySource(encodeSidecar(once), 'again.jsonl'));
    expect(twice).toEqual(once);
  });

  it('an empty context is an empty file', () => {
    expect(encodeSidecar({ rows: 0, doc: new Int32Array(0), sentence: new Int32Array(0), pos: new Int32Array(0), token: new Int32Array(0), strings: [], labels: {} }).length).toBe(0);
  });
});

describe('parseSidecar refuses', () => {
  it('malformed JSON, naming the line (blank lines counted)', async () => {
    await expect(parseSidecar(src('{"token": "a"}\n\n{"token": "b",}\n'))).rejects.toThrow(/^tokens\.jsonl: line 3: not valid JSON/);
  });

  it('a line that is not an object', async () => {
    await expect(parseSidecar(src('{"token": "a"}\n["b"]\n'))).rejects.toThrow(/line 2: expected a JSON object, got an array/);
    await expect(parseSidecar(src('"c"\n'))).rejects.toThrow(/line 1: expected a JSON object, got "c"/);
  });

  it('a missing or non-string "token"', async () => {
    await expect(parseSidecar(src('{"token": "a"}\n{"doc": 1, "pos": 2}\n'))).rejects.toThrow(/^tokens\.jsonl: line 2: no "token"/);
    await expect(parseSidecar(src('{"token": 17}\n'))).rejects.toThrow(/line 1: "token" must be a string, got 17/);
  });

  it('doc, sentence or pos that are not non-negative integers', async () => {
    await expect(parseSidecar(src('{"token": "a", "doc": -1}\n'))).rejects.toThrow(/line 1: "doc" must be a non-negative integer, got -1/);
    await expect(parseSidecar(src('{"token": "a", "pos": 1.5}\n'))).rejects.toThrow(/"pos" must be a non-negative integer, got 1\.5/);
    await expect(parseSidecar(src('{"token": "a", "sentence": "3"}\n'))).rejects.toThrow(/"sentence" must be a non-negative integer, got "3"/);
  });

  it('a row count different from the activation file, with both numbers', async () => {
    await expect(parseSidecar(src(jsonl([{ token: 'a' }, { token: 'b' }])), 3)).rejects.toThrow(/^tokens\.jsonl: has 2 rows but the activation file has 3/);
    await expect(parseSidecar(src(jsonl([{ token: 'a' }, { token: 'b' }])), 1)).rejects.toThrow(/has 2 rows but the activation file has 1/);
    await expect(parseSidecar(src(''), 5)).rejects.toThrow(/has 0 rows but the activation file has 5/);
  });

  it('bytes that are not UTF-8', async () => {
    const bytes = Uint8Array.from([...new TextEncoder().encode('{"token": "'), 0xff, 0xfe, ...new TextEncoder().encode('"}\n')]);
    await expect(parseSidecar(new MemorySource(bytes, 'bad.jsonl'))).rejects.toThrow(/^bad\.jsonl: is not UTF-8 text/);
  });
});
