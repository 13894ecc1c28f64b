// Byte sources: memory, Blob/File and Node file handles read exact ranges and reject out-of-range reads by name.
import { describe, expect, it, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemorySource } from '../../src/data/memory-source.ts';
import { BlobSource } from '../../src/data/blob-source.ts';
import { openFileSource } from '../../src/data/node-file.ts';
import { DataError } from '../../src/data/errors.ts';
import type { ByteSource } from '../../src/data/sources.ts';
import { encodeNpy, openNpy } from '../../src/data/formats/npy.ts';

const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 255);
const dir = await mkdtemp(join(tmpdir(), 'sae-lab-sources-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function checkSource(src: ByteSource, name: string): Promise<void> {
  expect(src.size).toBe(1000);
  expect(src.name).toBe(name);
  expect([...(await src.read(10, 5))]).toEqual([...bytes.subarray(10, 15)]);
  expect((await src.read(0, 1000)).length).toBe(1000);
  expect((await src.read(1000, 0)).length).toBe(0);
  await expect(src.read(990, 11)).rejects.toThrow(`${name}: read of 11 bytes at offset 990 is outside the source (1000 bytes)`);
  await expect(src.read(-1, 2)).rejects.toThrow(DataError);
  await expect(src.read(0.5, 2)).rejects.toThrow(`${name}: read of 2 bytes at offset 0.5`);
}

describe('byte sources', () => {
  it('MemorySource reads ranges and rejects outside them', async () => {
    await checkSource(new MemorySource(bytes, 'mem.bin'), 'mem.bin');
  });

  it('BlobSource reads a Blob by slice and takes a File name', async () => {
    await checkSource(new BlobSource(new Blob([bytes]), 'blob.bin'), 'blob.bin');
    await checkSource(new BlobSource(new File([bytes], 'upload.npy')), 'upload.npy');
  });

  it('openFileSource reads a real file and closes', async () => {
    const path = join(dir, 'data.bin');
    await writeFile(path, bytes);
    const src = await openFileSource(path);
    try {
      await checkSource(src, path);
    } finally {
      await src.close();
    }
  });

  it('openFileSource rejects a missing file and a directory', async () => {
    await expect(openFileSource(join(dir, 'missing.npy'))).rejects.toThrow(/ENOENT/);
    await expect(openFileSource(dir)).rejects.toThrow(`${dir}: not a regular file`);
  });

  it('an .npy file on disk and in a File reads the same rows', async () => {
    const data = Float32Array.from({ length: 600 * 4 }, (_, i) => i / 7);
    const npy = encodeNpy(data, [600, 4]);
    const path = join(dir, 'acts.npy');
    await writeFile(path, npy);
    const file = await openFileSource(path);
    try {
      const fromDisk = await openNpy(file);
      const fromBlob = await openNpy(new BlobSource(new File([npy], 'acts.npy')));
      expect(await fromDisk.readRows(300, 5)).toEqual(data.subarray(1200, 1220));
      expect(await fromBlob.readRows(300, 5)).toEqual(data.subarray(1200, 1220));
    } finally {
      await file.close();
    }
  });
});
