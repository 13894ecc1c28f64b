// Seeded 32-bit hashing and a small deterministic PRNG: the held-out split, batch order, initialisation,
// synthetic data, the tuner's test rows and sampling. Pure functions of their integer arguments, the same in
// Node and the browser.

/** MurmurHash3's 32-bit finaliser: a bijective mix of a 32-bit word. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** an integer in [0, 2^53) (or negative) → [lo, hi] 32-bit words */
function words(n: number): [number, number] {
  if (!Number.isSafeInteger(n)) throw new Error(`hash input must be a safe integer, got ${n}`);
  const lo = n >>> 0;
  const hi = Math.floor(n / 4294967296) >>> 0;
  return [lo, hi];
}

/** Hash of a list of safe integers → uint32. Order matters: hashInts(a, b) ≠ hashInts(b, a). */
export function hashInts(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    const [lo, hi] = words(v);
    h = fmix32(h ^ lo);
    h = fmix32((h + 0x6a09e667) ^ hi);
  }
  return fmix32(h ^ values.length);
}

/** A seeded PRNG (mulberry32 over a hashed seed): next() → uint32, float() → [0, 1). */
export class Rng {
  private state: number;
  private spare: number | undefined;

  constructor(...seed: number[]) {
    this.state = hashInts(...seed);
  }

  /** uint32 */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** uniform in [0, 1) with 53 random bits */
  float(): number {
    return (this.next() * 2097152 + (this.next() >>> 11)) / 9007199254740992;
  }

  /** uniform integer in [0, n) (n ≤ 2^32), without modulo bias */
  int(n: number): number {
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const r = this.next();
      if (r < limit) return r % n;
    }
  }

  /** standard normal (Box–Muller, the second value kept for the next call) */
  gaussian(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place */
  shuffle<A extends { length: number; [i: number]: number }>(a: A): A {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }
}
