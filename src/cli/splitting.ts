// sae-lab split: feature splitting across SAE sizes — two SAEs trained on the same activations at different
// widths, each large feature linked to its nearest small feature by decoder cosine, and the small features
// that split into families of large ones listed, biggest family first (src/analysis/splitting.ts). Decoder
// directions alone decide it, so no data and no GPU are needed.
import { DEFAULT_SPLIT_THRESHOLD, decoderLinks, orderFamilies, splitFamilies, type SplitLink } from '../analysis/splitting.ts';
import { CliError, numberOption, required, type Command } from './args.ts';
import { loadSaeFolder } from './sae-folder.ts';
import { writeFiles } from './output.ts';

export const splitCommand: Command = {
  name: 'split',
  summary: 'Feature splitting: link a small and a large SAE trained on the same data by decoder cosine; list the families.',
  usage: 'sae-lab split --small DIR --large DIR [--threshold 0.5] [--out FILE.json]',
  options: {
    small: { type: 'string', help: 'the smaller SAE folder (cfg.json + sae_weights.safetensors)' },
    large: { type: 'string', help: 'the larger SAE folder, trained on the same activations' },
    threshold: { type: 'string', help: 'decoder cosine at which a large feature counts as its nearest small feature\'s child', default: String(DEFAULT_SPLIT_THRESHOLD) },
    out: { type: 'string', help: 'also write the report with every feature\'s nearest link, both ways, to this JSON file' },
  },
  async run(v) {
    const smallDir = required(v, 'small', 'split');
    const largeDir = required(v, 'large', 'split');
    const threshold = numberOption(v, 'threshold', false);
    if (threshold < 0 || threshold > 1) throw new CliError(`--threshold must be a number in [0, 1], got '${v.threshold}'`, 2);
    const { sae: small } = loadSaeFolder(smallDir);
    const { sae: large } = loadSaeFolder(largeDir);
    if (small.d !== large.d) {
      throw new CliError(`${smallDir} has d_in=${small.d} but ${largeDir} has d_in=${large.d}: feature splitting needs two SAEs trained on the same activations`);
    }

    // F_s·F_l·d multiply-adds can take minutes at full size: say how far it is, but only when it is slow
    const started = Date.now();
    let said = started;
    const links = decoderLinks(small, large, {
      onProgress(done, total) {
        const now = Date.now();
        if (now - said < 5000 || done === total) return;
        said = now;
        process.stderr.write(`linking: ${done}/${total} large features, ${((now - started) / 1000).toFixed(0)} s\n`);
      },
    });
    const split = splitFamilies(links, threshold);
    const c = split.counts;
    const report = {
      small: { dir: smallDir, features: small.features },
      large: { dir: largeDir, features: large.features },
      d_in: small.d,
      threshold,
      counts: c,
      families: orderFamilies(split.families).map((f) => ({ parent: f.parent, children: f.children.map(rounded), nearest: rounded(f.nearest) })),
      new: split.newFeatures.map((n) => ({ feature: n.feature, nearest: rounded(n.nearest) })),
    };
    if (v.out) {
      const full = {
        ...report,
        links: {
          large_parent: Array.from(links.parentOf),
          large_cosine: Array.from(links.parentCosine, round),
          small_nearest: Array.from(links.nearestLarge),
          small_cosine: Array.from(links.nearestLargeCosine, round),
        },
      };
      await writeFiles({ [v.out as string]: JSON.stringify(full, null, 2) + '\n' });
    }
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    process.stderr.write(
      `${c.splits} of ${c.small} features of ${smallDir} split into ≥ 2 features of ${largeDir} at decoder cosine ≥ ${threshold}; ` +
        `${c.single} map to one, ${c.childless} to none; ${c.new} of ${c.large} large features are new\n`,
    );
    return 0;
  },
};

// cosines to six decimals, for a readable report; the families were decided on the unrounded values
const round = (x: number) => Math.round(x * 1e6) / 1e6;
const rounded = (l: SplitLink): SplitLink => ({ ...l, cosine: round(l.cosine) });
