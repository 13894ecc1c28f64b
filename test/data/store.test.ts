// The IndexedDB dataset store in Node (fake-indexeddb): bit-identical import → export for f32 and f16,
// rowSource reads across chunk boundaries, statistics, token context, and that every failure (full disk
// half way, too small a quota, a killed tab, a duplicate, NaN rows, abort) leaves no trace; plus a bound on
// the importer's buffer memory for a dataset several times larger than the budget.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { openDB } from 'idb';
import { MemorySource, memorySource } from '../../src/data/memory-source.ts';
import { parseSidecar } from '../../src/data/formats/sidecar.ts';
import { encodeNpy, openNpy, type NpyRowSource } from '../../src/data/formats/npy.ts';
import { DataError } from '../../src/data/errors.ts';
import { emptyContext, type TokenContext } from '../../src/data/context.ts';
import { splitBlocks, heldOutRule, blockCount, blockHash, documentRule, splitDocuments, type HeldOutRule } from '../../src/data/split.ts';
import { estimateDataStats } from '../../src/data/stats.ts';
import type { ByteSource } from '../../src/data/sources.ts';
import { openStore, type DatasetStore, type ImportMeta, type StoreOptions } from '../../src/data/store.ts';
import { datasetKeys } from '../../src/data/store-schema.ts';
import { CONTEXT_PART_ROWS } from '../../src/data/store-context.ts';
import { checkQuota, REPORTED_FREE_CAP } from '../../src/data/store-quota.ts';
import { bytesOf, rawNpy } from './helpers.ts';

// ---- helpers ----

let dbCount = 0;
/** a fresh database name per test */
const freshName = () => `store-test-${process.pid}-${dbCount++}`;

async function store(opts: StoreOptions = {}): Promise<DatasetStore & { dbName: string }> {
  const dbName = opts.name ?? freshName();
  const s = await openStore({ storage: null, ...opts, name: dbName });
  return Object.assign(s, { dbName });
}

/** float32 rows × d as an .npy file and its RowSource */
async function f32File(data: Float32Array, rows: number, d: number, name = 'acts.npy'): Promise<{ bytes: Uint8Array; src: NpyRowSource }> {
  const bytes = encodeNpy(data, [rows, d]);
  return { bytes, src: await openNpy(new MemorySource(bytes, name)) };
}

/** half bits rows × d as an '<f2' .npy file and its RowSource */
async function f16File(halves: Uint16Array, rows: number, d: number, name = 'half.npy'): Promise<{ bytes: Uint8Array; src: NpyRowSource }> {
  const bytes = rawNpy({ descr: '<f2', shape: `(${rows}, ${d})`, data: bytesOf(halves) });
  return { bytes, src: await openNpy(new MemorySource(bytes, name)) };
}

/** import metadata for a file of `size` bytes */
function fileMeta(name: string, size: number, lastModified = 1_700_000_000_000): ImportMeta {
  return { source: { kind: 'file', name, size, lastModified } };
}

/** seeded uniform values in [lo, hi) */
function randomRows(n: number, seed = 1, lo = -1, hi = 1): Float32Array {
  let state = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = lo + (state / 2 ** 32) * (hi - lo);
  }
  return out;
}

interface RawCounts {
  datasets: number;
  chunks: number;
  context: number;
}

/** records in each object store (of one dataset, or all), read through a separate connection */
async function rawCounts(dbName: string, id?: string): Promise<RawCounts> {
  const db = await openDB(dbName);
  try {
    const range = id === undefined ? undefined : datasetKeys(id);
    return {
      datasets: await db.count('datasets', id),
      chunks: await db.count('chunks', range),
      context: await db.count('context', range),
    };
  } finally {
    db.close();
  }
}

const NONE: RawCounts = { datasets: 0, chunks: 0, context: 0 };

/** the data bytes of an .npy file (after its header) */
async function npyData(bytes: Uint8Array): Promise<Uint8Array> {
  const src = await openNpy(new MemorySource(bytes));
  return bytes.subarray(src.dataOffset);
}

