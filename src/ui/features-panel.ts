// <sae-features-panel>: the feature explorer's table and cards. Pick an SAE and a dataset, compute the
// statistics (a GPU job in the worker: progress, cancel), then sort the features by density, max activation
// or label purity, search them by token, and open a card: the top and quantile-sampled examples in their
// context, each token shaded by the feature's activation; its histogram, neighbours and labels.
import { css, html } from 'lit';
import { SessionView } from './session-view.ts';
import { download } from './download.ts';
import { barsFigure, scatterFigure, tokensFigure } from './figures.ts';
import './figure-export.ts';
import type { Example, FeatureRow } from '../analysis/feature-card.ts';
import './histogram-chart.ts';
import './map-view.ts';

const shown = (piece: string) => piece.replace(/▁/g, ' ');
const SHOWN_ROWS = 60;

const scores = (c: { precision: number; recall: number; f1: number }) =>
  html`precision <b>${c.precision.toFixed(3)}</b>, recall <b>${c.recall.toFixed(3)}</b>, F1 ${c.f1.toFixed(3)}`;

/** a token's background: the feature's activation over its max, as an orange of that strength */
const shade = (act: number, max: number) => `background: rgba(244, 162, 97, ${max > 0 ? Math.min(1, Math.max(0, act / max)).toFixed(3) : 0})`;

export class SaeFeaturesPanel extends SessionView {
  private _onChoose(e: Event): void {
    const select = e.target as HTMLSelectElement;
    const [kind, id] = select.value.split(':') as ['run' | 'imported', string];
    if (id) void this.session?.features.open(kind, id, select.selectedOptions[0]!.text);
  }

  private async _onExport(): Promise<void> {
    const out = await this.session?.features.export();
    if (out) download(new Blob([out.zip as Uint8Array<ArrayBuffer>], { type: 'application/zip' }), `${out.name}.zip`);
  }

  private _rows(): FeatureRow[] {
    const view = this.session!.features.view!;
    let rows = view.table!.features.filter((f) => f.density > 0);
    // ' Paris' (a leading space: a word start) matches the piece '▁Paris' exactly; 'par' matches any piece containing it
    const q = view.query.toLowerCase();
    const norm = (t: string) => t.replace(/▁/g, ' ').toLowerCase();
    if (q.trim()) rows = rows.filter((f) => f.topTokens.some((t) => (q.startsWith(' ') ? norm(t) === q : norm(t).includes(q))));
    const key = view.sort;
    return rows.sort((a, b) => (key === 'purity' ? (b.purity ?? 0) - (a.purity ?? 0) : b[key] - a[key]) || a.feature - b.feature);
  }

  private _example(ex: Example, max: number) {
    return html`<div class="example">
      <span class="act">${ex.act.toPrecision(3)}</span>
      ${ex.tokens.map((t, k) => html`<span class="tok ${k === ex.at ? 'hit' : ''}" style=${shade(ex.acts[k]!, max)} title=${ex.acts[k]!.toPrecision(3)}>${shown(t)}</span>`)}
    </div>`;
  }

