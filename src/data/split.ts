// The held-out rule for data without documents (RECIPE §3): blocks of 256 consecutive rows, a block held
// out when a seeded 32-bit hash of (seed, block index) falls below fraction · 2^32. Pure and JSON-describable,
// so metrics.json records the rule and `eval` recomputes the same rows.
import { DataError } from './errors.ts';
import { hashInts } from './hash.ts';

export const BLOCK_ROWS = 256;
export const HELD_OUT_FRACTION = 0.1;

/** What metrics.json records about the split. */
export interface HeldOutRule {
  kind: 'blocks';
  block_rows: number;
  fraction: number;
  seed: number;
}

export interface BlockSplit {
  /** ascending block indices */
  trainBlocks: number[];
  /** ascending block indices */
  heldOutBlocks: number[];
}

export function heldOutRule(seed: number): HeldOutRule {
  if (!Number.isSafeInteger(seed)) throw new Error(`heldOutRule: seed must be an integer, got ${seed}`);
  return { kind: 'blocks', block_rows: BLOCK_ROWS, fraction: HELD_OUT_FRACTION, seed };
}

/** the block hash the rule thresholds: uint32. Never change it: runs recorded in metrics.json depend on it. */
export function blockHash(seed: number, block: number): number {
  return hashInts(seed, block);
}

/** number of blocks covering `rows` rows (the last one may be partial) */
export function blockCount(rows: number, blockRows = BLOCK_ROWS): number {
  return Math.ceil(rows / blockRows);
}

/** rows [start, end) of block i */
export function blockRange(block: number, rows: number, blockRows = BLOCK_ROWS): [number, number] {
  return [block * blockRows, Math.min((block + 1) * blockRows, rows)];
}

/**
 * Splits rows into training and held-out blocks. Block i covers rows [256i, min(256(i+1), rows)).
 * Always at least one block on each side; `name` names the data in errors.
 */
export function splitBlocks(rows: number, rule: HeldOutRule, name = 'data'): BlockSplit {
  checkRule(rule);
  const blocks = blockCount(rows, rule.block_rows);
  if (!Number.isSafeInteger(rows) || rows < 2 * rule.block_rows) {
    throw new DataError(
      name,
      `${rows} rows is too few to hold out evaluation rows: need at least ${2 * rule.block_rows} (two blocks of ${rule.block_rows})`,
    );
  }
  const hashes = Array.from({ length: blocks }, (_, i) => blockHash(rule.seed, i));
  const threshold = rule.fraction * 4294967296;
  const held = hashes.map((h) => h < threshold);
  const count = held.filter(Boolean).length;
  if (count === 0) held[argBy(hashes, (a, b) => a < b)] = true;
  if (count === blocks) held[argBy(hashes, (a, b) => a > b)] = false;
  const trainBlocks: number[] = [];
  const heldOutBlocks: number[] = [];
  held.forEach((h, i) => (h ? heldOutBlocks : trainBlocks).push(i));
  return { trainBlocks, heldOutBlocks };
}

function checkRule(rule: HeldOutRule): void {
  const ok =
    rule.kind === 'blocks' &&
    Number.isSafeInteger(rule.block_rows) && rule.block_rows > 0 &&
    rule.fraction >= 0 && rule.fraction <= 1 &&
    Number.isSafeInteger(rule.seed);
  if (!ok) throw new Error(`unknown held-out rule ${JSON.stringify(rule)}`);
}

/** index of the element that wins `better` against all others (first on ties) */
function argBy(values: number[], better: (a: number, b: number) => boolean): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (better(values[i], values[best])) best = i;
  return best;
}

/** total rows covered by `blocks` */
export function rowsInBlocks(blocks: number[], rows: number, blockRows = BLOCK_ROWS): number {
  let n = 0;
  for (const b of blocks) {
    const [s, e] = blockRange(b, rows, blockRows);
    n += e - s;
  }
  return n;
}
