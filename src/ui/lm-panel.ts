// <sae-lm-panel>: the seed's experiments on a language model. An SAE trained on one of the model's hooks is
// spliced back in at that hook; pick a feature to see what it does (the tokens it promotes and suppresses,
// its strongest activations on held-out text with the next token, the measured effect of ablating it),
// steer it on a prompt and read the continuation with and without the edit side by side (or a sweep of
// strengths), attribute a next token to features, measure CE loss and KL with the SAE in, and find the
// features of a concept from texts for and against it. Every figure exports as SVG, PNG and its numbers.
import { css, html, nothing } from 'lit';
import { SessionView } from './session-view.ts';
import type { LmLabState, SteerRequest } from './session.ts';
import { activationShade, barsFigure, lineFigure, tokensFigure } from './figures.ts';
import type { Continuation } from '../model/steering.ts';
import './figure-export.ts';
import './histogram-chart.ts';

const shown = (piece: string) => piece.replace(/\n/g, '⏎');
const fmt = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

/** the tokens of a text, each shaded by the feature's activation on it (the prompt's tokens outlined) */
function tokenRow(c: Continuation, max: number) {
  return html`<div class="text">${c.tokens.map((t, i) => {
    const a = c.acts[i]! / (max || 1);
    return html`<span class="tok ${i < c.promptLength ? 'prompt' : ''}" title="activation ${c.acts[i]!.toPrecision(3)}"
      style="background: ${activationShade(a) ?? 'transparent'}">${shown(t)}</span>`;
  })}</div>`;
}

export class SaeLmPanel extends SessionView {
  static override properties = { ...SessionView.properties, prompt: { state: true } };
  declare prompt: string;

  constructor() {
    super();
    this.prompt = 'The jury said that';
  }

  private _onChoose(e: Event): void {
    const select = e.target as HTMLSelectElement;
    const [kind, id] = select.value.split(':') as ['run' | 'imported', string];
    if (id) void this.session?.lm.open(kind, id, select.selectedOptions[0]!.text);
  }

  private _onFeature(e: SubmitEvent): void {
    e.preventDefault();
    const f = Number(new FormData(e.target as HTMLFormElement).get('feature'));
    if (Number.isInteger(f) && f >= 0) void this.session?.lm.pick(f);
  }

  private _onSteer(e: SubmitEvent): void {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const lm = this.session?.lm.state;
    if (lm?.feature === undefined) return;
    const sweep = (e.submitter as HTMLButtonElement | null)?.value === 'sweep';
    const strengths = sweep ? String(form.get('sweep')).split(/[\s,]+/).filter(Boolean).map(Number) : [Number(form.get('strength'))];
    const seed = String(form.get('seed') ?? '').trim();
    this.prompt = String(form.get('prompt') ?? '');
    const req: SteerRequest = {
      prompt: this.prompt, feature: lm.feature, mode: form.get('mode') === 'clamp' ? 'clamp' : 'add', strengths, tokens: Number(form.get('tokens')) || 24,
      sample: seed !== '' ? { seed: Number(seed), temperature: Number(form.get('temperature')) || 1 } : undefined,
    };
    void this.session?.lm.steer(req);
  }

  private _onAttribute(e: SubmitEvent): void {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    void this.session?.lm.attribute(String(form.get('prompt') ?? this.prompt), String(form.get('target') ?? ''));
  }

  private _onConcept(e: SubmitEvent): void {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const lines = (k: string) => String(form.get(k) ?? '').split('\n').filter((l) => l.trim());
    void this.session?.lm.findConcept(lines('for'), lines('against'));
  }

  override render() {
    const s = this.session;
    if (!s) return nothing;
    const st = s.lm.state;
    // SAEs of a language model's hook: runs on its harvests, and the imported SAEs (their cfg.json says which)
    const choices = s.saeChoices({ fromModel: true });
    return html`
      <h2>Steer the language model</h2>
      <p class="hint">Splices an SAE trained on a language model's hook back in at that hook. Pick a feature to see what it does in the model, then steer it:
        add α·W<sub>dec</sub> at every position, or clamp its activation to a value (the SAE's error term kept, so only the feature changes).</p>
      <label>SAE <select @change=${this._onChoose} data-testid="lm-sae">
        <option value="">choose…</option>
        ${choices.map((c) => html`<option value=${c.value} ?selected=${st && `${st.kind}:${st.id}` === c.value}>${c.label}</option>`)}
      </select></label>
      ${st ? this.renderLab() : nothing}
    `;
  }

