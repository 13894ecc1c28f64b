// sae-lab sweep: a grid of runs over dictionary size × training steps (× sparsity, when the architecture's
// --k, --l1 or --l0 is a list) on one dataset, each trained as `sae-lab train` trains and saved in its own
// folder, then the scaling view of them all (docs/RECIPE.md §10): held-out loss against training compute, the
// compute-efficient frontier and its power-law fit (per sparsity), the best size at each compute, and FVU
// against L0. A run whose folder is finished is kept when the sweep is run again
// with --resume, so an interrupted sweep continues where it stopped. With --side-by-side, runs that fit the
// GPU together train on the same batches in one pass over the data, each ending exactly as it would alone.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSaelens } from '../data/formats/saelens.ts';
import { documentRule, heldOutRule, splitRows } from '../data/split.ts';
import { estimateDataStats, refuseNonFinite } from '../data/stats.ts';
import { sparsityKnob, type TrainConfig } from '../engine/config.ts';
import { checkFits, estimateMemory } from '../engine/memory.ts';
import { requestNodeDevice } from '../engine/node-device.ts';
import { archNamed } from '../engine/steps/index.ts';
import { sparsityGroups, sweepFigures, sweepRun, type SweepRun } from '../ui/scaling-figures.ts';
import { CliError, intListOption, intOption, required, type Command } from './args.ts';
import { openActivations } from './data.ts';
import { checkOutDir, writeFolder } from './output.ts';
import { configFromOptions, provenance, trainCommand, trainOnRows, trainSideBySide } from './train.ts';
import { fileTunerCache } from './tuner-cache.ts';

/** a grid axis: positive whole numbers, no repeats */
function gridOption(v: Record<string, unknown>, name: string): number[] {
  required(v, name, 'sweep');
  const values = intListOption(v, name);
  if (new Set(values).size !== values.length) throw new CliError(`--${name} repeats a value: '${v[name]}'`, 2);
  return values;
}

/** the sweep's third axis: the architecture's sparsity setting (--k, --l1 or --l0) given as a list, else its one value */
function sparsityAxis(v: Record<string, unknown>): { option: 'k' | 'l1' | 'l0'; values: string[] } {
  const arch = archNamed(v.arch) ?? 'standard'; // a bad --arch is refused with the rest of the configuration
  const { option } = sparsityKnob(arch);
  for (const other of ['k', 'l1', 'l0'] as const) {
    if (other !== option && String(v[other]).includes(',')) throw new CliError(`--${other} takes one value: the sparsity axis of a ${arch} sweep is --${option}`, 2);
  }
  const values = String(v[option]).split(',').map((x) => x.trim());
  if (new Set(values.map(Number)).size !== values.length) throw new CliError(`--${option} repeats a value: '${v[option]}'`, 2);
  return { option, values };
}

/** runs packed, in grid order, into groups whose GPU memory (engine/memory.ts) stays within `bytes` */
export function packGroups(configs: TrainConfig[], bytes: number): TrainConfig[][] {
  const groups: TrainConfig[][] = [];
  let used = Infinity;
  for (const cfg of configs) {
    const need = estimateMemory(cfg).total;
    if (used + need > bytes) {
      groups.push([]);
      used = 0;
    }
    groups[groups.length - 1]!.push(cfg);
    used += need;
  }
  return groups;
}

const { features: _f, steps: _s, out: _o, fidelity: _fi, force: _fo, ...trainOptions } = trainCommand.options;

