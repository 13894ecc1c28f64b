import { mmcs } from '../src/analysis/mmcs.ts';
import { encodeNpy, openNpy } from '../src/data/formats/npy.ts';
import { memorySource } from '../src/data/memory-source.ts';
import { heldOutRule } from '../src/data/split.ts';
import { generateSynthetic } from '../src/data/synth.ts';
import { trainOnRows } from '../src/cli/train.ts';
import { defaultConfig, type TrainConfig } from '../src/engine/config.ts';
import { requestNodeDevice } from '../src/engine/node-device.ts';
const d = 48, TRUE = 192, ROWS = 65536;
const synth = generateSynthetic({ d, features: TRUE, rows: ROWS, seed: 0, activeMean: 2.5 });
const gpu = await requestNodeDevice();
const runs: Partial<TrainConfig>[] = JSON.parse(process.argv[2]!);
for (const run of runs) {
  const cfg = defaultConfig({ d, features: 384, lr: 3e-3, batch: 512, steps: 600, seed: 0, arch: 'jumprelu', ...run });
  const rows = await openNpy(memorySource(encodeNpy(synth.data, [ROWS, d]), 'x.npy'));
  const t0 = Date.now();
  const r = await trainOnRows({ rows, config: cfg, rule: heldOutRule(0), device: gpu.device, adapter: gpu.adapter, tunerCache: null, onProgress: () => {} });
  const m = r.metrics as unknown as Record<string, number>;
  console.log(JSON.stringify(run), 'mmcs', mmcs(synth.truth, TRUE, r.sae.W_dec, cfg.features, d).toFixed(4), 'fvu', m.fvu?.toFixed(4), 'l0', m.l0.toFixed(2), 'dead', m.dead_frac_eval.toFixed(3), ((Date.now() - t0) / 1000).toFixed(0) + 's');
}
gpu.device.destroy();
