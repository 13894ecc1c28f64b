// MemorySource: a ByteSource over bytes already in memory (tests, small uploads, generated data).
import type { ByteSource } from './sources.ts';
import { checkReadRange } from './errors.ts';

export class MemorySource implements ByteSource {
  readonly size: number;

  constructor(
    private readonly bytes: Uint8Array,
    readonly name = 'memory',
  ) {
    this.size = bytes.byteLength;
  }

  /** A view (not a copy) of bytes [offset, offset + length); callers must not write to it. */
  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      checkReadRange(this.name, this.size, offset, length);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve(this.bytes.subarray(offset, offset + length));
  }
}

export function memorySource(bytes: Uint8Array, name = 'memory'): MemorySource {
  return new MemorySource(bytes, name);
}
