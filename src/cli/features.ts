// sae-lab features: what an SAE's features fire on, by label — for each feature its dominant label in a
// token sidecar's label column (Brown POS tags for harvested data), the share of its activation mass there
// (purity), the lift over that label's base rate, and the distinct tokens it fires on — measured on the
// held-out rows its training left out. Lists the features that clear the bars, as JSON on stdout.
// With --probes, each listed feature is also compared with a logistic probe for its label fit on raw
// activations of the training rows (src/analysis/probe.ts): precision/recall/F1 of both on the held-out rows.
import { writeFileSync } from 'node:fs';
import { addLabelMass, featureLabels, newLabelMass } from '../analysis/labels.ts';
import {
  addFireCounts, addMoments, addProbeConfusion, classifierScores, complementRanges, featureConfusion, newConfusion, newFireCounts,
  newMoments, PROBE_DEFAULTS, sampleRanges, standardiser, trainProbes, type ClassifierScores, type Confusion, type FireCounts,
} from '../analysis/probe.ts';
import { rangeChunks } from '../data/batches.ts';
import { parseSidecar } from '../data/formats/sidecar.ts';
import { openFileSource } from '../data/node-file.ts';
import { rowsInRanges, documentRule, splitRows } from '../data/split.ts';
import type { RowSource } from '../data/sources.ts';
import type { LabelColumn } from '../data/context.ts';
import { SaeRunner } from '../engine/evaluate.ts';
import { requestNodeDevice } from '../engine/node-device.ts';
import { CliError, numberOption, intOption, required, type Command } from './args.ts';
import { openActivations } from './data.ts';
import { loadSaeFolder } from './sae-folder.ts';

