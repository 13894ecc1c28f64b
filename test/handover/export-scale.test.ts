// The hand-over to SAELens: the cache our Arrow reader reads back row for row (order, shards, token ids), the
// runner config with the keys and types of the configs SAELens 6.18 itself wrote, the starting SAE in
// SAELens's training form read back by our loader, and `sae-lab export-scale` end to end on a run from a
// language model (model, text, hook module, sparsify) and refusing bad input with nothing written.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeActivationCache } from '../../src/data/formats/arrow-cache-writer.ts';
import { openArrowShards } from '../../src/data/formats/arrow.ts';
import { encodeNpy } from '../../src/data/formats/npy.ts';
import { decodeSaelens, encodeSaelens } from '../../src/data/formats/saelens.ts';
import { MemorySource } from '../../src/data/memory-source.ts';
import type { RowSource } from '../../src/data/sources.ts';
import { defaultConfig, type Arch } from '../../src/engine/config.ts';
import type { SaeWeights } from '../../src/engine/sae.ts';
import { writeScaleExport } from '../../src/handover/scale-export.ts';
import { runnerConfig, trainingSaeConfig, trainingSaeWeights, type HandoverRun } from '../../src/handover/saelens-runner.ts';
import { gpt2 } from '../../src/model/families/gpt2.ts';
import { llama } from '../../src/model/families/llama.ts';
import { hookModule } from '../../src/model/hf-modules.ts';
import { expectRefused, runCli } from '../support/cli.ts';
import { randomSae } from '../support/random-sae.ts';
import { decodeCpu, encodeCpu } from '../../src/analysis/sae-cpu.ts';

const FIXTURES = resolve(import.meta.dirname, '../../../shared/fixtures/saelens6/runner-configs');
const GPT2 = resolve(import.meta.dirname, '../fixtures/lm/gpt2-f16');

function memoryRows(data: Float32Array, d: number, name = 'mem'): RowSource {
  return { name, rows: data.length / d, d, readRows: async (s, n) => data.slice(s * d, (s + n) * d) };
}

async function writeCache(rows: RowSource, ctx: number, ids?: Int32Array, shardBytes?: number) {
  const files: { name: string; source: MemorySource }[] = [];
  const out = await writeActivationCache({
    rows, hook: 'blocks.1.hook_resid_post', contextSize: ctx, shardBytes,
    tokenIds: ids ? async (s, n) => ids.subarray(s, s + n) : undefined,
    write: async (name, bytes) => void files.push({ name: `cache/${name}`, source: new MemorySource(bytes, name) }),
  });
  return { files, out };
}

/** same keys in the same order, and the same JSON type for each (null matching null or a number where SAELens allows either) */
function expectShape(ours: Record<string, unknown>, theirs: Record<string, unknown>, path = ''): void {
  expect(Object.keys(ours), path || 'top level').toEqual(Object.keys(theirs));
  for (const k of Object.keys(theirs)) {
    const a = ours[k];
    const b = theirs[k];
    const type = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
    if (k === 'metadata') continue; // free-form provenance
    if (type(b) === 'object' && type(a) === 'object') expectShape(a as Record<string, unknown>, b as Record<string, unknown>, `${path}${k}.`);
    else if (!(type(b) === 'null' || type(a) === 'null')) expect(type(a), `${path}${k}`).toBe(type(b));
  }
}

/** the same features and reconstruction on random rows (a TopK SAE read back may carry its decoder norms in W_enc) */
function expectSameSae(got: SaeWeights, want: SaeWeights): void {
  expect(got.threshold === undefined).toBe(want.threshold === undefined);
  const x = Float32Array.from({ length: 16 * want.d }, (_, i) => Math.sin(i * 1.7) * 2);
  const [fa, fb] = [encodeCpu(got, x), encodeCpu(want, x)];
  expectClose(fa, fb, 1e-5);
  expectClose(decodeCpu(got, fa, x), decodeCpu(want, fb, x), 1e-5);
}

function expectClose(a: Float32Array, b: Float32Array, tol: number): void {
  expect(a.length).toBe(b.length);
  const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!) / (1 + Math.abs(b[i]!))), 0);
  expect(worst).toBeLessThan(tol);
}

