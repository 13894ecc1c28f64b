// sae-lab eval: RECIPE §3 metrics (and MMCS against known true directions) of any SAELens-layout SAE on a
// data file, by default on the same held-out rows its training used (read from metrics.json when present).
import { mmcs } from '../analysis/mmcs.ts';
import { documentRule, heldOutRule, splitRows } from '../data/split.ts';
import { refuseNonFinite } from '../data/stats.ts';
import { requestNodeDevice } from '../engine/node-device.ts';
import { CliError, required, type Command } from './args.ts';
import { openActivations } from './data.ts';
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

export const evalCommand: Command = {
  name: 'eval',
  summary: 'Evaluate a SAELens-layout SAE (v6 or legacy) on activations, or spliced into its model; prints metrics as JSON.',
  usage:
    'sae-lab eval --sae DIR --data FILE|FOLDER [--tensor NAME] [--sidecar TOKENS.jsonl] [--truth TRUTH.npy] [--rows held-out|all] [--seed N]\n' +
    '       sae-lab eval --sae DIR --model DIR|builtin [--split heldout|train|all | --text FILE] [--tokens N] [--context T] [--batch B]',
  options: {
    sae: { type: 'string', help: 'SAE folder (cfg.json + sae_weights.safetensors)' },
    data: { type: 'string', help: 'activations: .npy, .safetensors, or a folder of datasets .arrow shards' },
    tensor: { type: 'string', help: 'tensor name inside a .safetensors file' },
    column: { type: 'string', help: 'activation column of an Arrow cache' },
    sidecar: { type: 'string', help: 'JSON-Lines token sidecar: its documents decide the held-out rows' },
    truth: { type: 'string', help: 'true directions (.npy, F*×d) to report MMCS against' },
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
      const gpu = await requestNodeDevice();
      try {
        const { density, ...metrics } = await evaluateSae(gpu.device, sae, rows, ranges);
        const report: Record<string, unknown> = { ...metrics, rows: v.rows, held_out: v.rows === 'all' ? null : rule, adapter: gpu.adapter };
        if (truth) report.mmcs = mmcs(truth.truth, truth.n, sae.W_dec, sae.features, sae.d);
        void density;
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } finally {
        gpu.device.destroy();
      }
    } finally {
      await data.close();
    }
    return 0;
  },
};
