// sae-lab features: what an SAE's features fire on, by label — for each feature its dominant label in a
// token sidecar's label column (Brown POS tags for harvested data), the share of its activation mass there
// (purity), the lift over that label's base rate, and the distinct tokens it fires on — measured on the
// held-out rows its training left out. Lists the features that clear the bars, as JSON on stdout.
import { writeFileSync } from 'node:fs';
import { addLabelMass, featureLabels, newLabelMass } from '../analysis/labels.ts';
import { rangeChunks } from '../data/batches.ts';
import { parseSidecar } from '../data/formats/sidecar.ts';
import { openFileSource } from '../data/node-file.ts';
import { documentRule, splitRows } from '../data/split.ts';
import { SaeRunner } from '../engine/evaluate.ts';
import { requestNodeDevice } from '../engine/node-device.ts';
import { CliError, numberOption, intOption, required, type Command } from './args.ts';
import { openActivations } from './data.ts';
import { loadSaeFolder } from './eval.ts';

export const featuresCommand: Command = {
  name: 'features',
  summary: 'Label purity of an SAE\'s features on held-out rows (e.g. Brown POS tags): which features are specific.',
  usage: 'sae-lab features --sae DIR --data FILE --sidecar TOKENS.jsonl [--label upos] [--min-density 1e-3] [--min-purity 0.8] [--min-tokens 3] [--out FILE.json]',
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
  },
  async run(v) {
    const { sae, rule: saved } = loadSaeFolder(required(v, 'sae', 'features'));
    const sidecarPath = required(v, 'sidecar', 'features');
    const dataPath = required(v, 'data', 'features');
    if (v.rows !== 'held-out' && v.rows !== 'all') throw new CliError(`--rows must be held-out or all, got '${v.rows}'`, 2);
    const [minDensity, minPurity, minTokens] = [numberOption(v, 'min-density'), numberOption(v, 'min-purity'), intOption(v, 'min-tokens')];
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
        }
      } finally {
        runner.destroy();
        gpu.device.destroy();
      }
      const all = featureLabels(mass).map((f) => ({ ...f, lift: round(f.lift), purity: round(f.purity), density: round(f.density), topTokens: f.topTokens.map((t) => ctx.strings[t]!) }));
      const specific = all.filter((f) => f.density >= minDensity && f.purity >= minPurity && f.distinctTokens >= minTokens).sort((a, b) => b.purity - a.purity || b.density - a.density);
      if (v.out) writeFileSync(v.out as string, JSON.stringify({ label, rows: mass.rows, features: all }, null, 2) + '\n');
      process.stdout.write(JSON.stringify({ label, rows: mass.rows, held_out: v.rows === 'all' ? null : rule, bars: { minDensity, minPurity, minTokens }, count: specific.length, features: specific }, null, 2) + '\n');
      process.stderr.write(`${specific.length} features put ≥ ${minPurity * 100}% of their activation mass on one '${label}' label (density ≥ ${minDensity}, ≥ ${minTokens} distinct tokens), over ${mass.rows} rows\n`);
    } finally {
      await side.close();
      await data.close();
    }
    return 0;
  },
};

const round = (x: number) => Math.round(x * 1e4) / 1e4;
