// A dataset's TokenContext in IndexedDB: the string tables once in a header record [id, 0], the columns in
// parts of CONTEXT_PART_ROWS rows at [id, 1 + p]; and the JSONL sidecar written from it on export.
import { encodeSidecar } from './formats/sidecar.ts';
import type { TokenContext } from './context.ts';
import type { ContextHeader, ContextPart, StoreDB } from './store-schema.ts';
import { DataError } from './errors.ts';

export const CONTEXT_PART_ROWS = 65536;

/** Refuses a context whose columns do not match the file's rows or point outside their tables. */
export function checkContext(name: string, ctx: TokenContext, rows: number): void {
  const fail = (p: string) => new DataError(name, `token context: ${p}`);
  if (ctx.rows !== rows) throw fail(`has ${ctx.rows} rows but the file has ${rows}`);
  const columns: [string, Int32Array][] = [['doc', ctx.doc], ['sentence', ctx.sentence], ['pos', ctx.pos], ['token', ctx.token]];
  for (const [label, col] of Object.entries(ctx.labels)) columns.push([`label '${label}'`, col.values]);
  const short = columns.find(([, col]) => col.length !== rows);
  if (short) throw fail(`column ${short[0]} has ${short[1].length} values, expected ${rows}`);
  checkIndices(ctx.token, ctx.strings.length, 'token', fail);
  for (const [label, col] of Object.entries(ctx.labels)) checkIndices(col.values, col.names.length, `label '${label}'`, fail);
}

function checkIndices(values: Int32Array, size: number, what: string, fail: (p: string) => DataError): void {
  for (let r = 0; r < values.length; r++) {
    if (values[r] < 0 || values[r] >= size) throw fail(`row ${r}: ${what} index ${values[r]} is outside its table of ${size}`);
  }
}

/**
 * Writes the context of the stored rows: the file's rows less `skipped` (ascending file row indices).
 * One transaction; each part is cloned into it as soon as it is built.
 */
export async function writeContext(db: StoreDB, id: string, ctx: TokenContext, skipped: ArrayLike<number>): Promise<void> {
  const rows = ctx.rows - skipped.length;
  const parts = Math.ceil(rows / CONTEXT_PART_ROWS);
  const labelNames = Object.fromEntries(Object.entries(ctx.labels).map(([k, v]) => [k, v.names.slice()]));
  const header: ContextHeader = { rows, partRows: CONTEXT_PART_ROWS, parts, strings: ctx.strings.slice(), labelNames };
  const tx = db.transaction('context', 'readwrite');
  const requests: Promise<unknown>[] = [tx.store.put(header, [id, 0])];
  let next = 0; // file row
  let skip = 0; // index into skipped
  for (let p = 0; p < parts; p++) {
    const part = emptyPart(Math.min(CONTEXT_PART_ROWS, rows - p * CONTEXT_PART_ROWS), ctx);
    for (let at = 0; at < part.doc.length; next++) {
      if (skip < skipped.length && skipped[skip] === next) skip++;
      else copyRow(ctx, next, part, at++);
    }
    requests.push(tx.store.put(part, [id, 1 + p]));
  }
  await Promise.all([...requests, tx.done]);
}

function emptyPart(n: number, ctx: TokenContext): ContextPart {
  const labels = Object.fromEntries(Object.keys(ctx.labels).map((k) => [k, new Int32Array(n)]));
  return { doc: new Int32Array(n), sentence: new Int32Array(n), pos: new Int32Array(n), token: new Int32Array(n), labels };
}

function copyRow(ctx: TokenContext, from: number, part: ContextPart, to: number): void {
  part.doc[to] = ctx.doc[from];
  part.sentence[to] = ctx.sentence[from];
  part.pos[to] = ctx.pos[from];
  part.token[to] = ctx.token[from];
  for (const k in part.labels) part.labels[k][to] = ctx.labels[k].values[from];
}

/** the header record, or undefined when the dataset has no context */
async function readHeader(db: StoreDB, id: string): Promise<ContextHeader | undefined> {
  return (await db.get('context', [id, 0])) as ContextHeader | undefined;
}

/** part p of the columns; a missing part means the dataset is damaged */
async function readPart(db: StoreDB, id: string, p: number, name: string): Promise<ContextPart> {
  const part = (await db.get('context', [id, 1 + p])) as ContextPart | undefined;
  if (!part) throw new DataError(name, `token context part ${p} is missing from the browser store; delete the dataset and import it again`);
  return part;
}

/** The stored TokenContext, or undefined when the dataset has none. */
export async function readContext(db: StoreDB, id: string, name: string): Promise<TokenContext | undefined> {
  const header = await readHeader(db, id);
  if (!header) return undefined;
  const ctx: TokenContext = {
    rows: header.rows,
    doc: new Int32Array(header.rows),
    sentence: new Int32Array(header.rows),
    pos: new Int32Array(header.rows),
    token: new Int32Array(header.rows),
    strings: header.strings,
    labels: Object.fromEntries(Object.entries(header.labelNames).map(([k, names]) => [k, { values: new Int32Array(header.rows), names }])),
  };
  for (let p = 0; p < header.parts; p++) placePart(ctx, await readPart(db, id, p, name), p * header.partRows);
  return ctx;
}

/** The stored document ids alone (what the held-out split needs). */
export async function readDocs(db: StoreDB, id: string, name: string): Promise<Int32Array> {
  const header = await readHeader(db, id);
  if (!header) throw new DataError(name, 'the held-out rule is by document, but the token context is missing; delete the dataset and import it again');
  const doc = new Int32Array(header.rows);
  for (let p = 0; p < header.parts; p++) doc.set((await readPart(db, id, p, name)).doc, p * header.partRows);
  return doc;
}

function placePart(ctx: TokenContext, part: ContextPart, at: number): void {
  ctx.doc.set(part.doc, at);
  ctx.sentence.set(part.sentence, at);
  ctx.pos.set(part.pos, at);
  ctx.token.set(part.token, at);
  for (const k in ctx.labels) ctx.labels[k].values.set(part.labels[k], at);
}

/** The JSONL sidecar (formats/sidecar.ts), one UTF-8 piece per stored part; nothing without context. */
export async function* sidecarPieces(db: StoreDB, id: string, name: string): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  const header = await readHeader(db, id);
  if (!header) return;
  for (let p = 0; p < header.parts; p++) {
    const part = await readPart(db, id, p, name);
    const labels: TokenContext['labels'] = {};
    for (const [k, names] of Object.entries(header.labelNames)) labels[k] = { values: part.labels[k]!, names };
    const rows = part.doc.length;
    yield encodeSidecar({ rows, doc: part.doc, sentence: part.sentence, pos: part.pos, token: part.token, strings: header.strings, labels });
  }
}
