// The bench's LM part: forward speed of a harvesting pass (B sequences × T tokens, every position's logits
// read back) for the built-in model and a GPT-2-small-shaped one of 124M random parameters, run by
//   sae-lab      webgpu (Dawn, Node)       — src/model/lm.ts through the `webgpu` package, as the CLI harvests
//   onnxruntime  wasm (Node)               — the model's ONNX export (bench/onnx/) on onnxruntime-web in Node
//   sae-lab      webgpu (Chromium)         — src/model/lm.ts on navigator.gpu in headless Chromium, as the lab
//   onnxruntime  webgpu (Chromium, JSEP)   — onnxruntime-web's default build, WebGPU backend, same tab
//   onnxruntime  webgpu (Chromium, C++ EP) — `onnxruntime-web/webgpu`, onnxruntime's C++ WebGPU EP, same tab
//   onnxruntime  wasm (Chromium)           — the default build's WASM backend (CPU)
// every one from the same weights and token ids. Each row's logits are compared with the reference row's
// (onnxruntime WASM in Node: a CPU float32 run independent of this engine) as max |Δ| / max |ref|.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import type { NodeGpu } from '../src/engine/node-device.ts';
import { nodeModelFiles } from '../src/model/node-files.ts';
import { RunTimeout } from './browser.ts';
import { startLmBrowser, type LmBrowser } from './lm-browser.ts';
import { BUILTIN_DIR, makeModel, type LmModel, type LmModelSpec } from './lm-models.ts';
import { relativeDeviation, timeOrtLm, timeOursLm, type LmTiming, type OrtModule } from './lm-run.ts';
import type { LmPageSpec, OrtBuild } from './pages/lm.ts';

/** the agreement asked of every row's logits with the reference row's, relative to max |ref| */
export const LM_TOLERANCE = 1e-3;
/** no run starts with less than this left of the LM part's budget */
const MIN_RUN_S = 20;

/**
 * B × T per model: the built-in model at its training context (128) in 2 sequences; the 124M model at one
 * sequence of 32 tokens, as one pass of it takes tens of seconds on a software adapter (and onnxruntime's
 * WebGPU passes minutes), and the whole LM part has to fit in its budget on 2 cores.
 */
export const LM_MODELS: readonly LmModelSpec[] = [
  { id: 'builtin', batch: 2, context: 128 },
  { id: 'gpt2-small', batch: 1, context: 32 },
];
/** timed passes after the warm-up (one where the warm-up pass took over 10 s) */
const PASSES = 3;

interface Column {
  engine: 'sae-lab' | 'onnxruntime-web';
  backend: 'webgpu' | 'wasm';
  where: 'node' | 'chromium';
  build?: OrtBuild;
  label: string;
}
const COLUMNS: Column[] = [
  { engine: 'sae-lab', backend: 'webgpu', where: 'node', label: 'webgpu (Dawn, Node)' },
  { engine: 'onnxruntime-web', backend: 'wasm', where: 'node', label: 'wasm (Node)' },
  { engine: 'sae-lab', backend: 'webgpu', where: 'chromium', label: 'webgpu (Chromium)' },
  { engine: 'onnxruntime-web', backend: 'webgpu', where: 'chromium', build: 'jsep', label: 'webgpu (Chromium, JSEP)' },
  { engine: 'onnxruntime-web', backend: 'webgpu', where: 'chromium', build: 'native', label: 'webgpu (Chromium, C++ EP)' },
  { engine: 'onnxruntime-web', backend: 'wasm', where: 'chromium', build: 'jsep', label: 'wasm (Chromium)' },
];
const REFERENCE = COLUMNS[1]!;
const OURS_CHROMIUM = COLUMNS[2]!;
/** the run order: the slowest (onnxruntime WebGPU on a software adapter) last, so the budget's end spares the rest */
const RUN_ORDER = [0, 1, 5, 2, 4, 3].map((i) => COLUMNS[i]!);

export interface LmEntry {
  part: 'lm-forward';
  engine: string;
  backend: string;
  adapter: string;
  model: { name: string; id: string; family: string; params: number; source: string; B: number; T: number; vocab: number };
  passes: number | null;
  warmup_ms: number | null;
  setup_ms: number | null;
  ms_per_pass: number | null;
  tokens_per_s: number | null;
  /** max |logit − reference logit| / max |reference logit| over all B × T × vocab logits */
  max_rel_dev?: number;
  reference?: string;
  agrees?: boolean;
  detail?: string;
  skipped?: string;
}

