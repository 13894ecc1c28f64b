// sae-lab synth: ground-truth superposition data (RECIPE §4) → DATA.npy and DATA.truth.npy.
import { encodeNpy } from '../data/formats/npy.ts';
import { generateSynthetic } from '../data/synth.ts';
import { CliError, intOption, numberOption, required, type Command } from './args.ts';
import { writeFiles } from './output.ts';

export const synthCommand: Command = {
  name: 'synth',
  summary: 'Write toy superposition data with known true directions (for checking that an SAE recovers them).',
  usage: 'sae-lab synth --out data.npy [--d 64] [--features 256] [--rows 65536] [--seed 0]',
  options: {
    out: { type: 'string', help: 'output .npy; the true directions go to <name>.truth.npy beside it' },
    d: { type: 'string', help: 'dimension of each row', default: '64' },
    features: { type: 'string', help: 'number of true directions F*', default: '256' },
    rows: { type: 'string', help: 'rows to generate', default: '65536' },
    seed: { type: 'string', help: 'random seed', default: '0' },
    active: { type: 'string', help: 'expected active directions per row', default: '2.5' },
    noise: { type: 'string', help: 'Gaussian noise per coordinate', default: '0.01' },
  },
  async run(v) {
    const out = required(v, 'out', 'synth');
    if (!out.endsWith('.npy')) throw new CliError(`${out}: --out must end in .npy`, 2);
    const d = intOption(v, 'd');
    const features = intOption(v, 'features');
    const rows = intOption(v, 'rows');
    const seed = intOption(v, 'seed', 0);
    const { data, truth } = generateSynthetic({ d, features, rows, seed, activeMean: numberOption(v, 'active'), noise: numberOption(v, 'noise', false) });
    const truthPath = out.replace(/\.npy$/, '.truth.npy');
    await writeFiles({ [out]: encodeNpy(data, [rows, d]), [truthPath]: encodeNpy(truth, [features, d]) });
    process.stderr.write(`wrote ${out} (${rows}×${d}) and ${truthPath} (${features}×${d})\n`);
    return 0;
  },
};
