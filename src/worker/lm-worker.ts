// The language-model worker's entry: the seed's experiments on a causal model with an SAE spliced in at its
// hook (exposes LmApi over comlink). It holds one model (the built-in one or one stored in this browser) and
// one SAE on a WebGPU device of its own, and answers: continuations with a feature steered (and a sweep of
// strengths), what a feature does (logit effects, examples on held-out text, measured ablation effect),
// attribution to a next token, CE loss and KL scores, and the features of a concept.
import { expose } from 'comlink';
import type { SaeWeights } from '../engine/sae.ts';
import { attributeNextToken } from '../model/attribution.ts';
import { browserCorpusReader } from '../model/browser-corpus.ts';
import { conceptFeatures } from '../model/concept.ts';
import { DOCUMENT_SAMPLE_CHARS, builtinDocuments, documentSamples } from '../model/corpus.ts';
import { featureOnText } from '../model/feature-effects.ts';
import { openModel, readWeights, type ModelPlan } from '../model/folder.ts';
import { LanguageModel } from '../model/lm.ts';
import type { LmWeights } from '../model/config.ts';
import { logitEffects } from '../model/logit-effects.ts';
import { measureSpliceFidelity } from '../model/sae-fidelity.ts';
import { SaeSplice, checkSaeForModel, specialTokenIds } from '../model/sae-splice.ts';
import { collectBatches, type SequenceBatch } from '../model/sequences.ts';
import { steerGeneration } from '../model/steering.ts';
import type { LmApi } from './api.ts';
import { getDevice, modelFiles } from './lm-jobs.ts';

/** room on the device: the fidelity's and the examples' batches of sequences */
const BATCH = 8;
const CONTEXT = 64;
/** held-out tokens (from the start of each document) a feature's examples and measured effect are read from */
const FEATURE_TOKENS = 4096;

interface Loaded {
  modelId: string;
  plan: ModelPlan;
  weights: LmWeights;
  lm: LanguageModel;
  sae?: SaeWeights;
  splice?: SaeSplice;
  hook?: string;
  /** held-out text read once per model for the feature views */
  text?: Promise<SequenceBatch[]>;
}

let loaded: Loaded | undefined;
let job: AbortController | undefined;

async function loadModel(modelId: string): Promise<Loaded> {
  if (loaded?.modelId === modelId) return loaded;
  release();
  const files = await modelFiles(modelId);
  const plan = await openModel(files);
  const weights = await readWeights(plan);
  const { device } = await getDevice();
  const lm = LanguageModel.create(device, plan.config, weights, files.name, BATCH, Math.min(CONTEXT, plan.config.maxPositions));
  loaded = { modelId, plan, weights, lm };
  return loaded;
}

function release(): void {
  loaded?.splice?.destroy();
  loaded?.lm.destroy();
  loaded = undefined;
}

function ready(): Required<Pick<Loaded, 'sae' | 'splice' | 'hook'>> & Loaded {
  if (!loaded?.splice) throw new Error('choose an SAE and its model first');
  return loaded as Required<Pick<Loaded, 'sae' | 'splice' | 'hook'>> & Loaded;
}

/** a fresh cancellable job (a new one cancels the one before) */
function newJob(): AbortSignal {
  job?.abort();
  job = new AbortController();
  return job.signal;
}

/** the sequences' length for the splice's passes (the model's cache may have grown for a long generation) */
const contextOf = (l: Loaded) => Math.min(CONTEXT, l.plan.config.maxPositions);

function heldOutText(l: Loaded): Promise<SequenceBatch[]> {
  l.text ??= (async () => {
    const docs = documentSamples(builtinDocuments(await browserCorpusReader(self.location.href, import.meta.env.BASE_URL), 'heldout'), DOCUMENT_SAMPLE_CHARS);
    return (await collectBatches(l.plan.tokenizer, l.plan.config, docs, { context: contextOf(l), batch: BATCH, tokens: FEATURE_TOKENS })).batches;
  })();
  return l.text;
}

const api: LmApi = {
  async open({ model, modelName, sae, saeLabel }) {
    const l = await loadModel(model);
    const checked = checkSaeForModel(sae, saeLabel, l.plan.config, modelName);
    // spliced in anew every time: a run's SAE changes as it trains
    l.splice?.destroy();
    l.splice = new SaeSplice(l.lm.device, sae, BATCH * contextOf(l), specialTokenIds(l.plan.config));
    Object.assign(l, { sae, hook: checked.hook });
    return { hook: checked.hook, warning: checked.warning };
  },

  async steer(req) {
    const signal = newJob();
    const l = ready();
    const prompt = l.plan.tokenizer.encode(req.prompt);
    if (prompt.length === 0) throw new Error('type a prompt first');
    const room = l.plan.config.maxPositions - prompt.length;
    if (room < 1) throw new Error(`the prompt's ${prompt.length} tokens leave no room in the model's ${l.plan.config.maxPositions} positions`);
    // generation reserves room for the whole continuation; the splice takes the prompt in one pass
    if (prompt.length > l.splice.rows) throw new Error(`the prompt is ${prompt.length} tokens; the splice takes at most ${l.splice.rows}`);
    return steerGeneration(l.lm, l.plan.tokenizer, l.splice, l.hook, prompt, { ...req, tokens: Math.min(req.tokens, room) }, signal);
  },

  async feature(feature) {
    const l = ready();
    const d = l.sae.d;
    const text = (id: number) => l.plan.tokenizer.tokenLabel(id);
    const logits = logitEffects(l.plan.config, l.weights, l.sae.W_dec.subarray(feature * d, (feature + 1) * d), text);
    const onText = await featureOnText(l.lm, l.plan.tokenizer, l.splice, l.hook, feature, await heldOutText(l));
    return { feature, logits, onText };
  },

  async attribute(prompt, target) {
    const l = ready();
    const ids = l.plan.tokenizer.encode(prompt);
    const t = l.plan.tokenizer.encodeRaw(target);
    if (t.length !== 1) throw new Error(`'${target}' is ${t.length} tokens for this model's tokenizer; give one token (a leading space is part of a word's token)`);
    const r = await attributeNextToken(l.lm, l.sae, l.hook, ids, t[0]!, { perPosition: 6, batch: BATCH, signal: newJob(), skip: l.splice.specialIds });
    return { ...r, tokens: l.plan.tokenizer.pieces(ids), targetToken: l.plan.tokenizer.pieces(t)[0]! };
  },

  async fidelity(tokens, onProgress) {
    const l = ready();
    const signal = newJob();
    const docs = builtinDocuments(await browserCorpusReader(self.location.href, import.meta.env.BASE_URL), 'heldout');
    const { documents: _docs, ...f } = await measureSpliceFidelity(l.lm, l.plan.tokenizer, l.splice, docs, {
      hook: l.hook, context: contextOf(l), batch: BATCH, tokens, signal, onProgress: (done, total) => void Promise.resolve(onProgress(done, total)).catch(() => {}),
    });
    return f;
  },

  async concept(forTexts, against) {
    const l = ready();
    const enc = (texts: string[]) => texts.map((t) => t.trim()).filter(Boolean).map((t) => l.plan.tokenizer.encode(t).slice(0, contextOf(l)));
    return conceptFeatures(l.lm, l.sae, l.hook, { for: enc(forTexts), against: enc(against) });
  },

  cancel() {
    job?.abort();
  },
};

expose(api);
