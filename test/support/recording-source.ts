// A ByteSource wrapper for tests of streaming: it records the length of every read.
import type { ByteSource } from '../../src/data/sources.ts';

export class RecordingSource implements ByteSource {
  readonly reads: number[] = [];
  constructor(private readonly inner: ByteSource) {}
  get size() {
    return this.inner.size;
  }
  get name() {
    return this.inner.name;
  }
  /** total bytes read so far */
  get bytesRead(): number {
    return this.reads.reduce((a, b) => a + b, 0);
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.reads.push(length);
    return this.inner.read(offset, length);
  }
}
