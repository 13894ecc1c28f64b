// BlobSource: a ByteSource over a browser File or Blob, reading only the requested slice.
import type { ByteSource } from './sources.ts';
import { DataError, checkReadRange } from './errors.ts';

export class BlobSource implements ByteSource {
  readonly size: number;
  readonly name: string;

  /** name defaults to the File's name, or 'blob' */
  constructor(
    private readonly blob: Blob,
    name?: string,
  ) {
    this.size = blob.size;
    this.name = name ?? ((blob as Partial<File>).name || 'blob');
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkReadRange(this.name, this.size, offset, length);
    const buf = await this.blob.slice(offset, offset + length).arrayBuffer();
    if (buf.byteLength !== length) {
      throw new DataError(this.name, `read ${buf.byteLength} of ${length} bytes at offset ${offset}; did the file change?`);
    }
    return new Uint8Array(buf);
  }
}

export function blobSource(blob: Blob, name?: string): BlobSource {
  return new BlobSource(blob, name);
}