/** a token context for `rows` rows with one label column */
function makeContext(rows: number): TokenContext {
  const ctx = emptyContext(rows);
  ctx.strings = ['▁the', '▁cat', '▁sat', '"quoted"', '.'];
  for (let r = 0; r < rows; r++) {
    ctx.doc[r] = Math.floor(r / 100);
    ctx.sentence[r] = Math.floor(r / 10);
    ctx.pos[r] = r % 10;
    ctx.token[r] = r % 5;
  }
  ctx.labels.pos_universal = { values: Int32Array.from({ length: rows }, (_, r) => r % 3), names: ['DET', 'NOUN', 'VERB'] };
  return ctx;
}

/** rejects with a DataError whose message matches every pattern */
async function expectDataError(p: Promise<unknown>, ...patterns: RegExp[]): Promise<DataError> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataError);
  for (const re of patterns) expect((err as DataError).message).toMatch(re);
  return err as DataError;
}

const quotaError = () => new DOMException('The quota has been exceeded.', 'QuotaExceededError');

// ---- tests ----

describe('import → export', () => {
  it('round-trips float32 bit for bit, across many chunks', async () => {
    const rows = 1000;
    const d = 7;
    const s = await store({ chunkBytes: 64 * d * 4 });
    const { bytes, src } = await f32File(randomRows(rows * d, 3, -50, 50), rows, d);
    const res = await s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse' });
    const m = res.dataset;
    expect([m.status, m.rows, m.d, m.dtype, m.chunkRows, m.chunks, m.bytes]).toEqual(['complete', rows, d, 'float32', 64, 16, rows * d * 4]);
    expect(await s.get(m.id)).toEqual(m);
    const out = await s.exportNpy(m.id);
    expect(out.sidecar).toBeUndefined();
    expect(out.npy).toEqual(bytes); // encodeNpy's header too
    expect(await rawCounts(s.dbName)).toEqual({ datasets: 1, chunks: 16, context: 0 });
  });

  it('keeps float16 as float16: the data bytes are identical, the header says <f2', async () => {
    const rows = 600;
    const d = 5;
    // every finite half pattern class: zeros of both signs, subnormals, normals, the largest finite
    const special = [0x0000, 0x8000, 0x0001, 0x03ff, 0x8001, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0xfbff, 0x3555];
    const halves = Uint16Array.from({ length: rows * d }, (_, i) => (i < special.length ? special[i] : (i * 40503) & 0x7bff | (i & 1 ? 0x8000 : 0)));
    const s = await store({ chunkBytes: 50 * d * 2 });
    const { bytes, src } = await f16File(halves, rows, d);
    const { dataset } = await s.importRows(src, fileMeta('half.npy', bytes.length), { nonFinite: 'refuse' });
    expect([dataset.dtype, dataset.chunkRows, dataset.chunks, dataset.bytes]).toEqual(['float16', 50, 12, rows * d * 2]);
    const { npy } = await s.exportNpy(dataset.id);
    const back = await openNpy(new MemorySource(npy));
    expect([back.dtype, back.shape]).toEqual(['float16', [rows, d]]);
    expect(await npyData(npy)).toEqual(bytesOf(halves));
    expect(await back.readRows(0, rows)).toEqual(await src.readRows(0, rows));
  });

  it('streams the export: the pieces are the header and then the chunks', async () => {
    const s = await store({ chunkBytes: 100 * 3 * 4 });
    const { bytes, src } = await f32File(randomRows(1000 * 3), 1000, 3);
    const { dataset } = await s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse' });
    const streams = await s.exportStreams(dataset.id);
    expect(streams.npySize).toBe(bytes.length);
    const pieces: Uint8Array[] = [];
    for await (const p of streams.npy) pieces.push(p);
    expect(pieces.length).toBe(1 + 10);
    expect(Buffer.concat(pieces)).toEqual(Buffer.from(bytes));
  });

  it('flattens a (docs, ctx, d) file to rows', async () => {
    const s = await store();
    const data = randomRows(4 * 8 * 3);
    const bytes = encodeNpy(data, [4, 8, 3]);
    const src = await openNpy(new MemorySource(bytes, 'docs.npy'));
    const { dataset } = await s.importRows(src, fileMeta('docs.npy', bytes.length), { nonFinite: 'refuse' });
    expect([dataset.rows, dataset.d]).toEqual([32, 3]);
    expect(await npyData((await s.exportNpy(dataset.id)).npy)).toEqual(bytesOf(data));
  });
});

