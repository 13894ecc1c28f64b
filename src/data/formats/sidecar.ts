// The JSON-Lines token sidecar: one JSON object per activation row, in row order, e.g.
//   {"doc": 12, "sentence": 3, "pos": 3, "token": "▁Paris", "tag": "np-tl", "upos": "PROPN"}
// "token" (a string) is required. "doc" defaults to 0, "sentence" to the doc, "pos" to the running index within
// the current run of rows with the same (doc, sentence) — the index within the doc when sentences are absent.
// Every other key with a string value becomes a label column, as do the entries of a nested "labels" object
// (the form the app's own export writes, with a "row" key, which is ignored). A row without a label's key gets
// the label '' (so '' means "absent", and encodeSidecar leaves it out). Blank lines are skipped.
// Parsed in chunks, line by line; strings are deduplicated into the context's tables.
import type { ByteSource } from '../sources.ts';
import type { LabelColumn, TokenContext } from '../context.ts';
import { DataError } from '../errors.ts';

/** bytes read per chunk */
const CHUNK = 1 << 20;
/** keys with a meaning of their own; labels of these names are written under "labels" */
const RESERVED = new Set(['doc', 'sentence', 'pos', 'token', 'row', 'labels']);
const INT32_MAX = 2147483647;

type Fail = (problem: string) => DataError;

/** Parses a sidecar; with `expectedRows`, its row count must match the activation file's. */
export async function parseSidecar(src: ByteSource, expectedRows?: number): Promise<TokenContext> {
  const builder = new ContextBuilder(expectedRows ?? 1024);
  let line = 0;
  for await (const text of linesOf(src)) {
    line++;
    if (text.trim() === '') continue;
    builder.add(parseLine(text, (p) => new DataError(src.name, `line ${line}: ${p}`)));
  }
  const ctx = builder.finish();
  if (expectedRows !== undefined && ctx.rows !== expectedRows) {
    throw new DataError(src.name, `has ${ctx.rows} rows but the activation file has ${expectedRows}; the sidecar needs one line per activation row`);
  }
  return ctx;
}

/** the source's lines (without '\n'), decoded as UTF-8 chunk by chunk */
async function* linesOf(src: ByteSource): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let carry = '';
  for (let at = 0; at < src.size; at += CHUNK) {
    const bytes = await src.read(at, Math.min(CHUNK, src.size - at));
    carry += decode(decoder, bytes, true, src.name, at);
    const parts = carry.split('\n');
    carry = parts.pop()!;
    yield* parts;
  }
  carry += decode(decoder, new Uint8Array(0), false, src.name, src.size);
  if (carry !== '') yield carry;
}

function decode(decoder: TextDecoder, bytes: Uint8Array, stream: boolean, name: string, at: number): string {
  try {
    return decoder.decode(bytes, { stream });
  } catch {
    throw new DataError(name, `is not UTF-8 text (bad bytes in the chunk at byte ${at})`);
  }
}

/** one row's fields, checked */
interface Row {
  doc?: number;
  sentence?: number;
  pos?: number;
  token: string;
  labels: [string, string][];
}

/** one line → Row; `fail` puts the line number into every error */
function parseLine(text: string, fail: Fail): Row {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw fail(`expected a JSON object, got ${Array.isArray(json) ? 'an array' : JSON.stringify(json)}`);
  }
  const obj = json as Record<string, unknown>;
  if (!('token' in obj)) throw fail('no "token" (every line needs the token string)');
  if (typeof obj.token !== 'string') throw fail(`"token" must be a string, got ${JSON.stringify(obj.token)}`);
  return {
    doc: intField(obj, 'doc', fail),
    sentence: intField(obj, 'sentence', fail),
    pos: intField(obj, 'pos', fail),
    token: obj.token,
    labels: labelsOf(obj),
  };
}

