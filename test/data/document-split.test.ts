// Held-out rows by document (RECIPE §3): whole documents are held out, training blocks never hold one of
// their rows, the rule is seeded, and both sides are never empty.
import { describe, expect, it } from 'vitest';
import { documentRule, heldOutRule, rowsInRanges, splitDocuments, splitRows } from '../../src/data/split.ts';

/** 60 documents of 37..400 rows, in order */
function docs(): Int32Array {
  const out: number[] = [];
  for (let d = 0; d < 60; d++) for (let r = 0; r < 37 + ((d * 97) % 364); r++) out.push(d);
  return Int32Array.from(out);
}

describe('splitDocuments', () => {
  const doc = docs();
  const split = splitDocuments(doc, documentRule(3), 'toy');

  it('holds out whole documents, about 10% of them', () => {
    const held = new Set<number>();
    for (const [s, e] of split.heldOut) for (let r = s; r < e; r++) held.add(doc[r]!);
    expect(held.size).toBeGreaterThanOrEqual(1);
    expect(held.size).toBeLessThan(20);
    for (let r = 0; r < doc.length; r++) {
      const inRange = split.heldOut.some(([s, e]) => r >= s && r < e);
      expect(inRange).toBe(held.has(doc[r]!));
    }
  });

  it('trains only on blocks free of held-out rows', () => {
    for (const b of split.trainBlocks) {
      for (let r = b * 256; r < Math.min((b + 1) * 256, doc.length); r++) {
        expect(split.heldOut.some(([s, e]) => r >= s && r < e)).toBe(false);
      }
    }
    expect(split.trainBlocks.length).toBeGreaterThan(0);
  });

  it('is a function of the seed', () => {
    expect(splitDocuments(doc, documentRule(3))).toEqual(split);
    expect(splitDocuments(doc, documentRule(4)).heldOut).not.toEqual(split.heldOut);
  });

  it('refuses a single document, and a document rule without document ids', () => {
    expect(() => splitDocuments(new Int32Array(1000), documentRule(0), 'one.npy')).toThrow(/one\.npy: 1 document/);
    expect(() => splitRows(1000, documentRule(0), 'x.npy')).toThrow(/x\.npy: .*by document.*sidecar/);
  });

  it('the block rule gives the same rows as before, as ranges', () => {
    const s = splitRows(3000, heldOutRule(0), 'x');
    expect(rowsInRanges(s.heldOut) + s.trainBlocks.length * 256).toBeGreaterThanOrEqual(3000 - 255);
  });
});
