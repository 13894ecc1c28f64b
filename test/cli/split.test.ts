// sae-lab split, run in-process (parsed exactly as the binary parses it): two tiny SAELens folders whose
// decoders split in a known way, the JSON report and summary line, --out, and the refusals.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeSaelens } from '../../src/data/formats/saelens.ts';
import type { SaeWeights } from '../../src/engine/sae.ts';
import { CliError, helpText, parseCommand } from '../../src/cli/args.ts';
import { splitCommand } from '../../src/cli/splitting.ts';

const dir = mkdtempSync(join(tmpdir(), 'sae-lab-split-'));

function writeSae(name: string, decoder: number[][]): string {
  const F = decoder.length;
  const d = decoder[0]!.length;
  const sae: SaeWeights = {
    arch: 'standard', d, features: F, applyBDecToInput: false,
    W_enc: Float32Array.from({ length: d * F }, (_, i) => (i % 3) - 1), b_enc: new Float32Array(F),
    W_dec: Float32Array.from(decoder.flat()), b_dec: new Float32Array(d), metadata: {},
  };
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  for (const [file, bytes] of Object.entries(encodeSaelens(sae, undefined))) writeFileSync(join(folder, file), bytes);
  return folder;
}

/** runs `sae-lab split ARGS` in this process; stdout and stderr captured */
async function split(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await splitCommand.run(parseCommand(splitCommand, args));
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

let small = '';
let large = '';
let wide = '';

describe('sae-lab split', () => {
  beforeAll(() => {
    small = writeSae('small', [
      [2, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 0.5, 0],
    ]);
    large = writeSae('large', [
      [0, 1, 0.25, 0], // 1
      [1, 0.25, 0, 0], // 0
      [0.25, 0, 0.25, 1], // as near parent 0 as parent 2, both below the threshold: new, nearest 0
      [0, 1, 0, 0.25], // 1
      [0, 0, 3, 0], // 2
      [1, 0, -0.25, 0.25], // 0
      [0, 2, 0, 0], // 1
    ]);
    wide = writeSae('wide', [[1, 0, 0, 0, 0]]);
  });
  afterEach(() => vi.restoreAllMocks());

  it('prints the families, biggest first, with cosines and counts, and a one-line summary', async () => {
    const r = await split('--small', small, '--large', large);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ small: { dir: small, features: 3 }, large: { dir: large, features: 7 }, d_in: 4, threshold: 0.5 });
    expect(report.counts).toEqual({ small: 3, large: 7, splits: 2, single: 1, childless: 0, linked: 6, new: 1 });
    const c = (x: number, ...rest: number[]) => Math.round((x / Math.hypot(x, ...rest)) * 1e6) / 1e6;
    expect(report.families).toEqual([
      { parent: 1, children: [{ feature: 6, cosine: 1 }, { feature: 0, cosine: c(1, 0.25) }, { feature: 3, cosine: c(1, 0.25) }], nearest: { feature: 6, cosine: 1 } },
      { parent: 0, children: [{ feature: 1, cosine: c(1, 0.25) }, { feature: 5, cosine: c(1, 0.25, 0.25) }], nearest: { feature: 1, cosine: c(1, 0.25) } },
      { parent: 2, children: [{ feature: 4, cosine: 1 }], nearest: { feature: 4, cosine: 1 } },
    ]);
    expect(report.new).toEqual([{ feature: 2, nearest: { feature: 0, cosine: c(0.25, 0.25, 1) } }]);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(`2 of 3 features of ${small} split into ≥ 2 features of ${large} at decoder cosine ≥ 0.5; 1 map to one, 0 to none; 1 of 7 large features are new`);
  });

  it('also writes every link both ways to --out; a higher threshold leaves fewer children', async () => {
    const out = join(dir, 'reports', 'split.json');
    const r = await split('--small', small, '--large', large, '--threshold', '0.96', '--out', out);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.counts).toEqual({ small: 3, large: 7, splits: 1, single: 2, childless: 0, linked: 5, new: 2 });
    expect(report.families.map((f: { parent: number; children: { feature: number }[] }) => [f.parent, f.children.map((x) => x.feature)])).toEqual([
      [1, [6, 0, 3]],
      [0, [1]],
      [2, [4]],
    ]);
    expect(report.new.map((n: { feature: number }) => n.feature)).toEqual([2, 5]);
    const full = JSON.parse(readFileSync(out, 'utf8'));
    expect({ ...full, links: undefined }).toEqual({ ...report, links: undefined });
    expect(full.links.large_parent).toEqual([1, 0, 0, 1, 2, 0, 1]);
    expect(full.links.small_nearest).toEqual([1, 6, 4]);
    expect(full.links.small_cosine).toEqual([Math.round((1 / Math.hypot(1, 0.25)) * 1e6) / 1e6, 1, 1]);
    expect(full.links.large_cosine[2]).toBeCloseTo(0.25 / Math.hypot(0.25, 0.25, 1), 6);
  });

  it('refuses SAEs of different d_in in one line naming both folders, and writes nothing', async () => {
    const out = join(dir, 'refused.json');
    const err = await split('--small', small, '--large', wide, '--out', out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    const message = (err as CliError).message;
    expect(message).not.toContain('\n');
    expect(message).toContain(`${small} has d_in=4`);
    expect(message).toContain(`${wide} has d_in=5`);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a threshold outside [0, 1], a missing option and a missing folder', async () => {
    await expect(split('--small', small, '--large', large, '--threshold', '1.5')).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/--threshold must be a number in \[0, 1\], got '1.5'/) });
    await expect(split('--small', small, '--large', large, '--threshold', 'half')).rejects.toMatchObject({ exitCode: 2 });
    await expect(split('--small', small)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/--large is required/) });
    await expect(split('--small', join(dir, 'nowhere'), '--large', large)).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/nowhere.*cfg\.json: not found/) });
  });

  it('refuses a decoder holding NaN, naming the weights file and the row', async () => {
    const broken = writeSae('broken', [[1, 0, 0, 0], [0, NaN, 0, 0]]);
    // refused when the folder is read, as every command reads it
    await expect(split('--small', broken, '--large', large)).rejects.toThrow(`${join(broken, 'sae_weights.safetensors')}: tensor 'W_dec' holds NaN at row 1, column 1`);
  });

  it('lists its options in --help', () => {
    const help = helpText(splitCommand);
    expect(help).toContain('Usage: sae-lab split --small DIR --large DIR [--threshold 0.5] [--out FILE.json]');
    for (const o of ['--small', '--large', '--threshold', '--out']) expect(help).toContain(o);
    expect(help).toContain('(default 0.5)');
  });
});