function runOf(arch: Arch, d = 6, F = 20): HandoverRun {
  const config = defaultConfig({ arch, d, features: F, k: 3, widths: [5, 12, F], steps: 300, batch: 64, preAct: 0.1 });
  const base = randomSae(d, F, arch === 'standard' ? 'standard' : 'topk', 5);
  const sae: SaeWeights = arch === 'jumprelu' || arch === 'batchtopk' || arch === 'matryoshka'
    ? { ...base, arch: 'jumprelu', k: undefined, threshold: new Float32Array(F).fill(0.25).map((t, i) => (arch === 'jumprelu' ? t + i / 100 : t)) }
    : base;
  return { sae, config, inputScale: 0.5 };
}

describe('activation cache writer', () => {
  it('writes rows that our Arrow reader reads back in order, over several shards, with token ids', async () => {
    const d = 5;
    const ctx = 4;
    const data = Float32Array.from({ length: 4 * 37 * d }, (_, i) => Math.sin(i) * 3 + i / 7);
    const ids = Int32Array.from({ length: 4 * 37 }, (_, i) => 1000 + i);
    const { files, out } = await writeCache(memoryRows(data, d), ctx, ids, ctx * d * 4 * 10); // 10 contexts a shard
    expect(out.files.filter((f) => f.endsWith('.arrow'))).toHaveLength(4);
    const back = await openArrowShards(files);
    expect([back.rows, back.d, back.contextSize, back.column, back.tokenColumn]).toEqual([148, d, ctx, 'blocks.1.hook_resid_post', 'token_ids']);
    expect(Array.from(await back.readRows(0, 148))).toEqual(Array.from(data));
    expect(Array.from(await back.readRows(37, 50))).toEqual(Array.from(data.subarray(37 * d, 87 * d)));
    expect(Array.from(await back.readTokenIds(0, 148))).toEqual(Array.from(ids));
    const stateFile = files.find((f) => f.name.endsWith('state.json'))!.source;
    const state = JSON.parse(new TextDecoder().decode(await stateFile.read(0, stateFile.size)));
    expect(state._data_files.map((f: { filename: string }) => f.filename)).toEqual(['data-00000-of-00004.arrow', 'data-00001-of-00004.arrow', 'data-00002-of-00004.arrow', 'data-00003-of-00004.arrow']);
  });

  it('refuses rows that are not whole contexts, naming the data', async () => {
    await expect(writeCache(memoryRows(new Float32Array(7 * 3), 3, 'acts.npy'), 2)).rejects.toThrow(/acts\.npy.*7 rows.*contexts of 2/);
  });
});

describe('the export, cancelled', () => {
  it('stops at the next cache batch or file once its signal is aborted, with the reason, writing nothing more', async () => {
    const d = 4;
    const rows = memoryRows(Float32Array.from({ length: 3000 * d }, (_, i) => Math.cos(i)), d);
    const abort = new AbortController();
    const written: string[] = [];
    let batches = 0;
    const reason = new DOMException('cancelled', 'AbortError');
    const e = { run: runOf('topk', d, 8), stepsDone: 10, rows, hook: 'h', contextSize: 1, trainingTokens: 640, metadata: {} };
    const done = writeScaleExport(e, async (path) => void written.push(path), {
      onProgress: () => ++batches === 2 && abort.abort(reason),
      signal: abort.signal,
    });
    await expect(done).rejects.toBe(reason);
    expect(batches).toBe(2); // the cache is written a batch of contexts at a time; the third was not read
    expect(written).toEqual([]);
    // the same export, not aborted, writes every file
    const all = await writeScaleExport(e, async () => {}, { signal: new AbortController().signal });
    expect(all).toContain('README.md');
  });
});