describe('rowSource', () => {
  it('reads exactly the original rows, across chunk boundaries, in any order', async () => {
    const rows = 997;
    const d = 6;
    const data = randomRows(rows * d, 9);
    const s = await store({ chunkBytes: 40 * d * 4, cacheChunks: 3 });
    const { bytes, src } = await f32File(data, rows, d);
    const { dataset } = await s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse' });
    const rs = await s.rowSource(dataset.id);
    expect([rs.name, rs.rows, rs.d, rs.chunkRows, rs.chunks]).toEqual(['acts.npy', rows, d, 40, 25]);
    const reads: [number, number][] = [[0, 1], [39, 2], [40, 40], [35, 130], [0, rows], [960, 37], [996, 1], [500, 0], [123, 456]];
    for (const [start, count] of reads) {
      expect(await rs.readRows(start, count), `rows [${start}, +${count})`).toEqual(data.slice(start * d, (start + count) * d));
    }
    await expectDataError(rs.readRows(990, 8), /acts\.npy/, /outside the 997 rows/);

    // chunks are Blobs, and a read takes only its rows' bytes from them, not whole chunks
    const read: number[] = [];
    const arrayBuffer = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = function (this: Blob) {
      read.push(this.size);
      return arrayBuffer.call(this);
    };
    try {
      expect(await rs.readRows(45, 10)).toEqual(data.slice(45 * d, 55 * d));
      expect(await rs.readRows(75, 10)).toEqual(data.slice(75 * d, 85 * d)); // across a chunk boundary
    } finally {
      Blob.prototype.arrayBuffer = arrayBuffer;
    }
    expect(read).toEqual([10 * d * 4, 5 * d * 4, 5 * d * 4]);

    // a dataset stored before chunks were Blobs holds their bytes: it reads the same
    const db = await openDB(s.dbName);
    for (let c = 0; c < 25; c++) {
      const blob = (await db.get('chunks', [dataset.id, c])) as Blob;
      await db.put('chunks', new Uint8Array(await blob.arrayBuffer()), [dataset.id, c]);
    }
    db.close();
    const old = await s.rowSource(dataset.id);
    for (const [start, count] of reads) expect(await old.readRows(start, count), `bytes: rows [${start}, +${count})`).toEqual(data.slice(start * d, (start + count) * d));
    expect(await old.chunk(3)).toEqual(new Uint8Array(data.slice(120 * d, 160 * d).buffer));
  });

  it('converts stored float16 rows to float32 exactly as the file reader does', async () => {
    const rows = 300;
    const d = 4;
    const halves = Uint16Array.from({ length: rows * d }, (_, i) => (i * 2654435761) & 0x7bff);
    const s = await store({ chunkBytes: 32 * d * 2 });
    const { bytes, src } = await f16File(halves, rows, d);
    const { dataset } = await s.importRows(src, fileMeta('half.npy', bytes.length), { nonFinite: 'refuse' });
    const rs = await s.rowSource(dataset.id);
    expect(rs.dtype).toBe('float16');
    for (const [start, count] of [[0, rows], [31, 2], [17, 200]]) expect(await rs.readRows(start, count)).toEqual(await src.readRows(start, count));
  });

  it('refuses missing and unfinished datasets', async () => {
    const s = await store();
    await expectDataError(s.rowSource('nope'), /^dataset nope: no such dataset/);
    await expectDataError(s.exportNpy('nope'), /no such dataset/);
  });
});

