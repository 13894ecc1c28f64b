// <sae-sae-panel>: bring in SAEs trained elsewhere (SAELens folders, zipped or as files) and measure them
// on a stored dataset (RECIPE §3 metrics, computed by the GPU worker).
import { css, html } from 'lit';
import { SessionView } from './session-view.ts';

export class SaeSaePanel extends SessionView {
  private _onFiles(e: Event): void {
    const input = e.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = '';
    if (files.length) void this.session?.saes.import(files);
  }

  private _onEvaluate(e: Event, saeId: string): void {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    void this.session?.saes.evaluate(saeId, String(form.get('dataset')), form.get('rows') === 'all' ? 'all' : 'held-out');
  }

  override render() {
    const s = this.session;
    if (!s) return html``;
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    return html`
      <h2>SAEs from SAELens</h2>
      <label>Import an SAE (a .zip of its folder, or cfg.json + sae_weights.safetensors)
        <input type="file" multiple accept=".zip,.json,.safetensors" @change=${this._onFiles} data-testid="import-sae" />
      </label>
      <table data-testid="saes">
        <thead><tr><th>name</th><th>architecture</th><th>d_in × features</th><th>evaluate on</th><th>result</th></tr></thead>
        <tbody>
          ${s.saes.list.map((sae) => {
            const ev = s.saes.evaluations[sae.id];
            const datasets = s.datasets.list.filter((d) => d.d === sae.d);
            return html`<tr data-id=${sae.id}>
              <td>${sae.name}</td>
              <td>${sae.arch}</td>
              <td>${sae.d} × ${sae.features}</td>
              <td>
                ${datasets.length
                  ? html`<form @submit=${(e: Event) => this._onEvaluate(e, sae.id)}>
                      <select name="dataset">${datasets.map((d) => html`<option value=${d.id}>${d.name}</option>`)}</select>
                      <select name="rows"><option value="held-out">held-out rows</option><option value="all">all rows</option></select>
                      <button type="submit" data-testid="evaluate">Evaluate</button>
                    </form>`
                  : html`<span class="muted">no stored dataset has width ${sae.d}</span>`}
              </td>
              <td data-testid="evaluation">
                ${ev?.metrics
                  ? html`FVU ${ev.metrics.fvu === null ? 'undefined (the rows do not vary)' : ev.metrics.fvu.toFixed(4)} · MSE/token ${ev.metrics.mse_per_token.toPrecision(4)} · L0
                      ${ev.metrics.l0.toFixed(2)} · dead ${pct(ev.metrics.dead_frac_eval)} · ${ev.metrics.eval_tokens} tokens`
                  : ev?.error
                    ? html`<span class="error">${ev.error}</span>`
                    : ev
                      ? 'evaluating…'
                      : ''}
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
      ${s.saes.list.length === 0 ? html`<p class="muted">No SAEs imported yet.</p>` : ''}
    `;
  }

  static override styles = css`
    :host { display: block; margin-top: 1.5rem; }
    table { border-collapse: collapse; margin-top: 0.5rem; font-variant-numeric: tabular-nums; }
    th, td { text-align: left; padding: 0.25rem 0.6rem; border-bottom: 1px solid #d8dee9; vertical-align: middle; }
    .muted { color: #6b7280; }
    .error { color: #bf3b3b; }
  `;
}

customElements.define('sae-sae-panel', SaeSaePanel);

declare global {
  interface HTMLElementTagNameMap {
    'sae-sae-panel': SaeSaePanel;
  }
}