describe('SAELens runner config and starting folder', () => {
  const theirs = (n: string) => JSON.parse(readFileSync(join(FIXTURES, `${n}-from-cache.json`), 'utf8')) as Record<string, unknown>;

  for (const arch of ['standard', 'topk', 'jumprelu'] as const) {
    it(`${arch}: the keys and types of SAELens's own ${arch} config, our hyperparameters in them`, () => {
      const run = runOf(arch);
      const sae = trainingSaeConfig(run, { hook_name: 'h' });
      const cfg = runnerConfig(run, { trainingTokens: 6400, saePath: 'sae', sae, runName: 'r', source: { kind: 'cache', path: 'cache', hook: 'h', contextSize: 1 } });
      expectShape(cfg, theirs(arch));
      expect([cfg.lr, cfg.train_batch_size_tokens, cfg.training_tokens, cfg.lr_decay_steps, cfg.use_cached_activations, cfg.hook_name]).toEqual([run.config.lr, 64, 6400, 20, true, 'h']);
      expect(cfg.dead_feature_window).toBe(Math.ceil(run.config.deadWindowTokens / 64));
    });
  }

  it('the batch family: SAELens\'s training architectures with their own fields', () => {
    for (const [arch, name] of [['batchtopk', 'batchtopk'], ['matryoshka', 'matryoshka_batchtopk']] as const) {
      const sae = trainingSaeConfig(runOf(arch), {});
      expectShape(Object.fromEntries(Object.entries(sae).filter(([k]) => !['topk_threshold_lr', 'matryoshka_widths'].includes(k))), theirs('topk').sae as Record<string, unknown>);
      expect(sae.architecture).toBe(name);
      expect(sae.topk_threshold_lr).toBe(runOf(arch).config.thresholdLr);
    }
    expect(trainingSaeConfig(runOf('matryoshka'), {}).matryoshka_widths).toEqual([5, 12, 20]);
  });

  for (const arch of ['standard', 'topk', 'jumprelu', 'batchtopk', 'matryoshka'] as const) {
    it(`${arch}: the training-form folder reads back through our loader as the run's SAE`, () => {
      const run = runOf(arch);
      const back = decodeSaelens(JSON.stringify(trainingSaeConfig(run, {})), trainingSaeWeights(run), 'sae');
      expectSameSae(back, run.sae);
    });
  }

  it('hook modules: the Hugging Face module whose output is each hook', () => {
    expect(hookModule(llama, { layer: 0, kind: 'hook_resid_pre' })).toEqual({ full: 'model.embed_tokens', base: 'embed_tokens' });
    expect(hookModule(llama, { layer: 3, kind: 'hook_resid_pre' })?.full).toBe('model.layers.2');
    expect(hookModule(gpt2, { layer: 1, kind: 'hook_attn_out' })?.base).toBe('h.1.attn');
    expect(hookModule(gpt2, { layer: 1, kind: 'hook_mlp_out' })?.full).toBe('transformer.h.1.mlp');
    expect(hookModule(gpt2, { layer: 1, kind: 'hook_resid_post' })?.base).toBe('h.1');
    expect(hookModule(gpt2, { layer: 1, kind: 'hook_resid_mid' })).toBeNull();
  });
});

