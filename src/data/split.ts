// The held-out rules (RECIPE §3). Data with documents is split by document: a document is held out when a
// seeded 32-bit hash of (seed, document id) falls below fraction · 2^32. Data without documents is split by
// blocks of 256 consecutive rows, hashed the same way by block index. Pure and JSON-describable, so
// metrics.json records the rule and `eval` recomputes the same rows.
import { DataError } from './errors.ts';
import { hashInts } from '../engine/random.ts';

export const BLOCK_ROWS = 256;
export const HELD_OUT_FRACTION = 0.1;

/** What metrics.json records about the split. */
export interface HeldOutRule {
  kind: 'blocks';
  block_rows: number;
  fraction: number;
  seed: number;
}

/** The split of data whose rows carry document ids (rows in document order). */
export interface DocumentRule {
  kind: 'documents';
  fraction: number;
  seed: number;
}

/** Either rule: by document where the rows carry document ids, else by block. */
export type SplitRule = HeldOutRule | DocumentRule;

/** Rows to train on (whole 256-row blocks, for the batch order) and row ranges held out. */
export interface RowSplit {
  trainBlocks: number[];
  /** ascending, disjoint [start, end) row ranges */
  heldOut: [number, number][];
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

export function documentRule(seed: number): DocumentRule {
  if (!Number.isSafeInteger(seed)) throw new Error(`documentRule: seed must be an integer, got ${seed}`);
  return { kind: 'documents', fraction: HELD_OUT_FRACTION, seed };
}

/**
 * Splits rows by document: every row of a held-out document is held out; training uses the 256-row blocks
 * that hold no held-out row (a block straddling a held-out document's edge is left out of both sides'
 * batches but its held-out rows are still evaluated). At least one document on each side.
 */
export function splitDocuments(doc: Int32Array, rule: DocumentRule, name = 'data'): RowSplit {
  const rows = doc.length;
  const ids = [...new Set(doc)];
  if (ids.length < 2) throw new DataError(name, `${ids.length} document(s): need at least two to hold one out`);
  const hashes = ids.map((id) => hashInts(rule.seed, id));
  const threshold = rule.fraction * 4294967296;
  const held = hashes.map((h) => h < threshold);
  const count = held.filter(Boolean).length;
  if (count === 0) held[argBy(hashes, (a, b) => a < b)] = true;
  if (count === ids.length) held[argBy(hashes, (a, b) => a > b)] = false;
  const heldIds = new Set(ids.filter((_, i) => held[i]));
  const heldOut: [number, number][] = [];
  const blocked = new Uint8Array(blockCount(rows));
  for (let r = 0; r < rows; r++) {
    if (!heldIds.has(doc[r]!)) continue;
    blocked[Math.floor(r / BLOCK_ROWS)] = 1;
    const last = heldOut[heldOut.length - 1];
    if (last && last[1] === r) last[1] = r + 1;
    else heldOut.push([r, r + 1]);
  }
  const trainBlocks = [...blocked.keys()].filter((b) => !blocked[b]);
  if (trainBlocks.length === 0) throw new DataError(name, 'no 256-row block lies wholly in training documents; the documents are too short to split');
  return { trainBlocks, heldOut };
}

/** The split a rule asks for: by document when the rule says so (doc ids required), else by block. */
export function splitRows(rows: number, rule: SplitRule, name: string, doc?: Int32Array): RowSplit {
  if (rule.kind === 'documents') {
    if (!doc) throw new DataError(name, 'the held-out rule is by document, but the data has no document ids (give its token sidecar)');
    return splitDocuments(doc, rule, name);
  }
  const { trainBlocks, heldOutBlocks } = splitBlocks(rows, rule, name);
  const heldOut: [number, number][] = [];
  for (const b of heldOutBlocks) {
    const [s, e] = blockRange(b, rows, rule.block_rows);
    const last = heldOut[heldOut.length - 1];
    if (last && last[1] === s) last[1] = e;
    else heldOut.push([s, e]);
  }
  return { trainBlocks, heldOut };
}

/** total rows in the ranges */
export function rowsInRanges(ranges: [number, number][]): number {
  return ranges.reduce((n, [s, e]) => n + e - s, 0);
}
