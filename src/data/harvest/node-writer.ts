// Node-only output of a harvest, streamed so a large harvest never sits in memory whole: rows go to
// activations.npy and context lines to tokens.jsonl inside a temporary sibling folder, which is renamed
// into place only when everything is written (as src/cli/output.ts writeFolder does for small outputs).
// The .npy header is written first for the rows asked for and rewritten at the end for the rows written;
// its length does not depend on the row count (NumPy leaves room for the first axis to grow).
import { mkdir, mkdtemp, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { npyHeader } from '../formats/npy.ts';

export class HarvestFolderWriter {
  private rows = 0;

  private constructor(
    private readonly target: string,
    private readonly tmp: string,
    private readonly d: number,
    private readonly npy: FileHandle,
    private readonly jsonl: FileHandle,
  ) {}

  /** Starts DIR's temporary sibling with activations.npy (header for `expectedRows` × d) and tokens.jsonl. */
  static async open(out: string, d: number, expectedRows: number): Promise<HarvestFolderWriter> {
    const target = resolve(out);
    await mkdir(dirname(target), { recursive: true });
    const tmp = await mkdtemp(join(dirname(target), `.${basename(target)}.partial-`));
    try {
      const npy = await open(join(tmp, 'activations.npy'), 'w');
      const jsonl = await open(join(tmp, 'tokens.jsonl'), 'w');
      await npy.write(npyHeader([expectedRows, d]));
      return new HarvestFolderWriter(target, tmp, d, npy, jsonl);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** appends rows (count × d) and their context objects, one JSON line each */
  async append(rows: Float32Array, context: object[]): Promise<void> {
    if (rows.length !== context.length * this.d) throw new Error(`HarvestFolderWriter: ${rows.length} values for ${context.length} rows of ${this.d}`);
    await this.npy.write(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
    await this.jsonl.write(context.map((c) => JSON.stringify(c) + '\n').join(''));
    this.rows += context.length;
  }

  /** Fixes the header for the rows written, adds the small files, and renames the folder into place. */
  async commit(files: Record<string, string>): Promise<void> {
    try {
      await this.npy.write(npyHeader([this.rows, this.d]), 0, undefined, 0);
      await this.closeFiles();
      for (const [name, text] of Object.entries(files)) await writeFile(join(this.tmp, name), text);
      await rm(this.target, { recursive: true, force: true });
      await rename(this.tmp, this.target);
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  /** Leaves nothing behind. */
  async abort(): Promise<void> {
    await this.closeFiles().catch(() => {});
    await rm(this.tmp, { recursive: true, force: true });
  }

  private async closeFiles(): Promise<void> {
    await Promise.all([this.npy.close(), this.jsonl.close()]);
  }
}
