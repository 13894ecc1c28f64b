// sae-lab encode: what an SAE computes on rows, for any tool to check our loading against: feature_acts.npy
// (N × d_sae) and reconstruction.npy (N × d_out: d_in for an SAE, a transcoder's output width), float32, from the GPU's encoder and decoder (the same
// SaeRunner evaluation uses). Rows are streamed: both files are written chunk by chunk into a temporary
// sibling folder that is renamed into place when complete (output.ts streamFolder), so a failure leaves nothing.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { rangeChunks } from '../data/batches.ts';
import { npyHeader } from '../data/formats/npy.ts';
import { refuseNonFinite } from '../data/stats.ts';
import { heldOutRule, rowsInRanges, splitRows } from '../data/split.ts';
import { SaeRunner } from '../engine/evaluate.ts';
import { outWidth } from '../engine/sae.ts';
import { requestNodeDevice } from '../engine/node-device.ts';
import { CliError, required, type Command } from './args.ts';
import { openActivations } from './data.ts';
import { loadSaeFolder } from './sae-folder.ts';
import { checkOutDir, streamFolder } from './output.ts';

export const encodeCommand: Command = {
  name: 'encode',
  summary: "Run an SAE over rows: its feature activations and reconstructions as .npy (N × d_sae, N × d_out).",
  usage: 'sae-lab encode --sae DIR --data FILE|FOLDER [--tensor NAME] [--column NAME] [--rows all|held-out] --out DIR [--force]',
  options: {
    sae: { type: 'string', help: 'SAE folder (cfg.json + sae_weights.safetensors)' },
    data: { type: 'string', help: 'activations: .npy, .safetensors, or a folder of datasets .arrow shards' },
    tensor: { type: 'string', help: 'tensor name inside a .safetensors file' },
    column: { type: 'string', help: 'activation column of an Arrow cache' },
    rows: { type: 'string', help: "all, or held-out (the split the SAE's training recorded, else seed 0)", default: 'all' },
    out: { type: 'string', help: 'output folder: feature_acts.npy, reconstruction.npy' },
    force: { type: 'boolean', help: 'replace a non-empty output folder' },
  },
  async run(v) {
    const dir = required(v, 'sae', 'encode');
    const dataPath = required(v, 'data', 'encode');
    const out = required(v, 'out', 'encode');
    if (v.rows !== 'held-out' && v.rows !== 'all') throw new CliError(`--rows must be all or held-out, got '${v.rows}'`, 2);
    checkOutDir(out, !!v.force);
    const { sae, rule } = loadSaeFolder(dir);
    const data = await openActivations(dataPath, { tensor: v.tensor as string | undefined, column: v.column as string | undefined });
    try {
      const rows = data.rows;
      if (rows.d !== sae.d) throw new CliError(`${dataPath}: rows have width ${rows.d}, the SAE in ${dir} has d_in=${sae.d}`);
      const ranges: [number, number][] = v.rows === 'all' ? [[0, rows.rows]] : splitRows(rows.rows, rule ?? heldOutRule(0), rows.name).heldOut;
      const n = rowsInRanges(ranges);
      await refuseNonFinite(rows);
      const gpu = await requestNodeDevice();
      const runner = new SaeRunner(gpu.device, sae, 512);
      try {
        await streamFolder(out, async (tmp) => {
          const acts = await open(join(tmp, 'feature_acts.npy'), 'w');
          const recon = await open(join(tmp, 'reconstruction.npy'), 'w');
          try {
            await acts.write(npyHeader([n, sae.features]));
            await recon.write(npyHeader([n, outWidth(sae)]));
            for await (const chunk of rangeChunks(rows, ranges, runner.batch)) {
              const r = await runner.forward(chunk);
              await acts.write(new Uint8Array(r.acts.buffer, r.acts.byteOffset, r.acts.byteLength));
              await recon.write(new Uint8Array(r.recon.buffer, r.recon.byteOffset, r.recon.byteLength));
            }
          } finally {
            await acts.close();
            await recon.close();
          }
        });
      } finally {
        runner.destroy();
        gpu.device.destroy();
      }
      process.stderr.write(`wrote ${out}: ${n} rows → ${sae.features} features (${gpu.adapter})\n`);
    } finally {
      await data.close();
    }
    return 0;
  },
};