describe('statistics recorded at import', () => {
  /** the stored statistics against estimateDataStats over the stored rows and the recorded rule */
  async function checkStats(rows: number, d: number, seed: number) {
    const s = await store({ chunkBytes: 97 * d * 4 });
    const { bytes, src } = await f32File(randomRows(rows * d, rows, -1, 3), rows, d);
    const { dataset } = await s.importRows(src, { ...fileMeta('acts.npy', bytes.length), heldOutSeed: seed }, { nonFinite: 'refuse' });
    expect(dataset.heldOut).toEqual(heldOutRule(seed));
    const rs = await s.rowSource(dataset.id);
    const blocks = rows >= 512 ? splitBlocks(rows, dataset.heldOut as HeldOutRule).trainBlocks : Array.from({ length: blockCount(rows) }, (_, i) => i);
    const want = await estimateDataStats(rs, blocks);
    const got = await s.dataStats(dataset.id);
    expect(got.scale).toBeCloseTo(want.scale, 10);
    expect(got.variance).toBeCloseTo(want.variance, 10);
    got.mean.forEach((m, j) => expect(m).toBeCloseTo(want.mean[j], 10));
    return dataset.stats!;
  }

  it('match estimateDataStats over the training blocks', async () => {
    const stats = await checkStats(5000, 5, 0);
    expect(stats.trainOnly).toBe(true);
    expect(stats.sampleRows).toBe(splitBlocks(5000, heldOutRule(0)).trainBlocks.reduce((n, b) => n + Math.min(256, 5000 - b * 256), 0));
  });

  it('use the same 65536-row sample on a large file', async () => {
    expect((await checkStats(100_000, 2, 7)).sampleRows).toBe(65536);
  });

  it('follow the split when it has to move a block (few blocks) and use all rows below two blocks', async () => {
    // a seed whose two blocks both hash above the threshold: the split moves one to the held-out side
    const seed = [...Array(100).keys()].find((k) => blockHash(k, 0) >= 0.1 * 2 ** 32 && blockHash(k, 1) >= 0.1 * 2 ** 32)!;
    expect((await checkStats(600, 3, seed)).trainOnly).toBe(true);
    const small = await checkStats(300, 3, 0);
    expect([small.trainOnly, small.sampleRows]).toEqual([false, 300]);
  });

  it('refuse an all-zero file', async () => {
    const s = await store();
    const { bytes, src } = await f32File(new Float32Array(600 * 2), 600, 2);
    await expectDataError(s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse' }), /^acts\.npy: every sampled row is zero/);
    expect(await rawCounts(s.dbName)).toEqual(NONE);
  });
});

describe('token context', () => {
  it('round-trips, and exports as a JSONL sidecar', async () => {
    const rows = 250;
    const s = await store({ chunkBytes: 64 * 2 * 4 });
    const ctx = makeContext(rows);
    const { bytes, src } = await f32File(randomRows(rows * 2), rows, 2);
    const { dataset } = await s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse', context: ctx });
    expect(dataset.hasContext).toBe(true);
    expect(await s.readContext(dataset.id)).toEqual(ctx);
    const { sidecar } = await s.exportNpy(dataset.id);
    const lines = new TextDecoder().decode(sidecar).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(rows);
    expect(lines[13]).toEqual({ doc: 0, sentence: 1, pos: 3, token: '"quoted"', pos_universal: 'NOUN' });
    // and the sidecar reader takes it back unchanged
    expect(await parseSidecar(memorySource(sidecar!, 'acts.tokens.jsonl'), rows)).toEqual(ctx);
  });

  it('is split into parts for long files', async () => {
    const rows = CONTEXT_PART_ROWS + 100;
    const s = await store();
    const ctx = makeContext(rows);
    const { bytes, src } = await f32File(randomRows(rows, 5, 1, 2), rows, 1);
    const { dataset } = await s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse', context: ctx });
    expect((await rawCounts(s.dbName, dataset.id)).context).toBe(1 + 2);
    expect(await s.readContext(dataset.id)).toEqual(ctx);
  });

  it('must have the file\'s rows', async () => {
    const s = await store();
    const { bytes, src } = await f32File(randomRows(20), 10, 2);
    await expectDataError(s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse', context: makeContext(9) }), /^acts\.npy: token context: has 9 rows but the file has 10/);
    expect(await rawCounts(s.dbName)).toEqual(NONE);
  });
});

describe('held out by document', () => {
  /** imports rows × 3 random rows with makeContext's documents (100 rows each), `bad` rows poisoned */
  async function importWithDocs(rows: number, seed: number, bad: number[] = []) {
    const d = 3;
    const s = await store({ chunkBytes: 64 * d * 4 });
    const data = randomRows(rows * d, 21, -1, 2);
    for (const r of bad) data[r * d] = NaN;
    const ctx = makeContext(rows);
    const { bytes, src } = await f32File(data, rows, d);
    const res = await s.importRows(src, { ...fileMeta('docs.npy', bytes.length), heldOutSeed: seed }, { nonFinite: bad.length ? 'skip' : 'refuse', context: ctx });
    return { s, dataset: res.dataset };
  }

  /** the stored statistics equal estimateDataStats over the training blocks of the stored documents' split */
  async function expectStatsOverTraining(s: Awaited<ReturnType<typeof store>>, id: string) {
    const docs = (await s.readContext(id))!.doc;
    const manifest = (await s.get(id))!;
    const split = splitDocuments(docs, documentRule(manifest.heldOut.seed));
    expect(await s.split(id)).toEqual(split);
    const want = await estimateDataStats(await s.rowSource(id), split.trainBlocks);
    const got = await s.dataStats(id);
    expect(got.scale).toBeCloseTo(want.scale, 10);
    got.mean.forEach((m, j) => expect(m).toBeCloseTo(want.mean[j], 10));
    expect(manifest.stats!.trainOnly).toBe(true);
    return split;
  }

  it('is the rule when the token context has documents to split, and the statistics leave them out', async () => {
    const { s, dataset } = await importWithDocs(3000, 5);
    expect(dataset.heldOut).toEqual(documentRule(5));
    const split = await expectStatsOverTraining(s, dataset.id);
    // whole documents are held out: every held-out range starts and ends on a document edge (100 rows)
    expect(split.heldOut.length).toBeGreaterThan(0);
    for (const [a, b] of split.heldOut) expect([a % 100, b % 100]).toEqual([0, 0]);
  });

  it('follows the stored rows when NaN rows were skipped', async () => {
    const { s, dataset } = await importWithDocs(3000, 5, [7, 1234]);
    expect(dataset.rows).toBe(2998);
    await expectStatsOverTraining(s, dataset.id);
  });

  it('falls back to blocks when the documents are too few to split', async () => {
    const { dataset } = await importWithDocs(100, 3); // one document
    expect(dataset.heldOut).toEqual(heldOutRule(3));
  });
});

describe('NaN and Inf rows', () => {
  const rows = 400;
  const d = 3;
  const bad = [5, 77, 300];
  function dirty(): Float32Array {
    const data = randomRows(rows * d, 4);
    data[5 * d + 1] = NaN;
    data[77 * d] = Infinity;
    data[300 * d + 2] = -Infinity;
    return data;
  }

  it('are refused with the count and the first row, leaving nothing', async () => {
    const s = await store({ chunkBytes: 16 * d * 4 });
    const { bytes, src } = await f32File(dirty(), rows, d);
    await expectDataError(s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse' }), /^acts\.npy: 3 rows contain NaN or Inf \(first: row 5\)/);
    expect(await rawCounts(s.dbName)).toEqual(NONE);
  });

  it('are skipped on request: the count is recorded, the rows and context close up', async () => {
    const s = await store({ chunkBytes: 16 * d * 4 });
    const data = dirty();
    const ctx = makeContext(rows);
    const { bytes, src } = await f32File(data, rows, d);
    const res = await s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'skip', context: ctx });
    expect([res.skippedRows, res.firstSkippedRow, res.dataset.skippedRows, res.dataset.firstSkippedRow, res.dataset.rows]).toEqual([3, 5, 3, 5, rows - 3]);
    expect(res.notes.join()).toMatch(/skipped 3 rows containing NaN or Inf \(first: row 5/);
    const keep = [...Array(rows).keys()].filter((r) => !bad.includes(r));
    const want = new Float32Array(keep.flatMap((r) => [...data.subarray(r * d, (r + 1) * d)]));
    expect(await (await s.rowSource(res.dataset.id)).readRows(0, rows - 3)).toEqual(want);
    const stored = (await s.readContext(res.dataset.id))!;
    expect(stored.rows).toBe(rows - 3);
    expect([...stored.sentence]).toEqual(keep.map((r) => ctx.sentence[r]));
    expect([...stored.labels.pos_universal.values]).toEqual(keep.map((r) => ctx.labels.pos_universal.values[r]));
  });

  it('refuse a file of nothing else', async () => {
    const s = await store();
    const { bytes, src } = await f32File(new Float32Array(4).fill(NaN), 2, 2);
    await expectDataError(s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'skip' }), /all 2 rows contain NaN or Inf/);
    expect(await rawCounts(s.dbName)).toEqual(NONE);
  });
});

