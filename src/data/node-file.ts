// Node-only ByteSource over a file on disk (a FileHandle); reads only the requested range.
import { open, type FileHandle } from 'node:fs/promises';
import type { ByteSource } from './sources.ts';
import { DataError, checkReadRange } from './errors.ts';

export interface FileSource extends ByteSource {
  close(): Promise<void>;
}

class NodeFileSource implements FileSource {
  constructor(
    private readonly handle: FileHandle,
    readonly name: string,
    readonly size: number,
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkReadRange(this.name, this.size, offset, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
      if (bytesRead === 0) {
        throw new DataError(this.name, `file ended after ${offset + done} bytes while reading; did it change?`);
      }
      done += bytesRead;
    }
    return out;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** Opens `path` for reading; the source is named by the path as given. Close it when done. */
export async function openFileSource(path: string): Promise<FileSource> {
  const handle = await open(path, 'r');
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new DataError(path, 'not a regular file');
    return new NodeFileSource(handle, path, stat.size);
  } catch (err) {
    await handle.close();
    throw err;
  }
}
