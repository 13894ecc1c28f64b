// The few ONNX protobuf messages the bench writes (onnx.proto, IR version 8): ModelProto, GraphProto,
// NodeProto, AttributeProto, TensorProto, ValueInfoProto. Protobuf's wire format is small enough to write by
// hand: a message is a list of (field number, wire type) keys, each followed by a varint, a fixed32 or a
// length-prefixed payload. Messages are kept as lists of byte chunks and joined once at the end, so a
// 500 MB weight is copied a single time.

/** Encoded bytes as chunks, with their total length. */
export class Buf {
  readonly parts: Uint8Array[] = [];
  length = 0;

  bytes(b: Uint8Array): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }

  /** an unsigned or negative (two's complement, 10 bytes) varint */
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
      const low = Number(x & 0x7fn);
      x >>= 7n;
      out.push(x ? low | 0x80 : low);
    } while (x);
    return this.bytes(Uint8Array.from(out));
  }

  key(field: number, wire: 0 | 2 | 5): this {
    return this.varint((field << 3) | wire);
  }

  int(field: number, v: number | bigint): this {
    return this.key(field, 0).varint(v);
  }

  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.key(field, 5).bytes(b);
  }

  raw(field: number, b: Uint8Array): this {
    return this.key(field, 2).varint(b.length).bytes(b);
  }

  str(field: number, s: string): this {
    return this.raw(field, new TextEncoder().encode(s));
  }

  message(field: number, m: Buf): this {
    this.key(field, 2).varint(m.length);
    for (const p of m.parts) this.bytes(p);
    return this;
  }

  join(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** TensorProto.DataType */
export const DType = { float: 1, int32: 6, int64: 7 } as const;
export type DTypeName = keyof typeof DType;

export interface Tensor {
  name: string;
  dims: number[];
  type: DTypeName;
  /** little-endian values (Float32Array / BigInt64Array / Int32Array) */
  data: Float32Array | BigInt64Array | Int32Array;
}

export function tensorProto(t: Tensor): Buf {
  const m = new Buf();
  for (const d of t.dims) m.int(1, d);
  m.int(2, DType[t.type]);
  m.str(8, t.name);
  // the typed array's own bytes (every platform the bench runs on is little-endian)
  return m.raw(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

export type Attr = number | number[] | string | { float: number };

/** AttributeProto: integers (INT / INTS), { float } (FLOAT), strings (STRING) */
function attributeProto(name: string, v: Attr): Buf {
  const m = new Buf().str(1, name);
  if (typeof v === 'number') return m.int(3, v).int(20, 2);
  if (typeof v === 'string') return m.str(4, v).int(20, 3);
  if (Array.isArray(v)) {
    for (const x of v) m.int(8, x);
    return m.int(20, 7);
  }
  return m.float(2, v.float).int(20, 1);
}

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, Attr>;
  domain?: string;
}

function nodeProto(n: Node, index: number): Buf {
  const m = new Buf();
  for (const i of n.inputs) m.str(1, i);
  for (const o of n.outputs) m.str(2, o);
  m.str(3, `${n.op}_${index}`);
  m.str(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) m.message(5, attributeProto(k, v));
  if (n.domain) m.str(7, n.domain);
  return m;
}

export interface ValueInfo {
  name: string;
  type: DTypeName;
  /** a number is a fixed size, a string a named (free) dimension */
  dims: (number | string)[];
}

function valueInfoProto(v: ValueInfo): Buf {
  const shape = new Buf();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new Buf().int(1, d) : new Buf().str(2, d));
  const tensorType = new Buf().int(1, DType[v.type]).message(2, shape);
  return new Buf().str(1, v.name).message(2, new Buf().message(1, tensorType));
}

export interface Graph {
  name: string;
  nodes: Node[];
  initializers: Tensor[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

/** ModelProto bytes of `graph` at the default domain's `opset`. */
export function modelProto(graph: Graph, opset: number, producer: string): Uint8Array {
  const g = new Buf();
  graph.nodes.forEach((n, i) => g.message(1, nodeProto(n, i)));
  g.str(2, graph.name);
  for (const t of graph.initializers) g.message(5, tensorProto(t));
  for (const v of graph.inputs) g.message(11, valueInfoProto(v));
  for (const v of graph.outputs) g.message(12, valueInfoProto(v));
  const m = new Buf();
  m.int(1, 8); // ir_version 8 (ONNX 1.12, opset 17)
  m.str(2, producer);
  m.message(7, g);
  m.message(8, new Buf().str(1, '').int(2, opset));
  return m.join();
}