export interface LmBenchResult {
  entries: LmEntry[];
  /** what is printed: adapters, versions, the table, notes */
  report: string[];
}

export async function lmBench(gpu: NodeGpu, budgetS: number, log: (line: string) => void, o: { quick?: boolean; ortVersion: string }): Promise<LmBenchResult> {
  const started = performance.now();
  const left = () => budgetS - (performance.now() - started) / 1000;
  const builtinFiles = existsSync(join(BUILTIN_DIR, 'config.json')) ? readdirSync(BUILTIN_DIR) : undefined;
  const absentWhy = builtinFiles ? '' : `${BUILTIN_DIR} is not there yet`;
  const ort = (await import('onnxruntime-web')) as OrtModule;
  let browser: LmBrowser | undefined;
  let browserError = '';
  try {
    browser = await startLmBrowser(log);
    log(`[lm] Chromium adapter: ${browser.info.adapter} (${browser.info.userAgent})`);
  } catch (e) {
    browserError = (e as Error).message.split('\n')[0]!;
    log(`[lm] no browser: ${browserError}`);
  }
  const entries: LmEntry[] = [];
  const logits = new Map<string, Float32Array>();
  try {
    for (const spec of o.quick ? LM_MODELS.slice(0, 1) : LM_MODELS) {
      let model: LmModel | undefined;
      const nodeModel = async () => {
        if (!model) {
          const files = spec.id === 'builtin' && builtinFiles ? nodeModelFiles(BUILTIN_DIR) : undefined;
          try {
            model = await makeModel(spec, files, absentWhy);
          } finally {
            await files?.close();
          }
        }
        return model;
      };
      const described = await nodeModel();
      const c = described.config;
      for (const col of RUN_ORDER) {
        const entry: LmEntry = {
          part: 'lm-forward', engine: col.engine, backend: col.label, adapter: '',
          model: { name: described.name, id: spec.id, family: c.family, params: described.params, source: described.source, B: spec.batch, T: spec.context, vocab: c.vocab },
          passes: null, warmup_ms: null, setup_ms: null, ms_per_pass: null, tokens_per_s: null,
        };
        entries.push(entry);
        const skip = col.where === 'chromium' && !browser ? `no browser: ${browserError}` : left() < MIN_RUN_S ? `the LM part's ${budgetS} s budget is spent` : '';
        if (skip) {
          entry.skipped = skip;
          log(`[lm] ${spec.id} ${col.engine} ${col.label}: skipped, ${skip}`);
          continue;
        }
        const t0 = performance.now();
        try {
          let t: Omit<LmTiming, 'logits'>;
          let out: Float32Array;
          if (col.where === 'node') {
            const m = await nodeModel();
            const r = col.engine === 'sae-lab' ? await timeOursLm(gpu.device, m, spec.batch, spec.context, PASSES) : await timeOrtLm(ort, 'wasm', m, spec.batch, spec.context, PASSES);
            if (col.engine !== 'sae-lab') r.detail += `, ${ort.env.wasm.numThreads ?? 'default'} thread(s)`;
            ({ logits: out, ...t } = r);
            entry.adapter = col.engine === 'sae-lab' ? gpu.adapter : `CPU (${cpus().length} logical cores)`;
          } else {
            model = undefined; // the page makes its own; Node's copy need not be held meanwhile
            const page: LmPageSpec = { model: spec, builtinFiles, absentWhy, engine: col.engine === 'sae-lab' ? 'sae-lab' : 'ort', backend: col.backend, build: col.build, passes: PASSES };
            const r = await browser!.run(page, 1000 * left());
            const { logits: b64, adapter, source: _s, params: _p, ...rest } = r;
            t = rest;
            entry.adapter = adapter;
            const bytes = Buffer.from(b64, 'base64');
            out = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
          }
          Object.assign(entry, { passes: t.passes, warmup_ms: t.warmup_ms, setup_ms: t.setup_ms, ms_per_pass: t.ms_per_pass, tokens_per_s: (spec.batch * spec.context * 1000) / t.ms_per_pass, detail: t.detail });
          logits.set(`${spec.id}|${col.label}|${col.engine}`, out);
          log(`[lm] ${spec.id} ${col.engine} ${col.label}: ${t.ms_per_pass.toFixed(0)} ms/pass (warm-up ${t.warmup_ms.toFixed(0)} ms, setup ${t.setup_ms.toFixed(0)} ms), run ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        } catch (e) {
          entry.skipped = e instanceof RunTimeout ? `stopped: ${e.message}` : `failed: ${(e as Error).message.split('\n')[0]!.slice(0, 300)}`;
          log(`[lm] ${spec.id} ${col.engine} ${col.label}: ${entry.skipped}`);
        }
      }
      model = undefined;
      check(spec, entries, logits);
      // the table's order
      entries.sort((a, b) => LM_MODELS.findIndex((m) => m.id === a.model.id) - LM_MODELS.findIndex((m) => m.id === b.model.id) || columnIndex(a) - columnIndex(b));
    }
  } finally {
    await browser?.close();
  }
  return { entries, report: report(entries, gpu.adapter, browser ? `${browser.info.adapter} — ${browser.info.userAgent}` : `not started (${browserError})`, o.ortVersion) };
}

function columnIndex(e: LmEntry): number {
  return COLUMNS.findIndex((c) => c.engine === e.engine && c.label === e.backend);
}

/** Each row's logits against the reference row's (onnxruntime WASM in Node, else the first row that ran). */
function check(spec: LmModelSpec, entries: LmEntry[], logits: Map<string, Float32Array>): void {
  const key = (e: LmEntry) => `${spec.id}|${e.backend}|${e.engine}`;
  const rows = entries.filter((e) => e.model.id === spec.id && logits.has(key(e)));
  const ref = rows.find((e) => e.engine === REFERENCE.engine && e.backend === REFERENCE.label) ?? rows[0];
  if (!ref) return;
  const refLogits = logits.get(key(ref))!;
  for (const e of rows) {
    e.reference = `${ref.engine} ${ref.backend}`;
    e.max_rel_dev = relativeDeviation(logits.get(key(e))!, refLogits);
    e.agrees = e.max_rel_dev <= LM_TOLERANCE;
  }
  for (const e of rows) logits.delete(key(e));
}

function table(entries: LmEntry[]): string {
  const head = ['model', 'engine', 'backend', 'B×T', 'ms/pass', 'tokens/s', 'ours ÷ this', `logits vs ref (tol ${LM_TOLERANCE})`, 'note'];
  const rows = entries.map((e) => {
    const m = `${e.model.name}, ${(e.model.params / 1e6).toFixed(1)}M`;
    const bt = `${e.model.B}×${e.model.T}`;
    if (e.skipped || e.ms_per_pass === null) return [m, e.engine, e.backend, bt, '—', '—', '—', '—', e.skipped ?? ''];
    const ours = entries.find((x) => x.model.id === e.model.id && x.engine === OURS_CHROMIUM.engine && x.backend === OURS_CHROMIUM.label);
    const ratio = e.engine !== 'sae-lab' && ours?.tokens_per_s && e.tokens_per_s ? `${(ours.tokens_per_s / e.tokens_per_s).toFixed(2)}×` : '';
    const isRef = e.reference === `${e.engine} ${e.backend}`;
    const dev = e.max_rel_dev === undefined ? '' : isRef ? 'reference' : `${e.max_rel_dev.toExponential(1)} ${e.agrees ? 'ok' : 'DIFFERS'}`;
    const note = `${e.passes} timed pass${e.passes === 1 ? '' : 'es'} after 1 warm-up (${(e.warmup_ms! / 1000).toFixed(1)} s); setup ${(e.setup_ms! / 1000).toFixed(1)} s; ${e.detail}`;
    return [m, e.engine, e.backend, bt, e.ms_per_pass.toFixed(0), e.tokens_per_s!.toFixed(1), ratio, dev, note];
  });
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function report(entries: LmEntry[], nodeAdapter: string, chromium: string, ortVersion: string): string[] {
  const models = [...new Map(entries.map((e) => [e.model.id, e.model])).values()];
  return [
    `\nLanguage-model forward (harvesting pass: B × T tokens, every position's logits read back), onnxruntime-web ${ortVersion}`,
    `Node adapter: ${nodeAdapter}`,
    `Chromium: ${chromium}`,
    ...models.map((m) => `- ${m.name}: ${m.family}, ${m.params.toLocaleString('en-US')} parameters, vocab ${m.vocab}, ${m.source}`),
    `ours ÷ this: tokens/s of sae-lab webgpu (Chromium) over the row's, same model; logits vs ref: max |Δ| / max |ref| over all B × T × vocab logits\n`,
    table(entries),
  ];
}