  private renderLab() {
    const s = this.session!;
    const st = s.lm.state!;
    return html`
      <p class="status" data-testid="lm-status" data-busy=${!!st.busy}>
        ${st.hook ? html`${st.label} spliced into <b>${st.modelName}</b> at <code>${st.hook}</code>` : st.label}
        ${st.busy ? html` · ${st.busy} <button @click=${() => s.lm.cancel()} data-testid="lm-lab-cancel">Cancel</button>` : nothing}</p>
      ${st.warning ? html`<p class="warning" data-testid="lm-warning">${st.warning}</p>` : nothing}
      ${st.error ? html`<p class="error" data-testid="lm-error">${st.error}</p>` : nothing}
      ${st.hook
        ? html`
            <form @submit=${this._onFeature} class="row">
              <label>Feature <input name="feature" type="number" min="0" .value=${String(st.feature ?? 0)} style="width:6rem" data-testid="lm-feature" /></label>
              <button type="submit" ?disabled=${!!st.busy} data-testid="lm-feature-go">What it does</button>
            </form>
            ${this.renderFeature()}
            ${st.feature !== undefined ? this.renderSteer() : nothing}
            ${this.renderAttribution()}
            ${this.renderFidelity()}
            ${this.renderConcept()}`
        : nothing}
    `;
  }

