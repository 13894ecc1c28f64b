// Browser storage checks before an import: refuse up front when the dataset would not fit in the origin's
// quota (navigator.storage.estimate), and ask once for persistent storage so the browser does not evict
// datasets under pressure. Both are optional: absent in Node and old browsers, injectable for tests.
import { DataError } from './errors.ts';

/** the part of StorageManager the store uses */
export interface StorageLike {
  estimate?(): Promise<{ quota?: number; usage?: number }>;
  persist?(): Promise<boolean>;
  persisted?(): Promise<boolean>;
}

/** navigator.storage where there is one */
export function defaultStorage(): StorageLike | undefined {
  const nav = (globalThis as { navigator?: { storage?: StorageLike } }).navigator;
  return nav?.storage;
}

/**
 * What Chromium (138 on) reports as free to a site without unlimited storage, whatever it enforces: quota =
 * usage + min(10 GiB, the disk), so that the figure does not give away a private window. Free space reported
 * as exactly this says nothing of a larger dataset: the import goes ahead, and a full disk fails its write,
 * which removes everything written.
 */
export const REPORTED_FREE_CAP = 10 * 2 ** 30;

/** Throws when `needBytes` more would not fit; silent when the browser gives no estimate or only its capped figure. */
export async function checkQuota(storage: StorageLike | undefined, name: string, needBytes: number): Promise<void> {
  let estimate: { quota?: number; usage?: number } | undefined;
  try {
    estimate = await storage?.estimate?.();
  } catch {
    return; // no estimate: the write itself will report a full disk
  }
  const { quota, usage } = estimate ?? {};
  if (typeof quota !== 'number' || typeof usage !== 'number') return;
  const free = Math.max(0, quota - usage);
  if (needBytes > free && free !== REPORTED_FREE_CAP) {
    throw new DataError(
      name,
      `needs about ${formatBytes(needBytes)} of browser storage but only ${formatBytes(free)} is free ` +
        `(${formatBytes(usage)} of the ${formatBytes(quota)} quota used); delete datasets or free disk space and try again`,
    );
  }
}

/** asks for persistent storage once; true/false as granted, undefined when the browser cannot say */
export async function askPersist(storage: StorageLike | undefined): Promise<boolean | undefined> {
  try {
    if (await storage?.persisted?.()) return true;
    return await storage?.persist?.();
  } catch {
    return undefined;
  }
}

/** 1536 → "1.5 KiB" */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
}
