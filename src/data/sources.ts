// The two small interfaces everything that moves data is built on.
// Formats, stores and the trainer meet here and know nothing else of one another.

/** Random-access bytes: a File/Blob, a Node file handle, an IndexedDB store, or memory. */
export interface ByteSource {
  /** total length in bytes */
  readonly size: number;
  /** name shown in error messages (a path or file name) */
  readonly name: string;
  /** exactly `length` bytes from `offset`; rejects if the range is outside the source */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A 2-D table of activation rows (N × d) readable in any order, converted to float32. */
export interface RowSource {
  readonly name: string;
  readonly rows: number;
  readonly d: number;
  /** rows [start, start + count) as one row-major Float32Array */
  readRows(start: number, count: number): Promise<Float32Array>;
}

/** Training batches: the batch for step t is a pure function of (seed, t), so a run resumes from its step alone. */
export interface BatchSource {
  readonly d: number;
  readonly batchSize: number;
  /** batchSize × d raw (unscaled) rows, row-major */
  batch(step: number): Promise<Float32Array>;
}