export const featuresCommand: Command = {
  name: 'features',
  summary: 'Label purity of an SAE\'s features on held-out rows (e.g. Brown POS tags): which features are specific.',
  usage: 'sae-lab features --sae DIR --data FILE --sidecar TOKENS.jsonl [--label upos] [--min-density 1e-3] [--min-purity 0.8] [--min-tokens 3] [--probes [--probe-rows 20000] [--probe-epochs 20]] [--out FILE.json]',
  options: {
    sae: { type: 'string', help: 'SAE folder (cfg.json + sae_weights.safetensors [+ metrics.json])' },
    data: { type: 'string', help: 'activations (.npy, .safetensors, Arrow folder)' },
    sidecar: { type: 'string', help: 'JSON-Lines token sidecar with the label column' },
    label: { type: 'string', help: 'label column of the sidecar (default: the universal POS tags, upos or pos_universal)' },
    rows: { type: 'string', help: 'held-out (the training split) or all', default: 'held-out' },
    'min-density': { type: 'string', help: 'features firing on fewer rows than this fraction are not listed', default: '1e-3' },
    'min-purity': { type: 'string', help: 'share of activation mass on the dominant label', default: '0.8' },
    'min-tokens': { type: 'string', help: 'distinct tokens the feature must fire on', default: '3' },
    out: { type: 'string', help: 'also write every feature\'s figures to this JSON file' },
    probes: { type: 'boolean', help: 'compare each listed feature, as a classifier for its label, with a logistic probe for the label trained on raw activations of the training rows' },
    'probe-rows': { type: 'string', help: 'training rows the probes are fit on at most (a seeded sample of 256-row pieces beyond that)', default: '20000' },
    'probe-epochs': { type: 'string', help: 'passes of the probes over their training rows', default: '20' },
  },
  async run(v) {
    const { sae, rule: saved } = loadSaeFolder(required(v, 'sae', 'features'));
    const sidecarPath = required(v, 'sidecar', 'features');
    const dataPath = required(v, 'data', 'features');
    if (v.rows !== 'held-out' && v.rows !== 'all') throw new CliError(`--rows must be held-out or all, got '${v.rows}'`, 2);
    const [minDensity, minPurity, minTokens] = [numberOption(v, 'min-density'), numberOption(v, 'min-purity'), intOption(v, 'min-tokens')];
    const probes = v.probes === true;
    const [probeRows, probeEpochs] = [intOption(v, 'probe-rows'), intOption(v, 'probe-epochs')];
    // the probes learn from the rows the SAE trained on and are scored on the rows it did not: with --rows all there is no such split
    if (probes && v.rows === 'all') throw new CliError('--probes needs --rows held-out: the probes train on the training split and are scored on the held-out rows', 2);
    const data = await openActivations(dataPath, { sidecar: sidecarPath });
    const side = await openFileSource(sidecarPath);
    try {
      const rows = data.rows;
      if (rows.d !== sae.d) throw new CliError(`${dataPath}: rows have width ${rows.d}, the SAE has d_in=${sae.d}`);
      const ctx = await parseSidecar(side, rows.rows);
      // `sae-lab harvest` names the universal tags 'upos'; the page's export names them 'pos_universal'
      const label = (v.label as string | undefined) ?? ['upos', 'pos_universal'].find((k) => k in ctx.labels) ?? 'upos';
      const column = ctx.labels[label];
      if (!column) throw new CliError(`${sidecarPath}: no label column '${label}' (it has: ${Object.keys(ctx.labels).join(', ') || 'none'})`);
      const rule = saved ?? documentRule(0);
      const ranges: [number, number][] = v.rows === 'all' ? [[0, rows.rows]] : splitRows(rows.rows, rule, rows.name, ctx.doc).heldOut;
      const mass = newLabelMass(column.names, sae.features);
      // with --probes, which held-out rows each feature fires on, by label, from the same activations
      const fires = probes ? newFireCounts(sae.features, column.names.length) : undefined;
      const gpu = await requestNodeDevice();
      const runner = new SaeRunner(gpu.device, sae, 256);
      try {
        // chunks arrive in range order: track the global row each starts at
        const starts = ranges.flatMap(([s, e]) => Array.from({ length: Math.ceil((e - s) / 256) }, (_, i) => s + i * 256));
        let c = 0;
        for await (const chunk of rangeChunks(rows, ranges, 256)) {
          const start = starts[c++]!;
          const n = chunk.length / rows.d;
          const { acts } = await runner.forward(chunk);
          addLabelMass(mass, acts, column.values.subarray(start, start + n), ctx.token.subarray(start, start + n));
          if (fires) addFireCounts(fires, acts, column.values.subarray(start, start + n));
        }
      } finally {
        runner.destroy();
        gpu.device.destroy();
      }
      const all = featureLabels(mass).map((f) => ({ ...f, lift: round(f.lift), purity: round(f.purity), density: round(f.density), topTokens: f.topTokens.map((t) => ctx.strings[t]!) }));
      let specific: ((typeof all)[number] & { probe?: ClassifierScores; asClassifier?: ClassifierScores })[] = all
        .filter((f) => f.density >= minDensity && f.purity >= minPurity && f.distinctTokens >= minTokens)
        .sort((a, b) => b.purity - a.purity || b.density - a.density);
      let probeReport: ProbeReport | undefined;
      if (fires) {
        const compared = await compareWithProbes(rows, column, ranges, fires, specific, { maxRows: probeRows, epochs: probeEpochs, seed: rule.seed });
        probeReport = compared.report;
        specific = compared.features;
      }
      if (v.out) writeFileSync(v.out as string, JSON.stringify({ label, rows: mass.rows, features: all }, null, 2) + '\n');
      process.stdout.write(JSON.stringify({ label, rows: mass.rows, held_out: v.rows === 'all' ? null : rule, bars: { minDensity, minPurity, minTokens }, ...(probeReport ? { probes: probeReport } : {}), count: specific.length, features: specific }, null, 2) + '\n');
      process.stderr.write(`${specific.length} features put ≥ ${minPurity * 100}% of their activation mass on one '${label}' label (density ≥ ${minDensity}, ≥ ${minTokens} distinct tokens), over ${mass.rows} rows\n`);
      if (probeReport) {
        const capped = probeReport.trainRows < probeReport.trainRowsAvailable ? ` (capped from ${probeReport.trainRowsAvailable})` : '';
        process.stderr.write(`${probeReport.labels.length} probes (${probeReport.labels.join(', ') || 'none'}) fit on ${probeReport.trainRows} training rows${capped} for ${probeReport.epochs} epochs in ${probeReport.seconds} s\n`);
      }
    } finally {
      await side.close();
      await data.close();
    }
    return 0;
  },
};

