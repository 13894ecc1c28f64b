// Reading fields of a Hugging Face config.json: each refusal names the file, the key and what is wrong.
import { DataError } from '../../data/errors.ts';

export type Json = Record<string, unknown>;

export class ConfigReader {
  constructor(
    readonly json: Json,
    readonly file: string,
  ) {}

  fail(problem: string): DataError {
    return new DataError(this.file, problem);
  }

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  /** a whole number ≥ min; `fallback` where the key is absent or null */
  int(key: string, fallback?: number, min = 1): number {
    const v = this.has(key) ? this.json[key] : fallback;
    if (v === undefined) throw this.fail(`'${key}' is missing`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw this.fail(`'${key}' must be a whole number ≥ ${min}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** a finite positive number */
  positive(key: string, fallback?: number): number {
    const v = this.has(key) ? this.json[key] : fallback;
    if (v === undefined) throw this.fail(`'${key}' is missing`);
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw this.fail(`'${key}' must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.has(key) ? this.json[key] : fallback;
    if (typeof v !== 'boolean') throw this.fail(`'${key}' must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** one of `allowed`; anything else is refused naming the key and its value */
  oneOf<T extends string>(key: string, allowed: readonly T[], fallback?: T): T {
    const v = this.has(key) ? this.json[key] : fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      throw this.fail(`'${key}' is ${JSON.stringify(v)}; supported: ${allowed.join(', ')}`);
    }
    return v as T;
  }

  /** refuses a key whose value is not the one the engine implements */
  expect(key: string, ok: (v: unknown) => boolean, what: string): void {
    if (this.has(key) && !ok(this.json[key])) throw this.fail(`'${key}' = ${JSON.stringify(this.json[key])} is not supported (${what})`);
  }

  /** a token id or list of ids (bos/eos) */
  ids(key: string): number[] {
    const v = this.json[key];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) throw this.fail(`'${key}' must be a token id or a list of them, got ${JSON.stringify(v)}`);
    return list as number[];
  }
}
