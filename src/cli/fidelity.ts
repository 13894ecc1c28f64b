// sae-lab fidelity: RECIPE §3 downstream fidelity of an SAE trained on a USE-lite layer — x̂ spliced into
// the real model in place of x, sentence embeddings compared with the clean ones and with mean-ablated ones.
// The sentences come from the END of the Brown corpus (cr09 backwards), which a harvest from the start of
// the corpus reaches only after about a million tokens: text the SAE has not been trained on.
import { downstreamFidelity, type Fidelity } from '../analysis/splice.ts';
import type { SaeWeights } from '../engine/sae.ts';
import { EMBEDDING_NODE, HARVEST_LAYERS, LAYER_NODES, type HarvestLayer } from '../data/harvest/model.ts';
import { readBrownDocuments } from '../data/harvest/node-brown.ts';
import { loadNodeUseLite } from '../data/harvest/node-model.ts';
import { corpusSentences } from '../data/harvest/pipeline.ts';
import { SaeRunner } from '../engine/evaluate.ts';
import { requestNodeDevice } from '../engine/node-device.ts';
import { CliError, intOption, required, type Command } from './args.ts';
import { loadSaeFolder } from './sae-folder.ts';

export const fidelityCommand: Command = {
  name: 'fidelity',
  summary: 'Splice an SAE into USE-lite at its layer and measure how much of the output it keeps.',
  usage: 'sae-lab fidelity --sae DIR --layer resid0|resid1|mlp0|mlp1 [--sentences 200]',
  options: {
    sae: { type: 'string', help: 'SAELens folder (cfg.json, sae_weights.safetensors)' },
    layer: { type: 'string', help: 'the layer the SAE was trained on' },
    sentences: { type: 'string', help: 'Brown sentences to measure on, from the end of the corpus', default: '200' },
  },
  async run(v) {
    const layer = required(v, 'layer', 'fidelity') as HarvestLayer;
    if (!HARVEST_LAYERS.includes(layer)) throw new CliError(`sae-lab fidelity: --layer must be one of ${HARVEST_LAYERS.join(', ')}, got '${layer}'`, 2);
    const n = intOption(v, 'sentences');
    const { sae } = loadSaeFolder(required(v, 'sae', 'fidelity'));
    if (sae.d !== LAYER_NODES[layer].d) throw new CliError(`the SAE reads rows of width ${sae.d}; ${layer} has width ${LAYER_NODES[layer].d}`);
    const gpu = await requestNodeDevice();
    try {
      const f = await measureFidelity(gpu.device, sae, layer, n);
      process.stdout.write(JSON.stringify({ layer, ...f, adapter: gpu.adapter }) + '\n');
      process.stderr.write(
        `fidelity at ${layer}: ${(100 * f.recovered).toFixed(1)}% recovered over ${f.sentences} sentences (${f.tokens} tokens); ` +
          `1 − cos to clean: SAE ${f.dSae.toExponential(3)}, mean-ablated ${f.dAblated.toExponential(3)}\n`,
      );
    } finally {
      gpu.device.destroy();
    }
    return 0;
  },
};

/** Downstream fidelity of `sae` at `layer` on the last n sentences of the corpus, x̂ computed on the GPU. */
export async function measureFidelity(device: GPUDevice, sae: SaeWeights, layer: HarvestLayer, n: number): Promise<Fidelity> {
  const use = await loadNodeUseLite();
  const docs = [];
  for await (const doc of readBrownDocuments()) docs.push(doc);
  const sentences = (await corpusSentences(docs.reverse(), use.tokenizer, n, true)).ids;
  const runner = new SaeRunner(device, sae, 256);
  try {
    return await downstreamFidelity(use, sentences, LAYER_NODES[layer].node, EMBEDDING_NODE, async (x) => (await runner.forward(x)).recon);
  } finally {
    runner.destroy();
  }
}