/** an optional non-negative int32 field */
function intField(obj: Record<string, unknown>, key: string, fail: Fail): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > INT32_MAX) {
    throw fail(`"${key}" must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** string-valued extra keys, then the string entries of a nested "labels" object */
function labelsOf(obj: Record<string, unknown>): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (!RESERVED.has(k) && typeof v === 'string') out.push([k, v]);
  }
  const nested = obj.labels;
  if (typeof nested === 'string') out.push(['labels', nested]);
  else if (typeof nested === 'object' && nested !== null && !Array.isArray(nested)) {
    for (const [k, v] of Object.entries(nested)) if (typeof v === 'string') out.push([k, v]);
  }
  return out;
}

/** an Int32Array that grows by doubling */
class IntColumn {
  data: Int32Array;
  length = 0;

  constructor(capacity: number) {
    this.data = new Int32Array(Math.max(16, capacity));
  }

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Int32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  /** exactly `length` values */
  finish(): Int32Array {
    return this.length === this.data.length ? this.data : this.data.slice(0, this.length);
  }
}

/** a string table: string → id, in first-seen order */
class Interner {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();

  id(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(s, id);
      this.names.push(s);
    }
    return id;
  }
}

/** a label column under construction; rows before its first appearance get '' */
class LabelBuilder {
  readonly table = new Interner();
  readonly values: IntColumn;

  constructor(capacity: number, rowsBefore: number) {
    this.values = new IntColumn(capacity);
    if (rowsBefore > 0) {
      const missing = this.table.id('');
      for (let r = 0; r < rowsBefore; r++) this.values.push(missing);
    }
  }
}

/** rows appended one by one → TokenContext columns */
class ContextBuilder {
  private readonly doc: IntColumn;
  private readonly sentence: IntColumn;
  private readonly pos: IntColumn;
  private readonly token: IntColumn;
  private readonly strings = new Interner();
  private readonly labels = new Map<string, LabelBuilder>();
  private rows = 0;

  constructor(private readonly capacity: number) {
    this.doc = new IntColumn(capacity);
    this.sentence = new IntColumn(capacity);
    this.pos = new IntColumn(capacity);
    this.token = new IntColumn(capacity);
  }

  add(row: Row): void {
    const doc = row.doc ?? 0;
    const sentence = row.sentence ?? doc;
    this.doc.push(doc);
    this.sentence.push(sentence);
    this.pos.push(row.pos ?? this.nextPos(doc, sentence));
    this.token.push(this.strings.id(row.token));
    this.addLabels(row.labels);
    this.rows++;
  }

  /** previous pos + 1 while (doc, sentence) stays the same, else 0 */
  private nextPos(doc: number, sentence: number): number {
    const prev = this.rows - 1;
    if (prev < 0 || this.doc.data[prev] !== doc || this.sentence.data[prev] !== sentence) return 0;
    return this.pos.data[prev] + 1;
  }

  /** this row's labels; columns it lacks get '' */
  private addLabels(labels: [string, string][]): void {
    for (const [key, value] of labels) {
      let col = this.labels.get(key);
      if (!col) {
        col = new LabelBuilder(this.capacity, this.rows);
        this.labels.set(key, col);
      }
      if (col.values.length === this.rows) col.values.push(col.table.id(value)); // a repeated key: first wins
    }
    for (const col of this.labels.values()) {
      if (col.values.length === this.rows) col.values.push(col.table.id(''));
    }
  }

  finish(): TokenContext {
    const labels: Record<string, LabelColumn> = {};
    for (const [key, col] of this.labels) labels[key] = { values: col.values.finish(), names: col.table.names };
    return {
      rows: this.rows,
      doc: this.doc.finish(),
      sentence: this.sentence.finish(),
      pos: this.pos.finish(),
      token: this.token.finish(),
      strings: this.strings.names,
      labels,
    };
  }
}

/** rows per piece of encoded text */
const ENCODE_PIECE = 65536;

/** A context → the sidecar's bytes: one line per row, {"doc","sentence","pos","token", label: value, …}. */
export function encodeSidecar(ctx: TokenContext): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const pieces: Uint8Array[] = [];
  for (let start = 0; start < ctx.rows; start += ENCODE_PIECE) {
    const lines: string[] = [];
    for (let r = start; r < Math.min(ctx.rows, start + ENCODE_PIECE); r++) lines.push(encodeRow(ctx, r) + '\n');
    pieces.push(encoder.encode(lines.join('')));
  }
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** row r as one JSON object; labels of reserved names go under "labels", '' labels are left out */
function encodeRow(ctx: TokenContext, r: number): string {
  const token = ctx.strings[ctx.token[r]];
  if (token === undefined) throw new Error(`encodeSidecar: row ${r} has token index ${ctx.token[r]} outside its ${ctx.strings.length} strings`);
  const line: Record<string, unknown> = { doc: ctx.doc[r], sentence: ctx.sentence[r], pos: ctx.pos[r], token };
  const nested: Record<string, string> = {};
  for (const [key, col] of Object.entries(ctx.labels)) {
    const value = col.names[col.values[r]];
    if (value === undefined) throw new Error(`encodeSidecar: row ${r} has label '${key}' index ${col.values[r]} outside its ${col.names.length} names`);
    if (value === '') continue;
    if (RESERVED.has(key)) nested[key] = value;
    else line[key] = value;
  }
  if (Object.keys(nested).length > 0) line.labels = nested;
  return JSON.stringify(line);
}