describe('failures leave no trace', () => {
  /** a store already holding one complete dataset, and an export of it to compare with later */
  async function withExisting(opts: StoreOptions = {}) {
    const s = await store({ chunkBytes: 32 * 4 * 4, ...opts });
    const { bytes, src } = await f32File(randomRows(300 * 4, 11), 300, 4, 'old.npy');
    const { dataset } = await s.importRows(src, fileMeta('old.npy', bytes.length), { nonFinite: 'refuse', context: makeContext(300) });
    const before = await rawCounts(s.dbName);
    return { s, old: dataset, before, oldNpy: (await s.exportNpy(dataset.id)).npy };
  }

  it('a full disk half way: the partial import goes, the existing dataset stays', async () => {
    let failAt = -1;
    const { s, old, before, oldNpy } = await withExisting({
      faults: {
        beforeChunkWrite(i) {
          if (i === failAt) throw quotaError();
        },
      },
    });
    failAt = 3;
    const { bytes, src } = await f32File(randomRows(400 * 4), 400, 4, 'new.npy');
    const err = await expectDataError(
      s.importRows(src, fileMeta('new.npy', bytes.length), { nonFinite: 'refuse', context: makeContext(400) }),
      /^new\.npy: browser storage is full: the import stopped after 96 of 400 rows and was removed/,
    );
    expect((err.cause as DOMException).name).toBe('QuotaExceededError');
    expect(await rawCounts(s.dbName)).toEqual(before);
    expect((await s.list()).map((m) => m.id)).toEqual([old.id]);
    expect((await s.exportNpy(old.id)).npy).toEqual(oldNpy);
  });

  it('a read error part way is reported and cleaned up', async () => {
    const s = await store({ chunkBytes: 10 * 2 * 4 });
    const { bytes, src } = await f32File(randomRows(100 * 2), 100, 2);
    const failing = { ...src, name: src.name, rows: src.rows, d: src.d, readRows: async (a: number, n: number) => {
      if (a >= 50) throw new Error('disk read error');
      return src.readRows(a, n);
    } };
    await expectDataError(s.importRows(failing, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse' }), /^acts\.npy: import failed after 50 of 100 rows and was removed \(Error: disk read error\)/);
    expect(await rawCounts(s.dbName)).toEqual(NONE);
  });

  it('a quota estimate too small is refused up front, naming both sizes', async () => {
    const estimates: string[] = [];
    const storage = {
      estimate: async () => (estimates.push('estimate'), { quota: 10 * 1024 * 1024, usage: 9.5 * 1024 * 1024 }),
      persist: async () => (estimates.push('persist'), true),
    };
    const s = await store({ storage });
    const { bytes, src } = await f32File(new Float32Array(1024 * 256), 1024, 256);
    await expectDataError(
      s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse' }),
      /^acts\.npy: needs about 1\.0 MiB of browser storage but only 512\.0 KiB is free \(9\.5 MiB of the 10\.0 MiB quota used\)/,
    );
    expect(estimates).toEqual(['estimate']);
    expect(await rawCounts(s.dbName)).toEqual(NONE);
  });

  it("Chromium's capped estimate (usage + 10 GiB) refuses nothing: only a write that fails does", async () => {
    const usage = 3 * 2 ** 30;
    const capped = { estimate: async () => ({ quota: usage + REPORTED_FREE_CAP, usage }) };
    await expect(checkQuota(capped, 'big.npy', 24 * 2 ** 30)).resolves.toBeUndefined();
    // a real quota a byte away from the cap still refuses
    const real = { estimate: async () => ({ quota: usage + REPORTED_FREE_CAP - 1, usage }) };
    await expect(checkQuota(real, 'big.npy', 24 * 2 ** 30)).rejects.toThrow(/^big\.npy: needs about 24\.0 GiB of browser storage but only 10\.0 GiB is free/);
  });

  it('asks for persistent storage when the dataset fits', async () => {
    let asked = 0;
    const storage = { estimate: async () => ({ quota: 1e9, usage: 0 }), persisted: async () => false, persist: async () => (asked++, true) };
    const s = await store({ storage });
    const { bytes, src } = await f32File(randomRows(20), 10, 2);
    const res = await s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse' });
    expect([asked, res.persisted]).toEqual([1, true]);
  });

  it('a killed import leaves a pending dataset that cleanupPending removes from a fresh store', async () => {
    let armed = false;
    let reached!: () => void;
    const atChunk2 = new Promise<void>((r) => (reached = r));
    const { s, old, before } = await withExisting({
      faults: {
        beforeChunkWrite(i) {
          if (i !== 2 || !armed) return;
          reached();
          return new Promise<void>(() => {}); // the tab dies here: nothing after this ever runs
        },
      },
    });
    armed = true;
    const { bytes, src } = await f32File(randomRows(400 * 4), 400, 4, 'new.npy');
    void s.importRows(src, fileMeta('new.npy', bytes.length), { nonFinite: 'refuse' });
    await atChunk2;
    const pending = (await s.list({ includePending: true })).find((m) => m.status === 'pending')!;
    expect(pending.name).toBe('new.npy');
    expect(await s.list()).toHaveLength(1);
    expect(await rawCounts(s.dbName, pending.id)).toEqual({ datasets: 1, chunks: 2, context: 0 });
    expect(await s.cleanupPending()).toEqual([]); // this store's own import is still running
    await expectDataError(s.rowSource(pending.id), /^new\.npy: this dataset is still being imported/);
    const fresh = await openStore({ name: s.dbName, storage: null });
    expect(await fresh.cleanupPending()).toEqual([pending.id]);
    expect(await rawCounts(s.dbName)).toEqual(before);
    expect((await fresh.list()).map((m) => m.id)).toEqual([old.id]);
    fresh.close();
  });

  it('the manifest is pending while chunks are written and complete only at the end', async () => {
    const seen: string[] = [];
    let s!: DatasetStore;
    s = await store({
      chunkBytes: 10 * 2 * 4,
      faults: {
        async beforeChunkWrite(i) {
          const [m] = await s.list({ includePending: true });
          seen.push(`${i}:${m.status}`);
        },
      },
    });
    const { bytes, src } = await f32File(randomRows(30 * 2), 30, 2);
    const { dataset } = await s.importRows(src, fileMeta('acts.npy', bytes.length), { nonFinite: 'refuse' });
    expect(seen).toEqual(['0:pending', '1:pending', '2:pending']);
    expect((await s.get(dataset.id))!.status).toBe('complete');
  });

  it('an abort cleans up, at any point', async () => {
    const { s, before } = await withExisting();
    const { bytes, src } = await f32File(randomRows(400 * 4), 400, 4, 'new.npy');
    const ac = new AbortController();
    await expectDataError(
      s.importRows(src, fileMeta('new.npy', bytes.length), {
        nonFinite: 'refuse',
        signal: ac.signal,
        onProgress: (done) => done >= 96 && ac.abort(),
      }),
      /^new\.npy: import cancelled after 96 of 400 rows; nothing was kept/,
    );
    expect(await rawCounts(s.dbName)).toEqual(before);
    await expectDataError(s.importRows(src, fileMeta('new.npy', bytes.length), { nonFinite: 'refuse', signal: AbortSignal.abort() }), /cancelled after 0 of 400/);
    expect(await rawCounts(s.dbName)).toEqual(before);
  });
});

describe('the same file twice', () => {
  it('is refused, naming the existing dataset; replace swaps it', async () => {
    const s = await store();
    const { bytes, src } = await f32File(randomRows(40), 20, 2);
    const meta = fileMeta('acts.npy', bytes.length);
    const first = (await s.importRows(src, { ...meta, name: 'layer 6' }, { nonFinite: 'refuse' })).dataset;
    await expectDataError(s.importRows(src, meta, { nonFinite: 'refuse' }), /^acts\.npy: this file is already imported as dataset "layer 6" \(20 rows × 2/, /replace/);
    const other = await s.importRows(src, fileMeta('acts.npy', bytes.length, 42), { nonFinite: 'refuse' }); // a different file of that name
    const replaced = await s.importRows(src, meta, { nonFinite: 'refuse', replace: true });
    expect(replaced.replaced).toEqual([first.id]);
    expect((await s.list()).map((m) => m.id)).toEqual([other.dataset.id, replaced.dataset.id]);
    expect(await rawCounts(s.dbName, first.id)).toEqual(NONE);
  });

  it('is allowed for generated data', async () => {
    const s = await store();
    const { src } = await f32File(randomRows(40), 20, 2);
    const meta: ImportMeta = { source: { kind: 'synthetic', name: 'synth', size: 160 } };
    await s.importRows(src, meta, { nonFinite: 'refuse' });
    await s.importRows(src, meta, { nonFinite: 'refuse' });
    expect(await s.list()).toHaveLength(2);
  });
});

describe('list, rename, delete', () => {
  it('manage the datasets', async () => {
    const s = await store();
    const ids: string[] = [];
    for (const name of ['a.npy', 'b.npy', 'c.npy']) {
      const { bytes, src } = await f32File(randomRows(40), 20, 2, name);
      ids.push((await s.importRows(src, fileMeta(name, bytes.length), { nonFinite: 'refuse', context: makeContext(20) })).dataset.id);
    }
    expect((await s.list()).map((m) => m.name)).toEqual(['a.npy', 'b.npy', 'c.npy']);
    const renamed = await s.rename(ids[1], '  residual L6  ');
    expect(renamed.name).toBe('residual L6');
    expect((await s.get(ids[1]))!.name).toBe('residual L6');
    await expectDataError(s.rename(ids[1], ' '), /^residual L6: a dataset name cannot be empty/);
    await expectDataError(s.rename('gone', 'x'), /^dataset gone: no such dataset/);
    expect(await s.delete(ids[0])).toBe(true);
    expect(await s.delete(ids[0])).toBe(false);
    expect((await s.list()).map((m) => m.name)).toEqual(['residual L6', 'c.npy']);
    expect(await rawCounts(s.dbName, ids[0])).toEqual(NONE);
    expect(await rawCounts(s.dbName)).toEqual({ datasets: 2, chunks: 2, context: 4 });
    expect(await (await s.rowSource(ids[2])).readRows(0, 20)).toHaveLength(40);
  });
});

describe('memory', () => {
  /** A float32 .npy of rows × d whose data bytes are computed on each read: the file never exists whole. */
  function generatedNpy(rows: number, d: number, name: string): ByteSource {
    const header = rawNpy({ shape: `(${rows}, ${d})` });
    const value = (i: number) => ((i * 7919) % 2003) / 16 - 60;
    return {
      name,
      size: header.length + rows * d * 4,
      async read(offset: number, length: number): Promise<Uint8Array> {
        if (offset + length <= header.length) return header.slice(offset, offset + length);
        if (offset < header.length || (offset - header.length) % 4 !== 0 || length % 4 !== 0) throw new Error('unaligned test read');
        const first = (offset - header.length) / 4;
        const values = new Float32Array(length / 4);
        for (let i = 0; i < values.length; i++) values[i] = value(first + i);
        return new Uint8Array(values.buffer);
      },
    };
  }

  it('an import holds a bounded buffer, whatever the file size', async () => {
    const MiB = 1024 * 1024;
    const budget = 32 * MiB; // the importer needs ~10 MiB: a 4 MiB chunk buffer, a piece read, a clone in flight
    const d = 1024;
    const rows = 64 * 1024; // 256 MiB of float32: 8 × the budget
    const s = await store();
    const src = await openNpy(generatedNpy(rows, d, 'big.npy'));
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    let chunkRows = 0;
    const { dataset } = await s.importRows(src, { source: { kind: 'harvest', name: 'big.npy', size: src.rows * d * 4 } }, {
      nonFinite: 'refuse',
      onProgress(done) {
        // fake-indexeddb keeps what was stored in memory: count only what the importer holds beyond it
        chunkRows ||= done;
        const stored = Math.floor(done / chunkRows) * chunkRows * d * 4;
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - base - stored);
      },
    });
    expect(dataset.rows * d * 4).toBeGreaterThan(4 * budget);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(budget);
    const rs = await s.rowSource(dataset.id);
    const last = await rs.readRows(rows - 1, 1);
    expect(last[d - 1]).toBe((((rows * d - 1) * 7919) % 2003) / 16 - 60);
    await s.delete(dataset.id);
  });
});
