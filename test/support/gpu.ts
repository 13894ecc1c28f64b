// Test support: one GPU device per test file (Dawn in Node, SwiftShader without a GPU), buffer helpers,
// and the comparison every kernel test uses. A missing adapter FAILS the tests: nothing is skipped.
import { afterAll, expect } from 'vitest';
import { requestNodeDevice } from '../../src/engine/node-device.ts';
import { readBuffer, storage, writeArray } from '../../src/engine/kernel.ts';

let gpu: Promise<GPUDevice> | undefined;

export function getDevice(): Promise<GPUDevice> {
  if (!gpu) {
    gpu = requestNodeDevice().then((g) => g.device);
    afterAll(async () => (await gpu!).destroy());
  }
  return gpu;
}

/** A storage buffer holding `data`. */
export function upload(device: GPUDevice, data: Float32Array | Uint32Array, label = 'input'): GPUBuffer {
  const buf = storage(device, label, data.byteLength);
  writeArray(device, buf, 0, data);
  return buf;
}

/** A storage buffer of `n` floats, all NaN, so anything a kernel fails to write shows up. */
export function poisoned(device: GPUDevice, n: number, label = 'output'): GPUBuffer {
  return upload(device, new Float32Array(n).fill(NaN), label);
}

export async function download(device: GPUDevice, buf: GPUBuffer, n?: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(device, buf, 0, n === undefined ? buf.size : n * 4));
}

export async function downloadU32(device: GPUDevice, buf: GPUBuffer, n: number): Promise<Uint32Array> {
  return new Uint32Array(await readBuffer(device, buf, 0, n * 4));
}

/** Runs `fn` inside a validation error scope and fails on any validation error. */
export async function noValidationErrors<T>(device: GPUDevice, fn: () => Promise<T> | T): Promise<T> {
  device.pushErrorScope('validation');
  const out = await fn();
  const err = await device.popErrorScope();
  expect(err?.message ?? null).toBeNull();
  return out;
}

/** ‖a − b‖ / ‖b‖ in float64; NaN anywhere makes it NaN (and so fails any bound). */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.sqrt(den || 1);
}

export function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what = 'values'): void {
  const err = relError(a, b);
  expect(Number.isFinite(err), `${what}: non-finite error (unwritten or NaN output)`).toBe(true);
  expect(err, `${what}: relative error`).toBeLessThan(tol);
}

/** Uniform random floats in [lo, hi) from a seeded generator (tests are reproducible). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}
