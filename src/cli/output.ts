// Writing a command's output folder all at once: files go to a temporary sibling folder that is renamed
// into place only when everything succeeded, so a failed run leaves nothing behind.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { CliError } from './args.ts';

/** Refuse an --out that already holds files, before any work is done. */
export function checkOutDir(out: string, force: boolean): void {
  if (existsSync(out) && readdirSync(out).length > 0 && !force) {
    throw new CliError(`${out}: output folder exists and is not empty; remove it or pass --force`);
  }
}

export async function writeFolder(out: string, files: Record<string, Uint8Array | string>): Promise<void> {
  await streamFolder(out, async (tmp) => {
    for (const [name, data] of Object.entries(files)) await writeFile(join(tmp, name), data);
  });
}

/**
 * An output folder written by `work` into a temporary sibling, renamed into place only when `work` succeeds
 * (a failure removes it): for outputs too large to hold in memory, which `work` writes as it goes.
 */
export async function streamFolder(out: string, work: (tmp: string) => Promise<void>): Promise<void> {
  const target = resolve(out);
  await mkdir(dirname(target), { recursive: true });
  const tmp = await mkdtemp(join(dirname(target), `.${basename(target)}.partial-`));
  try {
    await work(tmp);
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Write files next to each other atomically (each via a temporary name, renamed when all are written). */
export async function writeFiles(files: Record<string, Uint8Array | string>): Promise<void> {
  const temps: [string, string][] = [];
  try {
    for (const [path, data] of Object.entries(files)) {
      await mkdir(dirname(resolve(path)), { recursive: true });
      const tmp = `${path}.partial-${process.pid}`;
      temps.push([tmp, path]);
      await writeFile(tmp, data);
    }
    for (const [tmp, path] of temps) await rename(tmp, path);
  } catch (e) {
    for (const [tmp] of temps) await rm(tmp, { force: true });
    throw e;
  }
}
