// The session's sentence-encoder explorer: one SAE spliced into USE-lite in the explore worker, the features
// on each token of a sentence, ablating or steering one of them, downstream fidelity and attribution.
import { wrap, type Remote } from 'comlink';
import type { HarvestLayer } from '../../data/harvest/model.ts';
import type { Attribution, ExploreApi, Fidelity, InterventionEffect, TokenReading } from '../../worker/api.ts';
import type { SessionCore } from './core.ts';

/** The explorer's state: one SAE spliced into the real model, one sentence, and the last intervention. */
export interface ExploreState {
  label: string;
  layer: HarvestLayer;
  busy: boolean;
  error?: string;
  text?: string;
  reading?: TokenReading;
  /** the feature picked on a token */
  feature?: number;
  effect?: { what: string; feature: number; result: InterventionEffect };
  attribution?: Attribution;
  fidelity?: Fidelity;
}

export class Explorer {
  state: ExploreState | undefined;
  private worker: Remote<ExploreApi> | undefined;

  constructor(private readonly core: SessionCore) {}

  /** Splices a run's SAE (or an imported one) into the real model in the explore worker. */
  async open(kind: 'run' | 'imported', id: string, label: string): Promise<void> {
    const { sae, layer } = await this.core.gpu.saeWeights(kind, id);
    if (!layer) {
      this.state = undefined;
      this.core.say({ kind: 'error', text: `${label}: its data did not come from the sentence encoder (no USE-lite layer in its name or hook), so it cannot be spliced in here` });
      this.core.changed();
      return;
    }
    this.state = { label, layer, busy: true };
    this.core.changed();
    this.worker ??= wrap<ExploreApi>(new Worker(new URL('../../worker/explore-worker.ts', import.meta.url), { type: 'module' }));
    await this.explore(() => this.worker!.setSae(sae, layer));
  }

  /** The features active on each token of `text`. */
  read(text: string): Promise<void> {
    return this.explore(async () => {
      const reading = await this.worker!.read(text);
      Object.assign(this.state!, { text, reading, feature: undefined, effect: undefined, attribution: undefined });
    });
  }

  pick(feature: number): void {
    if (!this.state) return;
    this.state.feature = feature;
    this.core.changed();
  }

  /**
   * Ablates the picked feature (sets it to 0 on every token) or steers it (clamps it on every token to
   * `multiple` × its largest activation on the sentence), and reports what the model's output does.
   */
  intervene(mode: 'ablate' | 'steer', multiple = 4): Promise<void> {
    return this.explore(async () => {
      const ex = this.state!;
      const f = ex.feature!;
      const max = ex.reading!.maxAct[f]!;
      const value = mode === 'ablate' ? 0 : multiple * max;
      const result = await this.worker!.intervene(ex.text!, [{ feature: f, value }]);
      const what = mode === 'ablate' ? `ablated #${f} (set to 0)` : `steered #${f} to ${multiple}× its max here (${value.toPrecision(3)})`;
      ex.effect = { what, feature: f, result };
    });
  }

  /** Downstream fidelity of the SAE being explored (RECIPE §3), on sentences from the end of the corpus. */
  measureFidelity(sentences = 64): Promise<void> {
    return this.explore(async () => {
      this.state!.fidelity = await this.worker!.fidelity(sentences);
    });
  }

  /** Every shown token × feature's contribution to the output (along it, or toward a target sentence). */
  attribute(target?: string): Promise<void> {
    return this.explore(async () => {
      const ex = this.state!;
      ex.attribution = await this.worker!.attribute(ex.text!, ex.reading!, target);
    });
  }

  private async explore(work: () => Promise<void>): Promise<void> {
    const ex = this.state;
    if (!ex) return;
    ex.busy = true;
    ex.error = undefined;
    this.core.changed();
    try {
      await work();
    } catch (e) {
      ex.error = (e as Error).message;
    } finally {
      ex.busy = false;
      this.core.changed();
    }
  }
}