  override render() {
    const s = this.session;
    if (!s) return html``;
    const view = s.features.view;
    const choices = s.saeChoices();
    const card = view?.card;
    return html`
      <h2>Features</h2>
      <label>SAE <select @change=${this._onChoose} data-testid="features-sae">
        <option value="">choose…</option>
        ${choices.map((c) => html`<option value=${c.value}>${c.label}</option>`)}
      </select></label>
      ${view
        ? html`<form @submit=${(e: SubmitEvent) => { e.preventDefault(); void s.features.compute(String(new FormData(e.target as HTMLFormElement).get('dataset'))); }}>
              on the held-out rows of
              <select name="dataset">${s.datasets.list.map((d) => html`<option value=${d.id}>${d.name}</option>`)}</select>
              <button type="submit" ?disabled=${!!view.job} data-testid="features-compute">Compute feature statistics</button>
              ${view.table ? html`<button type="button" ?disabled=${!!view.job} @click=${this._onExport} data-testid="features-export">Export feature data (JSON)</button>` : ''}
              ${view.job
                ? html`<progress max="1" .value=${view.job.fraction} data-testid="features-progress"></progress> ${view.job.stage}
                    <button type="button" @click=${() => s.features.cancel()} data-testid="features-cancel">Cancel</button>`
                : ''}
            </form>
            ${view.error ? html`<p class="error" data-testid="features-error">${view.error}</p>` : ''}
            ${view.table
              ? html`<div class="top">
                  <div>${this._table(view.table.labelColumn)}</div>
                  <div>
                    <sae-map-view interactive .map=${view.map} .labels=${view.table.features.map((f) => f.topTokens.map(shown).join(' ·'))}
                      @feature-pick=${(e: CustomEvent<number>) => void s.features.openCard(e.detail)}
                      @feature-lasso=${(e: CustomEvent<number[]>) => s.features.setLasso(e.detail)}></sae-map-view>
                    ${view.map ? html`<sae-figure-export label="map" .figure=${() => scatterFigure(`map-${view.label.replace(/[^\w.=-]+/g, '_').slice(0, 60)}`, `The dictionary of ${view.label}: UMAP of the decoder directions (cosine neighbours), each feature coloured by its log10 density on the held-out rows of ${view.table!.datasetName}.`, { xy: view.map!.xy, value: view.map!.density, valueLabel: 'log10 density' })}></sae-figure-export>` : ''}
                    ${view.lasso
                      ? html`<p class="lasso" data-testid="lasso" data-count=${view.lasso.length}>${view.lasso.length} features in the lasso:
                          ${view.lasso.slice(0, 40).map((f) => html`<button class="link" @click=${() => void s.features.openCard(f)}>#${f}</button>`)}${view.lasso.length > 40 ? ' …' : ''}</p>`
                      : ''}
                  </div>
                </div>`
              : ''}
            ${view.table ? this._split(choices) : ''}
            ${card
              ? html`<div class="card" data-testid="feature-card" data-feature=${card.feature}>
                  <h3>Feature #${card.feature}</h3>
                  <p>density ${card.density.toExponential(2)} · max ${card.max.toPrecision(3)} · mean when firing ${card.meanFiring.toPrecision(3)} ·
                    encoder–decoder cosine ${card.encDecCos.toFixed(3)}</p>
                  ${card.labels.length
                    ? html`<p class="labels">${card.labels.slice(0, 5).map((l) => html`<span class="label">${l.name} ${(100 * l.share).toFixed(1)}% <small>(lift ${l.lift.toFixed(1)})</small></span>`)}</p>`
                    : ''}
                  ${card.probe
                    ? html`<p class="probe" data-testid="feature-probe">as a ${card.probe.label} detector on the held-out rows — this feature (fires → ${card.probe.label}):
                        ${scores(card.probe.feature)}; a linear probe on the raw activations: ${scores(card.probe.probe)}</p>`
                    : ''}
                  ${this._inModel(card.feature)}
                  <p class="neighbours">nearest by decoder cosine:
                    ${card.neighbours.map((n) => html`<button class="link" @click=${() => void s.features.openCard(n.feature)}>#${n.feature} <small>${n.cos.toFixed(2)}</small></button>`)}</p>
                  <div class="cols">
                    <div><h4>Top activations</h4>${card.top.map((ex) => this._example(ex, card.max))}
                      <sae-figure-export .figure=${() => tokensFigure(`feature-${card.feature}-top`, `The strongest activations of feature #${card.feature} of ${view.label} on the held-out rows of ${view.table?.datasetName ?? 'its dataset'}, each in its context (shade: activation).`,
                        card.top.map((ex) => ({ label: `${ex.act.toPrecision(3)} (row ${ex.row})`, tokens: ex.tokens, acts: ex.acts })), card.top)}></sae-figure-export></div>
                    <div>
                      <sae-histogram-chart .bars=${card.histogram} x-label="activation" y-label="rows" color="#f4a261" caption="activations when firing (held-out rows)"></sae-histogram-chart>
                      <sae-figure-export .figure=${() => barsFigure(`feature-${card.feature}-activations`, `Activations of feature #${card.feature} of ${view.label} when it fires, on the held-out rows of ${view.table?.datasetName ?? 'its dataset'} (density ${card.density.toExponential(2)}).`, { ...card.histogram, xLabel: 'activation', yLabel: 'rows', color: '#f4a261' })}></sae-figure-export>
                      <h4>Across the range (sampled per interval)</h4>
                      ${card.samples.map((ex) => this._example(ex, card.max))}
                    </div>
                  </div>
                </div>`
              : ''}`
        : ''}
    `;
  }

  /** for an SAE of a language model's hook: what the feature does in the model (read in the language-model panel) */
  private _inModel(feature: number) {
    const s = this.session!;
    const view = s.features.view!;
    const lm = s.lm.state;
    const here = lm && lm.kind === view.kind && lm.id === view.id && lm.view?.feature === feature ? lm.view : undefined;
    return html`<p class="in-model">
      <button class="link" @click=${() => void s.lm.openFeature(view.kind, view.id, view.label, feature).then(() => (this.getRootNode() as ShadowRoot).querySelector('sae-lm-panel')?.scrollIntoView())}
        data-testid="feature-in-model">In the language model: logit effects, measured effect, steering →</button>
      ${here
        ? html`<br /><small data-testid="card-logits">promotes ${here.logits.promoted.slice(0, 6).map((t) => html`<code>${shown(t.token)}</code> `)}
            · suppresses ${here.logits.suppressed.slice(0, 6).map((t) => html`<code>${shown(t.token)}</code> `)}</small>`
        : ''}</p>`;
  }

  /** feature splitting against another SAE of the same activations */
  private _split(choices: { value: string; label: string }[]) {
    const s = this.session!;
    const split = s.features.view!.split;
    const self = `${s.features.view!.kind}:${s.features.view!.id}`;
    return html`<p>Feature splitting against
        <select @change=${(e: Event) => { const [k, i] = (e.target as HTMLSelectElement).value.split(':') as ['run' | 'imported', string]; if (i) void s.features.splitWith(k, i); }} data-testid="split-with">
          <option value="">another SAE of the same activations…</option>
          ${choices.filter((c) => c.value !== self).map((c) => html`<option value=${c.value}>${c.label}</option>`)}
        </select></p>
      ${split
        ? html`<div class="split" data-testid="split" data-splits=${split.counts.splits}>
            <p>${split.counts.splits} of the ${split.counts.small} features of the smaller SAE split into ≥ 2 of the larger's ${split.counts.large}
              at decoder cosine ≥ ${split.threshold}; ${split.counts.single} map to one, ${split.counts.childless} to none.</p>
            <ul>${split.families.slice(0, 12).map(
              (f) => html`<li><b>${f.parent}</b> <small>${shown(f.label ?? '')}</small> →
                ${f.children.map((c) => html`<span class="child">${c.feature} <small>(${c.cosine.toFixed(2)}${c.label ? `: ${shown(c.label)}` : ''})</small></span>`)}</li>`,
            )}</ul>
          </div>`
        : ''}`;
  }

  private _table(labelColumn: string | null) {
    const s = this.session!;
    const view = s.features.view!;
    const rows = this._rows();
    const sortButton = (key: 'density' | 'max' | 'purity', text: string) =>
      html`<button class="sort ${view.sort === key ? 'on' : ''}" @click=${() => s.features.setQuery(view.query, key)}>${text}</button>`;
    return html`<p>
        ${view.table!.features.filter((f) => f.density > 0).length} live features over ${view.table!.rows.toLocaleString('en-US')} held-out rows of ${view.table!.datasetName}.
        Sort by ${sortButton('density', 'density')} ${sortButton('max', 'max activation')} ${labelColumn ? sortButton('purity', 'label purity') : ''}
        · search token <input .value=${view.query} @input=${(e: Event) => s.features.setQuery((e.target as HTMLInputElement).value)} placeholder=" Paris" data-testid="features-search" />
      </p>
      <table data-testid="features-table" data-rows=${rows.length}>
        <thead><tr><th>feature</th><th>density</th><th>max</th>${labelColumn ? html`<th>label</th><th>purity</th><th>lift</th>` : ''}<th>top tokens</th></tr></thead>
        <tbody>
          ${rows.slice(0, SHOWN_ROWS).map(
            (f) => html`<tr data-feature=${f.feature} @click=${() => void s.features.openCard(f.feature)}>
              <td>#${f.feature}</td><td>${f.density.toExponential(2)}</td><td>${f.max.toPrecision(3)}</td>
              ${labelColumn ? html`<td>${f.label ?? ''}</td><td>${f.purity?.toFixed(3) ?? ''}</td><td>${f.lift?.toFixed(1) ?? ''}</td>` : ''}
              <td>${f.topTokens.map((t) => html`<code>${shown(t)}</code> `)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${rows.length > SHOWN_ROWS ? html`<p class="more">… and ${rows.length - SHOWN_ROWS} more (search or sort to find them)</p>` : ''}`;
  }

  static override styles = css`
    :host { display: block; margin-top: 1.5rem; }
    .error { color: #bf3b3b; }
    table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.9rem; }
    th, td { text-align: left; padding: 0.2rem 0.5rem; border-bottom: 1px solid #d8dee9; }
    tbody tr { cursor: pointer; }
    tbody tr:hover { background: #eef2f7; }
    code { background: #eef2f7; padding: 0 0.2rem; border-radius: 3px; white-space: pre; }
    .sort.on { font-weight: 700; }
    .card { border: 1px solid #d8dee9; border-radius: 6px; padding: 0.6rem 1rem; margin-top: 1rem; background: #fff; }
    .top { display: flex; gap: 1.5rem; flex-wrap: wrap; align-items: flex-start; }
    .top > div:first-child { flex: 1 1 30rem; max-height: 32rem; overflow-y: auto; }
    .lasso { max-width: 360px; font-size: 0.85rem; }
    .split { font-size: 0.85rem; }
    .child { margin-right: 0.6rem; }
    .cols { display: flex; gap: 1.5rem; flex-wrap: wrap; }
    .cols > div { flex: 1 1 24rem; }
    .example { font-family: ui-monospace, monospace; font-size: 0.8rem; margin: 0.15rem 0; white-space: nowrap; overflow: hidden; }
    .tok { white-space: pre; }
    .tok.hit { outline: 1px solid #e76f51; }
    .act { display: inline-block; width: 3.5rem; color: #6b7280; }
    .label { margin-right: 0.8rem; }
    .link { border: none; background: none; color: #1d4ed8; cursor: pointer; padding: 0 0.2rem; }
  `;
}

customElements.define('sae-features-panel', SaeFeaturesPanel);

declare global {
  interface HTMLElementTagNameMap {
    'sae-features-panel': SaeFeaturesPanel;
  }
}
