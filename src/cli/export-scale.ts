// sae-lab export-scale: a run (a folder `sae-lab train` or `sweep` wrote) or any SAELens SAE with its
// activations, as one folder that continues training in SAELens on a GPU (src/handover/, docs/HANDOVER.md).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { splitRows, heldOutRule } from '../data/split.ts';
import { estimateDataStats } from '../data/stats.ts';
import type { ArrowRowSource } from '../data/formats/arrow.ts';
import { defaultConfig, type Arch, type TrainConfig } from '../engine/config.ts';
import type { SaeWeights } from '../engine/sae.ts';
import { documentTexts, writeScaleExport, type ExportModel, type ScaleExport } from '../handover/scale-export.ts';
import { parseModelConfig } from '../model/families/registry.ts';
import { parseHook } from '../model/hooks.ts';
import { CliError, type Command } from './args.ts';
import { openActivations } from './data.ts';
import { checkOutDir, streamFolder } from './output.ts';
import { loadSaeFolder } from './sae-folder.ts';
import { harvestInfo } from './train.ts';

interface RunRecord {
  config?: TrainConfig;
  steps?: number;
  data?: { name?: string; input_scale?: number };
}

function readRecord(dir: string): RunRecord {
  const path = join(dir, 'metrics.json');
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RunRecord;
  } catch (e) {
    throw new CliError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** a foreign SAE's hyperparameters: the lab's defaults for its form (it has no record of how it was trained) */
function configOf(sae: SaeWeights, record: RunRecord): TrainConfig {
  if (record.config) {
    if (record.config.d !== sae.d || record.config.features !== sae.features) {
      throw new CliError(`metrics.json describes a ${record.config.d}×${record.config.features} run but the SAE is ${sae.d}×${sae.features}`);
    }
    return record.config;
  }
  if (sae.dOut !== undefined) throw new CliError('a transcoder cannot be continued by SAELens\'s SAE runner');
  const arch: Arch = sae.arch === 'topk' ? 'topk' : sae.arch === 'jumprelu' ? 'jumprelu' : 'standard';
  return defaultConfig({ arch, d: sae.d, features: sae.features, ...(sae.k ? { k: sae.k } : {}) });
}

interface TokenLine { doc?: number; token?: string; id?: number }

/** the token sidecar's lines: ids per row, and the text of each document (its tokens joined in order) */
function readTokens(path: string, rows: number): { ids: Int32Array | null; documents: string[] } {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== rows) throw new CliError(`${path}: ${lines.length} lines for ${rows} activation rows`);
  const ids = new Int32Array(rows);
  let haveIds = true;
  const doc = new Int32Array(rows);
  const token: string[] = [];
  lines.forEach((line, r) => {
    const t = JSON.parse(line) as TokenLine;
    if (typeof t.id === 'number') ids[r] = t.id;
    else haveIds = false;
    doc[r] = t.doc ?? 0;
    token.push(t.token ?? '');
  });
  return { ids: haveIds ? ids : null, documents: documentTexts(doc, token) };
}

/** what export-scale reads of harvest.json: the token sidecar, and the model and sequences of a language model's harvest */
interface Harvest {
  kind?: string;
  files?: { tokens?: string };
  model?: { name?: string; path?: string };
  sequences?: { context_size?: number; prepend_bos?: boolean };
}

async function modelOf(harvest: Harvest, hook: string): Promise<ExportModel | null> {
  const dir = harvest.model?.path as string | undefined;
  if (harvest.kind !== 'language-model' || !dir || !existsSync(join(dir, 'config.json'))) return null;
  const { family, config } = parseModelConfig(readFileSync(join(dir, 'config.json'), 'utf8'), join(dir, 'config.json'));
  const files = readdirSync(dir).filter((n) => statSync(join(dir, n)).isFile()).sort();
  return {
    name: String(harvest.model?.name ?? dir),
    family,
    hook: parseHook(hook, config),
    files: files.map((name) => ({ name, read: async () => new Uint8Array(await readFile(join(dir, name))) })),
    contextSize: Number(harvest.sequences?.context_size ?? 128),
    prependBos: harvest.sequences?.prepend_bos !== false,
  };
}