describe('sae-lab export-scale', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sae-lab-export-'));
  const d = 8;
  const rows = 96;
  // a run on activations harvested from gpt2-f16 at blocks.1.hook_resid_pre: harvest.json and tokens.jsonl beside them
  mkdirSync(join(dir, 'h'));
  const data = Float32Array.from({ length: rows * d }, (_, i) => Math.cos(i / 3) * (1 + (i % d)));
  writeFileSync(join(dir, 'h', 'activations.npy'), encodeNpy(data, [rows, d]));
  writeFileSync(join(dir, 'h', 'tokens.jsonl'), Array.from({ length: rows }, (_, r) => JSON.stringify({ doc: Math.floor(r / 40), token: ` w${r}`, id: 7 + r })).join('\n') + '\n');
  writeFileSync(join(dir, 'h', 'harvest.json'), JSON.stringify({
    kind: 'language-model', hook: 'blocks.1.hook_resid_pre', files: { activations: 'activations.npy', tokens: 'tokens.jsonl' },
    model: { name: 'gpt2-f16', path: GPT2 }, sequences: { context_size: 16, prepend_bos: true },
  }));
  const config = defaultConfig({ arch: 'topk', d, features: 24, k: 3, steps: 40, batch: 32 });
  const sae = randomSae(d, 24, 'topk', 2, { hook_name: 'blocks.1.hook_resid_pre', model_name: 'gpt2-f16' });
  mkdirSync(join(dir, 'run'));
  for (const [name, bytes] of Object.entries(encodeSaelens(sae, undefined))) writeFileSync(join(dir, 'run', name), bytes);
  writeFileSync(join(dir, 'run', 'metrics.json'), JSON.stringify({ steps: 40, config, data: { name: join(dir, 'h', 'activations.npy'), input_scale: 0.75 } }));

  it('writes the cache, weights, configs, model, text, sparsify command, script and README of a language-model run', async () => {
    const r = runCli(dir, 'export-scale', '--run', 'run', '--out', 'x');
    expect(r.code, r.stderr).toBe(0);
    const x = join(dir, 'x');
    const names = readdirSync(x).sort();
    expect(names).toEqual(['README.md', 'cache', 'corpus', 'lab-run.json', 'model', 'runner-config-model.json', 'runner-config.json', 'sae', 'sparsify.sh', 'train_sae.py']);
    const cache = await openArrowShards(readdirSync(join(x, 'cache')).map((n) => ({ name: n, source: new MemorySource(new Uint8Array(readFileSync(join(x, 'cache', n))), n) })));
    expect([cache.rows, cache.contextSize, cache.column]).toEqual([rows, 1, 'blocks.1.hook_resid_pre']);
    expect(Array.from(await cache.readRows(0, rows))).toEqual(Array.from(data));
    expect(Array.from(await cache.readTokenIds(0, rows))).toEqual(Array.from({ length: rows }, (_, r) => 7 + r));
    const cfg = JSON.parse(readFileSync(join(x, 'runner-config.json'), 'utf8'));
    expect([cfg.training_tokens, cfg.from_pretrained_path, cfg.cached_activations_path, cfg.context_size]).toEqual([40 * 32, 'sae', 'cache', 1]);
    const streamed = JSON.parse(readFileSync(join(x, 'runner-config-model.json'), 'utf8'));
    expect([streamed.hook_name, streamed.model_class_name, streamed.context_size, streamed.training_tokens]).toEqual(['transformer.h.0', 'AutoModelForCausalLM', 16, 400 * 32]);
    expect(readFileSync(join(x, 'model', 'model.safetensors'))).toEqual(readFileSync(join(GPT2, 'model.safetensors')));
    const corpus = readFileSync(join(x, 'corpus', 'corpus.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).text);
    expect(corpus).toHaveLength(3);
    expect(corpus[0]).toBe(Array.from({ length: 40 }, (_, r) => ` w${r}`).join(''));
    expect(readFileSync(join(x, 'sparsify.sh'), 'utf8')).toMatch(/--hookpoints h\.0 \\\n\s+--num_latents 24 -k 3/);
    expect(JSON.parse(readFileSync(join(x, 'lab-run.json'), 'utf8')).input_scale).toBe(0.75);
    expect(readFileSync(join(x, 'README.md'), 'utf8')).toContain('python train_sae.py');
    const back = decodeSaelens(readFileSync(join(x, 'sae', 'cfg.json'), 'utf8'), new Uint8Array(readFileSync(join(x, 'sae', 'sae_weights.safetensors'))), 'sae');
    expectSameSae(back, sae);
  });

  it('refuses bad input with the problem named and nothing written', () => {
    expectRefused(runCli(dir, 'export-scale', '--sae', 'run', '--out', 'y'), '--sae needs --data');
    const other = join(dir, 'other.npy');
    writeFileSync(other, encodeNpy(new Float32Array(10 * 5), [10, 5]));
    expectRefused(runCli(dir, 'export-scale', '--sae', 'run', '--data', other, '--out', 'y'), 'other.npy', 'width 5', 'reads 8');
    expectRefused(runCli(dir, 'export-scale', '--run', 'run', '--tokens', '7', '--out', 'y'), '--tokens', '32');
    expect(existsSync(join(dir, 'y'))).toBe(false);
  });
});
