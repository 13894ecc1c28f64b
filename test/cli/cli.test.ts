// The CLI as a user runs it (a child process through bin/sae-lab.js): synth → train → eval round trip,
// and bad input: a one-line error naming the file and the problem, non-zero exit, nothing written to --out.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeNpy } from '../../src/data/formats/npy.ts';
import { HOOK, makeCache } from '../support/arrow-cache.ts';
import { expectRefused, runCli, runCliAsync } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'sae-lab-cli-'));
const cli = (...args: string[]) => runCli(dir, ...args);

describe('sae-lab CLI', () => {
  beforeAll(() => {
    const r = cli('synth', '--out', 'gt.npy', '--d', '8', '--features', '24', '--rows', '3000', '--seed', '3');
    expect(r.code, r.stderr).toBe(0);
  });

  it('synth writes the data and its true directions', () => {
    expect(readFileSync(join(dir, 'gt.npy')).length).toBe(128 + 3000 * 8 * 4);
    expect(readFileSync(join(dir, 'gt.truth.npy')).length).toBe(128 + 24 * 8 * 4);
  });

  for (const arch of ['standard', 'topk']) {
    it(`train ${arch} writes a SAELens folder whose metrics eval reproduces`, () => {
      const out = `sae-${arch}`;
      const r = cli('train', '--data', 'gt.npy', '--arch', arch, '--features', '32', '--k', '3', '--steps', '30', '--batch', '64', '--out', out);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/step 30\/30/);
      for (const f of ['cfg.json', 'sae_weights.safetensors', 'sparsity.safetensors', 'metrics.json']) expect(existsSync(join(dir, out, f))).toBe(true);
      const cfg = JSON.parse(readFileSync(join(dir, out, 'cfg.json'), 'utf8'));
      expect(cfg).toMatchObject({ d_in: 8, d_sae: 32, architecture: arch, apply_b_dec_to_input: arch === 'topk', normalize_activations: 'none' });
      const metrics = JSON.parse(readFileSync(join(dir, out, 'metrics.json'), 'utf8'));
      for (const k of ['fvu', 'mse_per_token', 'l0', 'dead_frac_eval', 'dead_frac_train', 'dense_frac', 'steps', 'tokens', 'seconds', 'tokens_per_s', 'adapter', 'held_out', 'seed']) {
        expect(metrics, k).toHaveProperty(k);
      }
      expect(metrics.held_out).toMatchObject({ kind: 'blocks', block_rows: 256, seed: 0 });
      // the start-up tuner chose a variant for each of the step's GEMMs and says so
      const roles = arch === 'standard' ? ['backprop', 'decode', 'encode', 'gradDec', 'gradEnc'] : ['encode'];
      expect(Object.keys(metrics.kernels.matmul).sort()).toEqual(roles);
      expect(metrics.tuning).toHaveLength(roles.length);
      expect(r.stderr).toMatch(/GEMM kernels \((cached|tuned in [\d.]+ s)\)/);
      const ev = cli('eval', '--sae', out, '--data', 'gt.npy', '--truth', 'gt.truth.npy');
      expect(ev.code, ev.stderr).toBe(0);
      const again = JSON.parse(ev.stdout);
      for (const k of ['fvu', 'mse_per_token', 'l0', 'dead_frac_eval', 'dense_frac']) {
        expect(Math.abs(again[k] - metrics[k]), k).toBeLessThanOrEqual(0.01 * Math.abs(metrics[k]) + 1e-12);
      }
      expect(again.mmcs).toBeGreaterThan(0);
      expect(again.mmcs).toBeLessThanOrEqual(1);
    });
  }

  it('a second run on the same machine takes the tuner\'s choices from its cache, and --no-tune skips it', () => {
    const args = ['train', '--data', 'gt.npy', '--features', '32', '--steps', '5', '--batch', '64', '--force'];
    const first = cli(...args, '--out', 'tune-a');
    expect(first.code, first.stderr).toBe(0);
    const second = cli(...args, '--out', 'tune-b');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/GEMM kernels \(cached\)/);
    const kernels = (out: string) => JSON.parse(readFileSync(join(dir, out, 'metrics.json'), 'utf8')).kernels;
    expect(kernels('tune-b')).toEqual(kernels('tune-a'));
    const off = cli(...args, '--out', 'tune-c', '--no-tune');
    expect(off.code, off.stderr).toBe(0);
    expect(off.stderr).not.toMatch(/GEMM kernels/);
    // d = 8 and F = 32 are multiples of 4: the defaults are vec8x8 where no operand is transposed, else vec4x8
    expect(kernels('tune-c').matmul).toEqual({ encode: 'vec8x8', decode: 'vec8x8', backprop: 'vec4x8', gradDec: 'vec4x8', gradEnc: 'vec4x8' });
  });

  it('with a token sidecar, held-out rows are whole documents, and eval needs the sidecar too', () => {
    const lines = Array.from({ length: 3000 }, (_, r) => JSON.stringify({ doc: Math.floor(r / 150), token: `t${r % 7}` }));
    writeFileSync(join(dir, 'gt.tokens.jsonl'), lines.join('\n') + '\n');
    const r = cli('train', '--data', 'gt.npy', '--sidecar', 'gt.tokens.jsonl', '--features', '16', '--steps', '10', '--batch', '64', '--no-tune', '--out', 'sae-docs');
    expect(r.code, r.stderr).toBe(0);
    const metrics = JSON.parse(readFileSync(join(dir, 'sae-docs', 'metrics.json'), 'utf8'));
    expect(metrics.held_out).toMatchObject({ kind: 'documents', seed: 0 });
    expect(metrics.held_out.rows % 150).toBe(0);
    expectRefused(cli('eval', '--sae', 'sae-docs', '--data', 'gt.npy'), 'gt.npy', 'by document');
    const ev = cli('eval', '--sae', 'sae-docs', '--data', 'gt.npy', '--sidecar', 'gt.tokens.jsonl');
    expect(ev.code, ev.stderr).toBe(0);
    expect(Math.abs(JSON.parse(ev.stdout).fvu - metrics.fvu)).toBeLessThanOrEqual(0.01 * metrics.fvu);
  });

  it('features reports label purity on the held-out documents; a missing label column is refused', () => {
    // a label per row: 'even' or 'odd' by the row's token, so features can be specific to one of them
    const lines = Array.from({ length: 3000 }, (_, r) => JSON.stringify({ doc: Math.floor(r / 150), token: `t${r % 7}`, parity: r % 7 % 2 ? 'odd' : 'even' }));
    writeFileSync(join(dir, 'gt.labels.jsonl'), lines.join('\n') + '\n');
    const r = cli('features', '--sae', 'sae-docs', '--data', 'gt.npy', '--sidecar', 'gt.labels.jsonl', '--label', 'parity', '--min-purity', '0.5', '--min-tokens', '1', '--out', 'features.json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    const metrics = JSON.parse(readFileSync(join(dir, 'sae-docs', 'metrics.json'), 'utf8'));
    expect(report.rows).toBe(metrics.held_out.rows);
    expect(report.count).toBe(report.features.length);
    for (const f of report.features) {
      expect(['even', 'odd']).toContain(f.label);
      expect(f.purity).toBeGreaterThanOrEqual(0.5);
      expect(f.purity).toBeLessThanOrEqual(1);
      expect(f.lift).toBeGreaterThan(0);
    }
    const all = JSON.parse(readFileSync(join(dir, 'features.json'), 'utf8'));
    expect(all.features.length).toBeGreaterThan(0);
    expect(all.features.length).toBeLessThanOrEqual(16);
    expectRefused(cli('features', '--sae', 'sae-docs', '--data', 'gt.npy', '--sidecar', 'gt.tokens.jsonl'), 'gt.tokens.jsonl', "no label column 'upos'");
  });

  it('trains on a SAELens activation cache (a folder of datasets Arrow shards)', async () => {
    const cache = makeCache({ ctx: 64, d: 6, shards: [[5, 5], [6]] });
    mkdirSync(join(dir, 'cache'));
    for (const f of cache.files) writeFileSync(join(dir, 'cache', f.name.split('/').pop()!), await f.source.read(0, f.source.size));
    const r = cli('train', '--data', 'cache', '--features', '12', '--steps', '5', '--batch', '32', '--no-tune', '--out', 'sae-arrow');
    expect(r.code, r.stderr).toBe(0);
    const metrics = JSON.parse(readFileSync(join(dir, 'sae-arrow', 'metrics.json'), 'utf8'));
    expect(metrics.data).toMatchObject({ rows: 16 * 64, d: 6 });
    expect(metrics.held_out).toMatchObject({ kind: 'documents' });
    expect(metrics.held_out.rows % 64).toBe(0); // one document per cached context
    // the cache's column names the hook, so SAELens can attach the SAE where its activations came from
    expect(JSON.parse(readFileSync(join(dir, 'sae-arrow', 'cfg.json'), 'utf8')).metadata.hook_name).toBe(HOOK);
    const named = cli('train', '--data', 'cache', '--features', '12', '--steps', '2', '--batch', '32', '--no-tune', '--hook-name', 'blocks.3.hook_resid_post', '--model-name', 'gpt2', '--out', 'sae-named');
    expect(named.code, named.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'sae-named', 'cfg.json'), 'utf8')).metadata).toMatchObject({ hook_name: 'blocks.3.hook_resid_post', model_name: 'gpt2' });
  });

  it('every command has --help', async () => {
    // in this process: a dozen node start-ups to print text would cost more than the rest of the file's checks
    const commands = ['synth', 'train', 'sweep', 'eval', 'encode', 'features', 'fidelity', 'split', 'bench', 'effects', 'attribute', 'concept'];
    const { main } = await import('../../src/cli/main.ts');
    for (const c of commands) {
      let out = '';
      const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
      try {
        expect(await main([c, '--help'])).toBe(0);
      } finally {
        write.mockRestore();
      }
      expect(out).toContain(`sae-lab ${c}`);
    }
  });

  // independent refusals, each its own process: side by side
  describe.concurrent('bad input', () => {
    const train = (data: string, ...more: string[]) => runCliAsync(dir, 'train', '--data', data, '--out', 'never', '--steps', '5', ...more);
    const afterEach = () => expect(existsSync(join(dir, 'never'))).toBe(false);

    it('a missing file', async () => {
      expectRefused(await train('missing.npy'), 'missing.npy', 'cannot open');
      afterEach();
    });
    it('a malformed file (wrong magic)', async () => {
      writeFileSync(join(dir, 'junk.npy'), 'this is not a numpy file at all, not even close');
      expectRefused(await train('junk.npy'), 'junk.npy');
      afterEach();
    });
    it('a truncated file', async () => {
      writeFileSync(join(dir, 'short.npy'), readFileSync(join(dir, 'gt.npy')).subarray(0, 5000));
      expectRefused(await train('short.npy'), 'short.npy');
      afterEach();
    });
    it('a wrong dtype', async () => {
      const bytes = Buffer.from(encodeNpy(new Float32Array(600 * 4), [600, 4]));
      bytes.write("'<i4'", bytes.indexOf("'<f4'"), 'latin1');
      writeFileSync(join(dir, 'ints.npy'), bytes);
      expectRefused(await train('ints.npy'), 'ints.npy', '<i4');
      afterEach();
    });
    it('a wrong shape (1-D)', async () => {
      writeFileSync(join(dir, 'flat.npy'), encodeNpy(new Float32Array(4096), [4096]));
      expectRefused(await train('flat.npy'), 'flat.npy');
      afterEach();
    });
    it('NaN rows are refused', async () => {
      const data = new Float32Array(600 * 4).fill(1);
      data[4 * 123 + 2] = NaN;
      writeFileSync(join(dir, 'nan.npy'), encodeNpy(data, [600, 4]));
      expectRefused(await train('nan.npy'), 'nan.npy', 'NaN', 'row 123');
      afterEach();
    });
    it('an unsupported extension', async () => {
      writeFileSync(join(dir, 'data.csv'), '1,2,3\n');
      expectRefused(await train('data.csv'), 'data.csv', 'unsupported');
      afterEach();
    });
    it('a dictionary too large for the device', async () => {
      expectRefused(await train('gt.npy', '--features', '200000000'), 'features', 'MiB');
      afterEach();
    });
    it('Matryoshka widths that do not nest', async () => {
      expectRefused(await train('gt.npy', '--arch', 'matryoshka', '--features', '32', '--widths', '16,8,32'), '--widths', 'must increase');
      expectRefused(await train('gt.npy', '--arch', 'matryoshka', '--features', '32', '--widths', '8,16'), '--widths', 'end at the dictionary size 32');
      afterEach();
    });
    it('--fidelity on activations that sae-lab harvest did not write', async () => {
      expectRefused(await train('gt.npy', '--fidelity', '5'), 'harvest.json', 'gt.npy');
    });

    it('an unknown option', async () => {
      expectRefused(await runCliAsync(dir, 'train', '--data', 'gt.npy', '--out', 'never', '--bogus', '1'), 'bogus');
      afterEach();
    });
    it('eval of an SAE whose width differs from the data', async () => {
      const r = await runCliAsync(dir, 'eval', '--sae', join(import.meta.dirname, '../../../shared/fixtures/saelens/v6-standard'), '--data', 'gt.npy');
      expectRefused(r, 'gt.npy', 'd_in=32');
    });
  });
});
