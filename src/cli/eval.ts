// sae-lab eval: RECIPE §3 metrics (and MMCS against known true directions) of any SAELens-layout SAE on a
// data file, by default on the same held-out rows its training used (read from metrics.json when present).
import { mmcs } from '../analysis/mmcs.ts';
import { documentRule, heldOutRule, splitRows } from '../data/split.ts';
import { refuseNonFinite } from '../data/stats.ts';
import { requestNodeDevice } from '../engine/node-device.ts';
import { outWidth, type SaeWeights } from '../engine/sae.ts';
import { CliError, required, type CliValues, type Command } from './args.ts';
import { openActivations, type OpenedData } from './data.ts';
import { evaluateSae, loadSaeFolder } from './sae-folder.ts';
import { MODEL_EVAL_OPTIONS, evalOnModel } from './splice-eval.ts';

async function readTruth(path: string, d: number): Promise<{ truth: Float32Array; n: number }> {
  const t = await openActivations(path);
  try {
    if (t.rows.d !== d) throw new CliError(`${path}: true directions have width ${t.rows.d}, the SAE has d_in=${d}`);
    return { truth: await t.rows.readRows(0, t.rows.rows), n: t.rows.rows };
  } finally {
    await t.close();
  }
}

/** a transcoder's output activations (another file, or another tensor or column of the same one); none for an SAE */
async function openTarget(v: CliValues, dataPath: string, sae: SaeWeights, rows: number): Promise<OpenedData | undefined> {
  const path = v.target as string | undefined;
  const tensor = v['target-tensor'] as string | undefined;
  const column = v['target-column'] as string | undefined;
  if (sae.dOut === undefined) {
    if (path ?? tensor ?? column) throw new CliError('--target, --target-tensor and --target-column are for transcoders; this SAE reconstructs its input', 2);
    return undefined;
  }
  if (!(path ?? tensor ?? column)) {
    throw new CliError('a transcoder is evaluated against the activation it writes: give --target FILE, --target-tensor NAME or --target-column NAME', 2);
  }
  const target = await openActivations(path ?? dataPath, { tensor, column });
  const where = path ?? `${dataPath} (${tensor ?? column})`;
  if (target.rows.d !== sae.dOut || target.rows.rows !== rows) {
    await target.close();
    const why = target.rows.d !== sae.dOut ? `rows have width ${target.rows.d}, the transcoder writes d_out=${sae.dOut}` : `${target.rows.rows} rows, the input has ${rows}`;
    throw new CliError(`${where}: ${why}`);
  }
  return target;
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'Evaluate a SAELens-layout SAE (v6 or legacy) on activations, or spliced into its model; prints metrics as JSON.',
  usage:
    'sae-lab eval --sae DIR --data FILE|FOLDER [--tensor NAME] [--sidecar TOKENS.jsonl] [--truth TRUTH.npy] [--rows held-out|all] [--seed N]\n' +
    '       (a transcoder: [--target FILE|FOLDER] --target-column NAME | --target-tensor NAME, its output activations)\n' +
    '       sae-lab eval --sae DIR --model DIR|builtin [--split heldout|train|all | --text FILE] [--tokens N] [--context T] [--batch B]',
  options: {
    sae: { type: 'string', help: 'SAE folder (cfg.json + sae_weights.safetensors)' },
    data: { type: 'string', help: 'activations: .npy, .safetensors, or a folder of datasets .arrow shards' },
    tensor: { type: 'string', help: 'tensor name inside a .safetensors file' },
    column: { type: 'string', help: 'activation column of an Arrow cache' },
    sidecar: { type: 'string', help: 'JSON-Lines token sidecar: its documents decide the held-out rows' },
    truth: { type: 'string', help: 'true directions (.npy, F*×d) to report MMCS against' },
    target: { type: 'string', help: "a transcoder's output activations, row for row with --data (default: --data itself)" },
    'target-tensor': { type: 'string', help: 'tensor name of the output activations inside a .safetensors file' },
    'target-column': { type: 'string', help: 'column of the output activations in an Arrow cache' },
    rows: { type: 'string', help: 'held-out (the training split) or all', default: 'held-out' },
    seed: { type: 'string', help: 'held-out split seed when the SAE folder has no metrics.json (default 0)' },
    ...MODEL_EVAL_OPTIONS,
  },
  async run(v) {
    const dir = required(v, 'sae', 'eval');
    if (v.model !== undefined) {
      if (v.data !== undefined) throw new CliError('sae-lab eval: give --data (activations) or --model (the SAE spliced into its model), not both', 2);
      const { documents, ...report } = await evalOnModel(v, dir);
      void documents;
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      return 0;
    }
    const dataPath = required(v, 'data', 'eval');
    if (v.rows !== 'held-out' && v.rows !== 'all') throw new CliError(`--rows must be held-out or all, got '${v.rows}'`, 2);
    const { sae, rule: saved } = loadSaeFolder(dir);
    const data = await openActivations(dataPath, { tensor: v.tensor as string | undefined, column: v.column as string | undefined, sidecar: v.sidecar as string | undefined });
    try {
      const rows = data.rows;
      if (rows.d !== sae.d) throw new CliError(`${dataPath}: rows have width ${rows.d}, the SAE in ${dir} has d_in=${sae.d}`);
      const truth = v.truth ? await readTruth(v.truth as string, sae.d) : undefined;
      const seed = v.seed !== undefined ? Number(v.seed) : undefined;
      const rule = seed !== undefined ? (data.docs ? documentRule(seed) : heldOutRule(seed)) : (saved ?? (data.docs ? documentRule(0) : heldOutRule(0)));
      const ranges: [number, number][] = v.rows === 'all' ? [[0, rows.rows]] : splitRows(rows.rows, rule, rows.name, data.docs).heldOut;
      await refuseNonFinite(rows);
      const target = await openTarget(v, dataPath, sae, rows.rows);
      const gpu = await requestNodeDevice();
      try {
        if (target) await refuseNonFinite(target.rows);
        const { density, ...metrics } = await evaluateSae(gpu.device, sae, rows, ranges, target?.rows);
        const report: Record<string, unknown> = { ...metrics, rows: v.rows, held_out: v.rows === 'all' ? null : rule, adapter: gpu.adapter };
        if (truth) report.mmcs = mmcs(truth.truth, truth.n, sae.W_dec, sae.features, outWidth(sae));
        void density;
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } finally {
        gpu.device.destroy();
        await target?.close();
      }
    } finally {
      await data.close();
    }
    return 0;
  },
};
