// sae-lab sweep: a grid of runs over dictionary size × training steps on one dataset, each trained as
// `sae-lab train` trains and saved in its own folder, then the scaling view of them all (docs/RECIPE.md §10):
// held-out loss against training compute, the compute-efficient frontier and its power-law fit, the best size
// at each compute, and FVU against L0. A run whose folder is finished is kept when the sweep is run again
// with --resume, so an interrupted sweep continues where it stopped.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bestSizes, fitFrontier, frontier } from '../analysis/scaling.ts';
import { encodeSaelens } from '../data/formats/saelens.ts';
import { documentRule, heldOutRule, splitRows } from '../data/split.ts';
import { estimateDataStats, refuseNonFinite } from '../data/stats.ts';
import type { TrainConfig } from '../engine/config.ts';
import { checkFits } from '../engine/memory.ts';
import { requestNodeDevice } from '../engine/node-device.ts';
import { ARCH_STEPS } from '../engine/steps/index.ts';
import { sweepFigures, type SweepRun } from '../ui/scaling-figures.ts';
import { CliError, intListOption, required, type Command } from './args.ts';
import { openActivations } from './data.ts';
import { checkOutDir, writeFolder } from './output.ts';
import { configFromOptions, provenance, trainCommand, trainOnRows } from './train.ts';
import { fileTunerCache } from './tuner-cache.ts';

/** a grid axis: positive whole numbers, no repeats */
function gridOption(v: Record<string, unknown>, name: string): number[] {
  required(v, name, 'sweep');
  const values = intListOption(v, name);
  if (new Set(values).size !== values.length) throw new CliError(`--${name} repeats a value: '${v[name]}'`, 2);
  return values;
}

const folderOf = (cfg: TrainConfig) => `F${cfg.features}-S${cfg.steps}`;

const { features: _f, steps: _s, out: _o, fidelity: _fi, force: _fo, ...trainOptions } = trainCommand.options;

export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'Train a grid of SAEs (dictionary size × steps) on one dataset and draw their scaling: frontier, power-law fit, best size.',
  usage: 'sae-lab sweep --data FILE --features 256,512,1024 --steps 500,2000 [--arch …] --out DIR [train options]',
  options: {
    ...trainOptions,
    features: { type: 'string', help: 'dictionary sizes, comma-separated' },
    steps: { type: 'string', help: 'training steps, comma-separated' },
    out: { type: 'string', help: 'output folder: one SAELens folder per run, sweep.json, scaling.svg/.csv, fvu-l0.svg/.csv' },
    resume: { type: 'boolean', help: 'keep the runs an earlier sweep into --out finished; train the rest' },
    force: { type: 'boolean', help: 'replace a non-empty output folder' },
  },
  async run(v) {
    const dataPath = required(v, 'data', 'sweep');
    const out = required(v, 'out', 'sweep');
    const sizes = gridOption(v, 'features');
    const stepCounts = gridOption(v, 'steps');
    const resume = v.resume === true;
    if (!resume) checkOutDir(out, v.force === true);
    const data = await openActivations(dataPath, { tensor: v.tensor as string | undefined, column: v.column as string | undefined, sidecar: v.sidecar as string | undefined });
    try {
      const d = data.rows.d;
      // every run's configuration checked before the first trains
      const grid = sizes.flatMap((features) => stepCounts.map((steps) => configFromOptions(v, d, { features, steps })));
      const rule = data.docs ? documentRule(grid[0]!.seed) : heldOutRule(grid[0]!.seed);
      const split = splitRows(data.rows.rows, rule, data.rows.name, data.docs);
      await refuseNonFinite(data.rows);
      // one split and seed for every run, so one estimate of the training rows' statistics serves them all
      const stats = await estimateDataStats(data.rows, split.trainBlocks);
      const biggest = grid.reduce((a, c) => (c.features > a.features ? c : a));
      const gpu = await requestNodeDevice((limits) => checkFits(biggest, limits));
      const runs: SweepRun[] = [];
      try {
        for (const [i, cfg] of grid.entries()) {
          const folder = folderOf(cfg);
          const done = join(out, folder, 'metrics.json');
          let metrics: Record<string, unknown>;
          if (resume && existsSync(done)) {
            metrics = JSON.parse(readFileSync(done, 'utf8')) as Record<string, unknown>;
            process.stderr.write(`run ${i + 1}/${grid.length} ${folder}: finished earlier, kept\n`);
          } else {
            process.stderr.write(`run ${i + 1}/${grid.length} ${folder}: training ${cfg.arch} F=${cfg.features} for ${cfg.steps} steps\n`);
            const result = await trainOnRows({ rows: data.rows, config: cfg, rule, docs: data.docs, stats, device: gpu.device, adapter: gpu.adapter, tunerCache: v['no-tune'] === true ? null : fileTunerCache() });
            const sparsity = Float32Array.from(result.density, (p) => Math.log10(p + 1e-10));
            const files = encodeSaelens(result.sae, sparsity, { dataset_path: dataPath, ...provenance(v, dataPath, data.hookName) });
            await writeFolder(join(out, folder), { ...files, 'metrics.json': JSON.stringify(result.metrics, null, 2) + '\n' });
            metrics = result.metrics as unknown as Record<string, unknown>;
          }
          if (metrics.fvu === null) throw new CliError(`${data.rows.name}: the held-out rows do not vary, so FVU (the sweep's loss) is undefined`);
          const num = (k: string) => metrics[k] as number;
          runs.push({
            features: cfg.features, steps: cfg.steps, compute: cfg.steps * ARCH_STEPS[cfg.arch].flops(cfg), loss: num('fvu'),
            mse_per_token: num('mse_per_token'), l0: num('l0'), dead_frac_eval: num('dead_frac_eval'), seconds: num('seconds'), folder,
          });
        }
      } finally {
        gpu.device.destroy();
      }
      const front = frontier(runs);
      const fit = fitFrontier(runs);
      const summary = {
        data: { name: data.rows.name, rows: data.rows.rows, d },
        arch: grid[0]!.arch,
        loss: 'held-out FVU',
        compute: 'training FLOPs: steps × the step\'s FLOPs (docs/RECIPE.md §10)',
        adapter: gpu.adapter,
        runs,
        frontier: front.map((r) => r.folder),
        best_sizes: bestSizes(runs),
        fit,
      };
      const files: Record<string, string> = { 'sweep.json': JSON.stringify(summary, null, 2) + '\n' };
      for (const f of sweepFigures(runs, fit, `${grid[0]!.arch} sweep on ${data.rows.name}`)) {
        files[`${f.name}.svg`] = f.svg;
        if ('csv' in f.data) files[`${f.name}.csv`] = f.data.csv;
      }
      // the summary beside the run folders, each file whole or not at all
      for (const [name, text] of Object.entries(files)) {
        writeFileSync(join(out, `.${name}.partial`), text);
        renameSync(join(out, `.${name}.partial`), join(out, name));
      }
      const fitLine = fit ? `α = ${fit.alpha.toFixed(3)}${fit.se ? ` ± ${fit.se.alpha.toFixed(3)}` : ''}, L∞ = ${fit.lInf.toPrecision(3)}` : 'no fit (fewer than 3 frontier points)';
      process.stderr.write(`${runs.length} runs; frontier: ${front.map((r) => r.folder).join(' → ')}; ${fitLine} → ${out}\n`);
    } finally {
      await data.close();
    }
    return 0;
  },
};
