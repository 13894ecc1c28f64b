// The explore worker's entry: exposes ExploreApi (src/worker/api.ts) over comlink. It holds the real model
// (USE-lite on TF.js WASM, files from the page's origin) and one SAE, and answers for a typed sentence which
// features are active on each token and what ablating or steering one does to the model (analysis/explore.ts).
import { expose } from 'comlink';
import { attribute, intervene, readTokens, referenceSet, type ReferenceSet, type TokenReading } from '../analysis/explore.ts';
import { BrowserHarvester } from '../data/harvest/browser-harvest.ts';
import { EMBEDDING_NODE, LAYER_NODES } from '../data/harvest/model.ts';
import { downstreamFidelity } from '../analysis/splice.ts';
import { decodeCpu, encodeCpu } from '../analysis/sae-cpu.ts';
import type { HarvestLayer } from '../data/harvest/model.ts';
import type { SaeWeights } from '../engine/sae.ts';
import type { ExploreApi } from './api.ts';

const harvester = new BrowserHarvester(self.location.href, import.meta.env.BASE_URL);
let current: { sae: SaeWeights; layer: HarvestLayer } | undefined;
let reference: Promise<ReferenceSet> | undefined;
/** reference sentences for "the nearest sentences among the harvested ones" */
const REFERENCE_SENTENCES = 400;

function loaded(): { sae: SaeWeights; layer: HarvestLayer } {
  if (!current) throw new Error('choose an SAE to explore first');
  return current;
}

const model = () => harvester.model();

const api: ExploreApi = {
  async setSae(sae, layer) {
    current = { sae, layer };
    await model(); // load the model now, not on the first sentence
  },
  async read(text) {
    const { sae, layer } = loaded();
    return readTokens(await model(), sae, layer, text);
  },
  async attribute(text, reading: TokenReading, target) {
    const { sae, layer } = loaded();
    return attribute(await model(), sae, layer, text, reading, target);
  },
  async fidelity(sentences) {
    const { sae, layer } = loaded();
    const use = await model();
    const eval_ = (await harvester.sentences(sentences, true)).ids;
    return downstreamFidelity(use, eval_, LAYER_NODES[layer].node, EMBEDDING_NODE, async (x) => decodeCpu(sae, encodeCpu(sae, x), x));
  },
  async intervene(text, edits) {
    const { sae, layer } = loaded();
    const use = await model();
    // the demo's harvested text: the first sentences of the corpus, embedded once
    reference ??= harvester.sentences(REFERENCE_SENTENCES, false).then((s) => referenceSet(use, s));
    return intervene(use, sae, layer, text, edits, await reference);
  },
};

expose(api);