  private renderFeature() {
    const v = this.session!.lm.state!.view;
    if (!v) return nothing;
    const list = (items: { token: string; effect: number }[]) => html`<ol>${items.map((t) => html`<li><code>${shown(t.token)}</code> <small>${t.effect >= 0 ? '+' : ''}${t.effect.toFixed(3)}</small></li>`)}</ol>`;
    const ot = v.onText;
    const label = this.session!.lm.state!.label;
    return html`<div class="card" data-testid="lm-feature-view" data-feature=${v.feature}>
      <h3>Feature #${v.feature} in the model</h3>
      <div class="cols">
        <div data-testid="lm-promoted"><b>Promotes</b> (logit per unit activation, vs the mean token)${list(v.logits.promoted)}</div>
        <div data-testid="lm-suppressed"><b>Suppresses</b>${list(v.logits.suppressed)}</div>
        <div>
          <sae-histogram-chart .bars=${v.logits.histogram} x-label="logit effect" y-label="tokens" color="#7a5195"></sae-histogram-chart>
          <sae-figure-export .figure=${() => barsFigure(`feature-${v.feature}-logit-effects`, `Logit effects of feature #${v.feature} of ${label}: W_dec through the final norm's gain and the unembedding, centred over the vocabulary; the distribution over every token.`, { ...v.logits.histogram, xLabel: 'logit effect per unit activation', yLabel: 'tokens', color: '#7a5195' })}></sae-figure-export>
        </div>
      </div>
      <p data-testid="lm-measured">Measured on ${ot.tokens.toLocaleString('en-US')} held-out tokens: fires on ${ot.fires.toLocaleString('en-US')}.
        ${ot.ablationDrop !== null
          ? html`Ablating it lowers log p(next token) by <b>${fmt(ot.ablationDrop, 4)}</b> nats where it fires (${fmt(ot.ablationDropElsewhere ?? NaN, 4)} elsewhere).`
          : 'It never fired there, so its effect could not be measured.'}</p>
      ${ot.examples.length
        ? html`<div class="examples" data-testid="lm-examples">${ot.examples.map((x) => html`<div class="text">${x.tokens.map((t, i) => html`<span class="tok ${i === x.at ? 'at' : ''}" style="background: ${activationShade(x.acts[i]! / x.act) ?? 'transparent'}">${shown(t)}</span>`)}
            <small>→ next <code>${shown(x.next)}</code> · ${x.act.toPrecision(3)}</small></div>`)}</div>
            <sae-figure-export .figure=${() => tokensFigure(`feature-${v.feature}-examples`, `Strongest activations of feature #${v.feature} of ${label} on held-out text (shade: activation; the strongest token outlined in the page).`, ot.examples.map((x, k) => ({ label: `example ${k + 1} (next: ${x.next})`, tokens: x.tokens, acts: x.acts })), ot.examples)}></sae-figure-export>`
        : nothing}
    </div>`;
  }

  private renderSteer() {
    const st = this.session!.lm.state!;
    const r = st.steer;
    const req = r?.request;
    const max = r ? Math.max(1e-9, ...r.baseline.acts, ...r.steered.flatMap((c) => c.acts)) : 1;
    const sweep = r && r.steered.length > 1;
    const what = (strength: number) => (req?.mode === 'clamp' ? `#${req.feature} clamped to ${strength}` : `+${strength}·W_dec #${req?.feature}`);
    return html`<div class="card">
      <h3>Steer feature #${st.feature}</h3>
      <form @submit=${this._onSteer} data-testid="lm-steer-form">
        <textarea name="prompt" rows="2" cols="70" .value=${this.prompt} data-testid="lm-prompt"></textarea><br />
        <label><input type="radio" name="mode" value="add" checked /> add α·W<sub>dec</sub></label>
        <label><input type="radio" name="mode" value="clamp" data-testid="lm-mode-clamp" /> clamp activation to</label>
        <label>strength <input name="strength" type="number" step="any" value="8" style="width:5rem" data-testid="lm-strength" /></label>
        <label>tokens <input name="tokens" type="number" min="1" max="200" value="24" style="width:4rem" /></label>
        <label>seed <input name="seed" placeholder="greedy" style="width:5rem" data-testid="lm-seed" /></label>
        <label>temperature <input name="temperature" type="number" step="any" value="1" style="width:4rem" /></label>
        <button type="submit" value="one" ?disabled=${!!st.busy} data-testid="lm-steer-go">Generate both</button>
        · sweep <input name="sweep" value="0 2 4 8 16 32" style="width:9rem" data-testid="lm-sweep" />
        <button type="submit" value="sweep" ?disabled=${!!st.busy} data-testid="lm-sweep-go">Sweep</button>
      </form>
      ${r
        ? html`<div class="compare ${sweep ? '' : 'two'}" data-testid="lm-steer-result" data-feature=${req!.feature}>
              <div data-testid="lm-baseline"><b>Without the edit</b>${tokenRow(r.baseline, max)}</div>
              ${r.steered.map((c, k) => html`<div data-testid="lm-steered" data-strength=${r.spec.strengths[k]!}><b>With ${what(r.spec.strengths[k]!)}</b>${tokenRow(c, max)}</div>`)}
            </div>
            <p class="hint">Shade: feature #${req!.feature}'s activation on each token (read from the clean model); prompt tokens outlined.
              ${req!.sample ? `Sampled with seed ${req!.sample.seed} at temperature ${req!.sample.temperature}.` : 'Greedy.'}</p>
            <sae-figure-export .figure=${() =>
              tokensFigure(`steer-feature-${req!.feature}`, `Steering feature #${req!.feature} of ${st.label} (${st.modelName}, ${st.hook}): the prompt continued without the edit and with ${r.spec.strengths.map(what).join(', ')}; ${req!.sample ? `sampled, seed ${req!.sample.seed}, temperature ${req!.sample.temperature}` : 'greedy'}. Shade: the feature's activation on each token.`,
                [{ label: 'without the edit', tokens: r.baseline.tokens, acts: r.baseline.acts, from: r.baseline.promptLength }, ...r.steered.map((c, k) => ({ label: `with ${what(r.spec.strengths[k]!)}`, tokens: c.tokens, acts: c.acts, from: c.promptLength }))],
                { request: req, baseline: r.baseline.text, steered: r.steered.map((c, k) => ({ strength: r.spec.strengths[k], text: c.text })) })}></sae-figure-export>
            ${sweep
              ? html`<sae-figure-export .figure=${() => lineFigure(`sweep-feature-${req!.feature}`, `How far the continuation moves as feature #${req!.feature} is steered harder: tokens of the continuation that differ from the unedited one, and the feature's mean activation on the new tokens.`, {
                  xLabel: req!.mode === 'clamp' ? 'clamped activation' : 'α', yLabel: 'tokens changed', y2Label: 'mean activation on new tokens',
                  series: [
                    { label: 'tokens changed', color: '#1d3557', x: r.spec.strengths, y: r.steered.map((c) => changed(r.baseline, c)) },
                    { label: 'mean activation', color: '#e63946', right: true, x: r.spec.strengths, y: r.steered.map((c) => mean(c.acts.slice(c.promptLength))) },
                  ],
                })}></sae-figure-export>`
              : nothing}`
        : nothing}
    </div>`;
  }

  private renderAttribution() {
    const st = this.session!.lm.state!;
    const a = st.attribution;
    return html`<details class="card" ?open=${!!a}>
      <summary><b>Attribute a next token to features</b></summary>
      <form @submit=${this._onAttribute} class="row">
        <input name="prompt" size="50" .value=${this.prompt} data-testid="lm-attr-prompt" />
        next token <input name="target" size="10" placeholder=" city" data-testid="lm-attr-target" />
        <button type="submit" ?disabled=${!!st.busy} data-testid="lm-attr-go">Attribute</button>
      </form>
      ${a
        ? html`<p>log p(<code>${shown(a.targetToken)}</code>) = ${a.logProb.toFixed(3)} after “${a.prompt}”. Each active feature removed alone at one position (exact ablation, error term kept).
              On the tokens, the sum of their features' contributions (red: they raise the target, blue: they lower it); the largest ones:</p>
            ${this._attributionTokens(a)}
            <table data-testid="lm-attribution"><tr><th>token</th><th>feature</th><th>activation</th><th>Δ log p</th></tr>
              ${a.contributions.slice(0, 15).map((c) => html`<tr><td><code>${shown(a.tokens[c.position]!)}</code> (${c.position})</td><td><button class="link" @click=${() => void this.session!.lm.pick(c.feature)}>#${c.feature}</button></td><td>${c.act.toPrecision(3)}</td><td>${c.contribution >= 0 ? '+' : ''}${c.contribution.toFixed(4)}</td></tr>`)}
            </table>`
        : nothing}
    </details>`;
  }

  /** the prompt's tokens shaded by the summed contribution of the features tried at each */
  private _attributionTokens(a: NonNullable<LmLabState['attribution']>) {
    const sums = a.tokens.map((_, t) => a.contributions.filter((c) => c.position === t).reduce((s, c) => s + c.contribution, 0));
    const max = Math.max(1e-9, ...sums.map(Math.abs));
    return html`<div class="text" data-testid="lm-attribution-tokens">${a.tokens.map((t, i) => {
      const v = sums[i]! / max;
      const colour = v >= 0 ? `rgba(230, 57, 70, ${(0.85 * v).toFixed(2)})` : `rgba(69, 123, 157, ${(-0.85 * v).toFixed(2)})`;
      return html`<span class="tok" title="Σ contributions ${sums[i]!.toFixed(4)}" style="background: ${colour}">${shown(t)}</span>`;
    })}</div>`;
  }

  private renderFidelity() {
    const st = this.session!.lm.state!;
    const f = st.fidelity;
    return html`<details class="card" ?open=${!!f}>
      <summary><b>CE loss and KL with the SAE spliced in</b></summary>
      <form class="row" @submit=${(e: SubmitEvent) => { e.preventDefault(); void this.session!.lm.measureFidelity(Number(new FormData(e.target as HTMLFormElement).get('tokens')) || 2048); }}>
        Measure on <input name="tokens" type="number" min="16" step="any" value="2048" style="width:6rem" data-testid="lm-fidelity-tokens" /> held-out tokens
        <button type="submit" ?disabled=${!!st.busy} data-testid="lm-fidelity-go">Measure</button>
      </form>
      ${st.fidelityProgress !== undefined ? html`<progress max="1" .value=${st.fidelityProgress}></progress>` : nothing}
      ${f
        ? html`<table data-testid="lm-fidelity" data-score=${f.ce_loss_score}>
            <tr><th></th><th>CE loss</th><th>KL from clean</th></tr>
            <tr><td>clean</td><td>${fmt(f.ce_loss_without_sae, 4)}</td><td>0</td></tr>
            <tr><td>SAE spliced in (x̂)</td><td>${fmt(f.ce_loss_with_sae, 4)}</td><td>${fmt(f.kl_div_with_sae, 4)}</td></tr>
            <tr><td>zero-ablated</td><td>${fmt(f.ce_loss_with_ablation, 4)}</td><td>${fmt(f.kl_div_with_ablation, 4)}</td></tr>
            <tr><td>mean-ablated</td><td>${fmt(f.ce_loss_with_mean_ablation, 4)}</td><td>${fmt(f.kl_div_with_mean_ablation, 4)}</td></tr>
          </table>
          <p>CE loss score <b>${fmt(f.ce_loss_score)}</b> (vs mean ablation ${fmt(f.ce_loss_score_mean_ablation)}), KL score <b>${fmt(f.kl_div_score)}</b> (${fmt(f.kl_div_score_mean_ablation)}) over ${f.tokens.toLocaleString('en-US')} tokens.
            1 is as good as the model, 0 as bad as the ablation.</p>`
        : nothing}
    </details>`;
  }

  private renderConcept() {
    const st = this.session!.lm.state!;
    const c = st.concept;
    return html`<details class="card" ?open=${!!c}>
      <summary><b>Find the features of a concept</b></summary>
      <form @submit=${this._onConcept} class="cols">
        <label>Texts with it, one per line<br /><textarea name="for" rows="4" cols="40" data-testid="lm-concept-for">def parse(text):\n    return json.loads(text)</textarea></label>
        <label>Texts without it<br /><textarea name="against" rows="4" cols="40" data-testid="lm-concept-against">The jury said the city was on fire.</textarea></label>
        <div><button type="submit" ?disabled=${!!st.busy} data-testid="lm-concept-go">Find features</button></div>
      </form>
      ${c
        ? html`<p>A linear probe on the raw activations (each text scored by a probe fit on the others): F1 ${c.probe.f1.toFixed(2)}. Features that fire on more of the
              ${c.tokens.for} tokens with the concept than of the ${c.tokens.against} without:</p>
            <table data-testid="lm-concept"><tr><th>feature</th><th>fires on (with)</th><th>(without)</th><th>as classifier F1</th></tr>
              ${c.features.map((f) => html`<tr><td><button class="link" @click=${() => void this.session!.lm.pick(f.feature)}>#${f.feature}</button></td><td>${(100 * f.fireFor).toFixed(0)}%</td><td>${(100 * f.fireAgainst).toFixed(0)}%</td><td>${f.asClassifier.f1.toFixed(2)}</td></tr>`)}
            </table>`
        : nothing}
    </details>`;
  }

  static override styles = css`
    :host { display: block; margin-top: 1.5rem; }
    .hint { color: #6b7280; font-size: 0.9rem; }
    .error { color: #bf3b3b; }
    .warning { color: #9a6700; }
    .card { border: 1px solid #d8dee9; border-radius: 6px; padding: 0.5rem 0.8rem; margin: 0.6rem 0; background: #fbfcfd; }
    .cols { display: flex; gap: 1.5rem; flex-wrap: wrap; }
    .cols > div { flex: 1 1 14rem; }
    ol { margin: 0.3rem 0; padding-left: 1.5rem; font-size: 0.85rem; }
    .text { font-family: ui-monospace, monospace; font-size: 0.85rem; line-height: 1.7; margin: 0.3rem 0; white-space: pre-wrap; }
    .tok { border-radius: 2px; }
    .tok.prompt { outline: 1px solid #cbd2d9; }
    .tok.at { outline: 2px solid #1d3557; }
    .compare > div { margin: 0.4rem 0; }
    .compare.two { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2rem; }
    table { border-collapse: collapse; font-size: 0.85rem; }
    td, th { padding: 0.1rem 0.6rem; text-align: left; }
    button.link { background: none; border: none; color: #1d4ed8; cursor: pointer; padding: 0; }
    .row { margin: 0.4rem 0; }
  `;
}

/** tokens of the continuation that differ from the unedited one, position by position */
function changed(a: Continuation, b: Continuation): number {
  let n = 0;
  for (let i = a.promptLength; i < Math.max(a.ids.length, b.ids.length); i++) if (a.ids[i] !== b.ids[i]) n++;
  return n;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);

customElements.define('sae-lm-panel', SaeLmPanel);

declare global {
  interface HTMLElementTagNameMap {
    'sae-lm-panel': SaeLmPanel;
  }
}
