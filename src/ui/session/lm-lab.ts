// The session's language-model lab: an SAE (a run's, trained on a model's hook, or an imported one) spliced
// into its model in the language-model worker, and the seed's experiments on it — what a feature does
// (logit effects, examples, measured effect), steering a prompt's continuation (and a sweep of strengths),
// attribution to a next token, CE loss and KL scores, and the features of a concept.
import { proxy, wrap, type Remote } from 'comlink';
import type { ConceptResult } from '../../model/concept.ts';
import type { SteerResult } from '../../model/steering.ts';
import type { SpliceFidelity } from '../../model/sae-fidelity.ts';
import type { NextTokenAttribution } from '../../model/attribution.ts';
import type { LmApi, LmFeatureView } from '../../worker/api.ts';
import type { SessionCore } from './core.ts';
import type { Datasets } from './datasets.ts';

export interface SteerRequest {
  prompt: string;
  feature: number;
  mode: 'add' | 'clamp';
  strengths: number[];
  tokens: number;
  sample?: { seed: number; temperature: number };
}

export interface LmLabState {
  kind: 'run' | 'imported';
  id: string;
  label: string;
  /** the model it is spliced into, and where */
  modelName: string;
  hook?: string;
  warning?: string;
  busy?: string;
  error?: string;
  feature?: number;
  view?: LmFeatureView;
  steer?: SteerResult & { request: SteerRequest };
  attribution?: NextTokenAttribution & { tokens: string[]; targetToken: string; prompt: string };
  fidelity?: Omit<SpliceFidelity, 'documents'>;
  fidelityProgress?: number;
  concept?: ConceptResult;
}

/** the built-in model's name in an SAE's cfg.json (metadata.model_name) */
const BUILTIN_NAME = 'builtin-lm';

export class LmLab {
  state: LmLabState | undefined;
  private worker: Remote<LmApi> | undefined;

  constructor(
    private readonly core: SessionCore,
    private readonly datasets: Datasets,
  ) {}

  /** Opens an SAE on the model its cfg.json names (the built-in one, or one stored here by that name). */
  async open(kind: 'run' | 'imported', id: string, label: string): Promise<void> {
    const state: LmLabState = { kind, id, label, modelName: '', busy: 'loading the model and the SAE…' };
    this.state = state;
    this.core.changed();
    await this.work(state, async () => {
      const { sae } = await this.core.gpu.saeWeights(kind, id);
      const named = typeof sae.metadata.model_name === 'string' ? sae.metadata.model_name : '';
      const stored = this.datasets.models.find((m) => (named === BUILTIN_NAME ? m.id === 'builtin' : m.name === named));
      if (!stored) throw new Error(named ? `${label} was trained on ${named}, which is not among this browser's models: add its folder in the Language models panel` : `${label} does not say which model it was trained on (no model_name in its cfg.json)`);
      state.modelName = named;
      this.worker ??= wrap<LmApi>(new Worker(new URL('../../worker/lm-worker.ts', import.meta.url), { type: 'module' }));
      const opened = await this.worker.open({ model: stored.id, modelName: named, sae, saeLabel: label });
      state.hook = opened.hook;
      state.warning = opened.warning;
    });
  }

  /** From a feature's card: the SAE opened here (as it is now: a run's SAE changes as it trains) and the feature read in the model. */
  async openFeature(kind: 'run' | 'imported', id: string, label: string, feature: number): Promise<void> {
    await this.open(kind, id, label);
    await this.pick(feature);
  }

  /** What a feature does in the model: logit effects, its strongest examples on held-out text, its measured effect. */
  pick(feature: number): Promise<void> {
    return this.task('reading the feature in the model…', async (s, w) => {
      s.feature = feature;
      s.view = undefined;
      s.view = await w.feature(feature);
    });
  }

  steer(req: SteerRequest): Promise<void> {
    return this.task(req.strengths.length > 1 ? `generating a sweep of ${req.strengths.length} strengths…` : 'generating both continuations…', async (s, w) => {
      s.feature = req.feature;
      s.steer = { ...(await w.steer(req)), request: req };
    });
  }

  attribute(prompt: string, target: string): Promise<void> {
    return this.task('removing each active feature in turn…', async (s, w) => {
      s.attribution = { ...(await w.attribute(prompt, target)), prompt };
    });
  }

  measureFidelity(tokens = 2048): Promise<void> {
    return this.task('measuring CE loss and KL with the SAE spliced in…', async (s, w) => {
      s.fidelityProgress = 0;
      s.fidelity = await w.fidelity(tokens, proxy((done: number, total: number) => {
        s.fidelityProgress = done / total;
        this.core.changed();
      }));
      s.fidelityProgress = undefined;
    });
  }

  findConcept(forTexts: string[], against: string[]): Promise<void> {
    return this.task('reading the texts…', async (s, w) => {
      s.concept = await w.concept(forTexts, against);
    });
  }

  cancel(): void {
    void this.worker?.cancel();
  }

  private task(busy: string, work: (s: LmLabState, w: Remote<LmApi>) => Promise<void>): Promise<void> {
    const s = this.state;
    if (!s || !s.hook || !this.worker) return Promise.resolve();
    s.busy = busy;
    return this.work(s, () => work(s, this.worker!));
  }

  private async work(s: LmLabState, work: () => Promise<void>): Promise<void> {
    s.error = undefined;
    this.core.changed();
    try {
      await work();
    } catch (e) {
      s.error = /abort/i.test((e as Error).message) ? 'cancelled' : (e as Error).message;
    } finally {
      s.busy = undefined;
      this.core.changed();
    }
  }
}