export const exportScaleCommand: Command = {
  name: 'export-scale',
  summary: 'Write a run (or any SAELens SAE and its activations) as a folder that SAELens continues on a GPU.',
  usage: 'sae-lab export-scale --run DIR | --sae DIR --data FILE  --out DIR [--tokens N]',
  options: {
    run: { type: 'string', help: 'a folder `sae-lab train` or `sweep` wrote (its metrics.json names the data)' },
    sae: { type: 'string', help: 'any SAELens SAE folder (with --data)' },
    data: { type: 'string', help: 'the activations: .npy, .safetensors or an Arrow cache folder' },
    tensor: { type: 'string', help: 'tensor name inside a .safetensors file' },
    column: { type: 'string', help: 'column of an Arrow cache' },
    tokens: { type: 'string', help: 'training tokens of the continuation on the cache (default: as many as the run trained); streaming from the model takes ten times as many' },
    out: { type: 'string', help: 'output folder' },
    force: { type: 'boolean', help: 'replace a non-empty output folder' },
  },
  async run(v) {
    const dir = (v.run ?? v.sae) as string | undefined;
    if (!dir || (v.run && v.sae)) throw new CliError('export-scale needs one of --run DIR or --sae DIR', 2);
    const out = v.out as string | undefined;
    if (!out) throw new CliError('export-scale needs --out DIR', 2);
    checkOutDir(out, v.force === true);
    const { sae } = loadSaeFolder(dir);
    const record = readRecord(dir);
    const dataPath = (v.data as string | undefined) ?? (v.run ? record.data?.name : undefined);
    if (!dataPath) throw new CliError(v.run ? `${dir}/metrics.json names no data; pass --data` : 'export-scale --sae needs --data FILE', 2);
    const config = configOf(sae, record);
    const data = await openActivations(dataPath, { tensor: v.tensor as string | undefined, column: v.column as string | undefined });
    try {
      const rows = data.rows;
      if (rows.d !== sae.d) throw new CliError(`${dataPath}: rows of width ${rows.d}, the SAE reads ${sae.d}`);
      const arrow = 'contextSize' in rows ? (rows as ArrowRowSource) : null;
      const hook = data.hookName ?? (sae.metadata.hook_name as string | undefined) ?? 'activations';
      const inputScale = record.data?.input_scale ?? (await estimateDataStats(rows, splitRows(rows.rows, heldOutRule(config.seed), rows.name).trainBlocks)).scale;
      const harvest = arrow ? null : (harvestInfo(dataPath) as Harvest | null);
      const tokensFile = harvest?.files?.tokens ? join(dirname(dataPath), harvest.files.tokens) : null;
      const tokens = tokensFile && existsSync(tokensFile) ? readTokens(tokensFile, rows.rows) : null;
      const tokenIds = arrow?.tokenColumn
        ? (s: number, n: number) => arrow.readTokenIds(s, n)
        : tokens?.ids
          ? async (s: number, n: number) => tokens.ids!.subarray(s, s + n)
          : undefined;
      const trainingTokens = v.tokens !== undefined ? Number(v.tokens) : (record.steps ?? config.steps) * config.batch;
      if (!Number.isSafeInteger(trainingTokens) || trainingTokens < config.batch) {
        throw new CliError(`--tokens must be a whole number of at least one batch (${config.batch}), got '${v.tokens ?? trainingTokens}'`, 2);
      }
      const e: ScaleExport = {
        run: { sae, config, inputScale },
        stepsDone: record.steps ?? config.steps,
        rows,
        hook,
        contextSize: arrow ? arrow.contextSize : 1,
        tokenIds,
        model: harvest ? ((await modelOf(harvest, hook)) ?? undefined) : undefined,
        documents: tokens?.documents,
        trainingTokens,
        metadata: { ...sae.metadata, dataset_path: 'cache' },
      };
      let shown = -10;
      await streamFolder(out, async (tmp) => {
        await writeScaleExport(e, async (path, bytes) => {
          await mkdir(dirname(join(tmp, path)), { recursive: true });
          await writeFile(join(tmp, path), bytes);
        }, {
          onProgress: (f) => {
            const pct = 10 * Math.floor(10 * f);
            if (pct > shown) process.stderr.write(`cache: ${(shown = pct)}% of ${rows.rows} rows\n`);
          },
        });
      });
      const written = await readdir(out);
      process.stderr.write(`wrote ${out}: cache of ${rows.rows} rows; ${written.sort().join(', ')}\n`);
    } finally {
      await data.close();
    }
    return 0;
  },
};