const round = (x: number) => Math.round(x * 1e4) / 1e4;

/** what --probes adds to the report's head: how the probes were fit, so the caps are visible */
interface ProbeReport {
  /** labels a probe was fit for: those of the listed features */
  labels: string[];
  /** rows fit on, and the training rows there were (the sample is capped at maxRows) */
  trainRows: number;
  trainRowsAvailable: number;
  maxRows: number;
  epochs: number;
  batch: number;
  lr: number;
  l2: number;
  seed: number;
  probeRule: string;
  featureRule: string;
  seconds: number;
}

/**
 * Fits one probe per distinct label of the listed features on (a capped sample of) the rows outside the
 * held-out ranges, scores each on the held-out rows read again from disk (raw rows only: the SAE is not run
 * a second time; the features' side comes from `fires`, counted in the SAE pass), and adds both to each
 * listed feature.
 */
async function compareWithProbes<T extends { label: string; feature: number }>(
  rows: RowSource, column: LabelColumn, heldOut: [number, number][], fires: FireCounts, listed: T[],
  o: { maxRows: number; epochs: number; seed: number },
): Promise<{ report: ProbeReport; features: (T & { probe: ClassifierScores; asClassifier: ClassifierScores })[] }> {
  const t0 = performance.now();
  const classes = [...new Set(listed.map((f) => column.names.indexOf(f.label)))].sort((a, b) => a - b);
  const training = complementRanges(heldOut, rows.rows);
  const sample = sampleRanges(training, o.maxRows, o.seed);
  const n = rowsInRanges(sample);
  const confusion = new Map<number, Confusion>();
  if (classes.length > 0) {
    // one read of the sample: it is kept for the epochs, and its mean/std accumulate as it arrives
    const x = new Float32Array(n * rows.d);
    const y = new Int32Array(n);
    const moments = newMoments(rows.d);
    let at = 0;
    for (const [s, e] of sample) {
      for (let start = s; start < e; start += 4096) {
        const k = Math.min(4096, e - start);
        const chunk = await rows.readRows(start, k);
        x.set(chunk, at * rows.d);
        y.set(column.values.subarray(start, start + k), at);
        addMoments(moments, chunk);
        at += k;
      }
    }
    const probes = trainProbes(x, rows.d, y, classes, { epochs: o.epochs, seed: o.seed }, standardiser(moments));
    for (const p of probes) confusion.set(p.label, newConfusion());
    for (const [s, e] of heldOut) {
      for (let start = s; start < e; start += 4096) {
        const k = Math.min(4096, e - start);
        const chunk = await rows.readRows(start, k);
        for (const p of probes) addProbeConfusion(confusion.get(p.label)!, p, chunk, column.values.subarray(start, start + k));
      }
    }
  }
  const scores = (c: Confusion) => {
    const s = classifierScores(c);
    return { precision: round(s.precision), recall: round(s.recall), f1: round(s.f1) };
  };
  const features = listed.map((f) => {
    const l = column.names.indexOf(f.label);
    return { ...f, probe: scores(confusion.get(l)!), asClassifier: scores(featureConfusion(fires, f.feature, l)) };
  });
  const report: ProbeReport = {
    labels: classes.map((l) => column.names[l]!),
    trainRows: classes.length > 0 ? n : 0,
    trainRowsAvailable: rowsInRanges(training),
    maxRows: o.maxRows,
    epochs: o.epochs,
    batch: PROBE_DEFAULTS.batch,
    lr: PROBE_DEFAULTS.lr,
    l2: PROBE_DEFAULTS.l2,
    seed: o.seed,
    probeRule: 'one-vs-rest logistic regression on standardised raw activations; predicts the label at the logit threshold maximising F1 on its training rows',
    featureRule: 'the feature predicts its label where it fires (activation > 0)',
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
  return { report, features };
}