export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'Train a grid of SAEs (dictionary size × steps [× k, λ or c]) on one dataset and draw their scaling: frontier, power-law fit, best size.',
  usage: 'sae-lab sweep --data FILE --features 256,512,1024 --steps 500,2000 [--arch topk --k 16,32,64] [--side-by-side] --out DIR [train options]',
  options: {
    ...trainOptions,
    features: { type: 'string', help: 'dictionary sizes, comma-separated' },
    steps: { type: 'string', help: 'training steps, comma-separated' },
    k: { ...trainOptions.k!, help: `${trainOptions.k!.help}; comma-separated: a sparsity axis` },
    l1: { ...trainOptions.l1!, help: `${trainOptions.l1!.help}; comma-separated: a sparsity axis` },
    l0: { ...trainOptions.l0!, help: `${trainOptions.l0!.help}; comma-separated: a sparsity axis` },
    out: { type: 'string', help: 'output folder: one SAELens folder per run, sweep.json, scaling.svg/.csv, fvu-l0.svg/.csv' },
    resume: { type: 'boolean', help: 'keep the runs an earlier sweep into --out finished; train the rest' },
    'side-by-side': { type: 'boolean', help: 'train runs together on the same batches, one pass over the data per group' },
    'group-mib': { type: 'string', help: 'GPU memory one side-by-side group may take, in MiB', default: '512' },
    force: { type: 'boolean', help: 'replace a non-empty output folder' },
  },
  async run(v) {
    const dataPath = required(v, 'data', 'sweep');
    const out = required(v, 'out', 'sweep');
    const sizes = gridOption(v, 'features');
    const stepCounts = gridOption(v, 'steps');
    const axis = sparsityAxis(v);
    // F256-S500, or F256-S500-k=16 when the sparsity varies too
    const folderOf = (cfg: TrainConfig) => `F${cfg.features}-S${cfg.steps}${axis.values.length > 1 ? `-${axis.option}=${cfg[axis.option]}` : ''}`;
    const resume = v.resume === true;
    const sideBySide = v['side-by-side'] === true;
    const groupBytes = intOption(v, 'group-mib') * 2 ** 20;
    if (!resume) checkOutDir(out, v.force === true);
    const data = await openActivations(dataPath, { tensor: v.tensor as string | undefined, column: v.column as string | undefined, sidecar: v.sidecar as string | undefined });
    try {
      const d = data.rows.d;
      // every run's configuration checked before the first trains
      const grid = sizes.flatMap((features) => stepCounts.flatMap((steps) => axis.values.map((x) => configFromOptions({ ...v, [axis.option]: x }, d, { features, steps }))));
      const rule = data.docs ? documentRule(grid[0]!.seed) : heldOutRule(grid[0]!.seed);
      const split = splitRows(data.rows.rows, rule, data.rows.name, data.docs);
      await refuseNonFinite(data.rows);
      // one split and seed for every run, so one estimate of the training rows' statistics serves them all
      const stats = await estimateDataStats(data.rows, split.trainBlocks);
      const biggest = grid.reduce((a, c) => (c.features > a.features ? c : a));
      const gpu = await requestNodeDevice((limits) => checkFits(biggest, limits));
      const tunerCache = v['no-tune'] === true ? null : fileTunerCache();
      const metricsOf = new Map<string, Record<string, unknown>>();
      const pending = grid.filter((cfg) => {
        const done = join(out, folderOf(cfg), 'metrics.json');
        if (!resume || !existsSync(done)) return true;
        metricsOf.set(folderOf(cfg), JSON.parse(readFileSync(done, 'utf8')) as Record<string, unknown>);
        process.stderr.write(`${folderOf(cfg)}: finished earlier, kept\n`);
        return false;
      });
      const groups = sideBySide ? packGroups(pending, groupBytes) : pending.map((cfg) => [cfg]);
      const t0 = performance.now();
      try {
        for (const [g, group] of groups.entries()) {
          process.stderr.write(`group ${g + 1}/${groups.length}: ${group.map(folderOf).join(', ')}${group.length > 1 ? ' side by side' : ''}\n`);
          const shared = { rows: data.rows, rule, docs: data.docs, stats, device: gpu.device, adapter: gpu.adapter, tunerCache };
          const results = group.length > 1 ? await trainSideBySide({ ...shared, configs: group }) : [await trainOnRows({ ...shared, config: group[0]! })];
          for (const [i, result] of results.entries()) {
            const folder = folderOf(group[i]!);
            const sparsity = Float32Array.from(result.density, (p) => Math.log10(p + 1e-10));
            const files = encodeSaelens(result.sae, sparsity, { dataset_path: dataPath, ...provenance(v, dataPath, data.hookName) });
            await writeFolder(join(out, folder), { ...files, 'metrics.json': JSON.stringify(result.metrics, null, 2) + '\n' });
            metricsOf.set(folder, result.metrics);
          }
        }
      } finally {
        gpu.device.destroy();
      }
      const trainingSeconds = (performance.now() - t0) / 1000;
      const runs: SweepRun[] = grid.map((cfg) => {
        const metrics = metricsOf.get(folderOf(cfg))!;
        if (metrics.fvu === null) throw new CliError(`${data.rows.name}: the held-out rows do not vary, so FVU (the sweep's loss) is undefined`);
        return sweepRun(cfg, metrics as unknown as Parameters<typeof sweepRun>[1], folderOf(cfg));
      });
      const bySparsity = sparsityGroups(runs);
      const perSparsity = bySparsity.map((g) => ({ sparsity: g.sparsity, frontier: g.frontier.map((r) => r.folder), best_sizes: g.best, fit: g.fit }));
      const summary = {
        data: { name: data.rows.name, rows: data.rows.rows, d },
        arch: grid[0]!.arch,
        loss: 'held-out FVU',
        compute: 'training FLOPs: steps × the step\'s FLOPs (docs/RECIPE.md §10)',
        adapter: gpu.adapter,
        runs,
        // one sparsity: its frontier, best sizes and fit; several: each its own, by_sparsity alone
        ...(bySparsity.length === 1 ? (({ sparsity: _, ...one }) => one)(perSparsity[0]!) : {}),
        by_sparsity: perSparsity,
        // this invocation's training: its groups (side by side, or one run each) and their wall time
        timing: { side_by_side: sideBySide, groups: groups.map((g) => g.map(folderOf)), seconds: trainingSeconds },
      };
      const files: Record<string, string> = { 'sweep.json': JSON.stringify(summary, null, 2) + '\n' };
      for (const f of sweepFigures(runs, `${grid[0]!.arch} sweep on ${data.rows.name}`)) {
        files[`${f.name}.svg`] = f.svg;
        if ('csv' in f.data) files[`${f.name}.csv`] = f.data.csv;
      }
      // the summary beside the run folders, each file whole or not at all
      for (const [name, text] of Object.entries(files)) {
        writeFileSync(join(out, `.${name}.partial`), text);
        renameSync(join(out, `.${name}.partial`), join(out, name));
      }
      const said = bySparsity.map((g) => {
        const fitLine = g.fit ? `α = ${g.fit.alpha.toFixed(3)}${g.fit.se ? ` ± ${g.fit.se.alpha.toFixed(3)}` : ''}, L∞ = ${g.fit.lInf.toPrecision(3)}` : 'no fit (fewer than 3 frontier points)';
        return `${bySparsity.length > 1 ? `${g.sparsity}: ` : ''}frontier: ${g.frontier.map((r) => r.folder).join(' → ')}; ${fitLine}`;
      });
      process.stderr.write(`${runs.length} runs; ${said.join('; ')} → ${out}\n`);
    } finally {
      await data.close();
    }
    return 0;
  },
};
