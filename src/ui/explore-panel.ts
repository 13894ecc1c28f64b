// <sae-explore-panel>: an SAE spliced into the real model. Type a sentence: every token shows the features
// active on it; pick one and ablate or steer it, and see what the model's output does (the sentence
// embedding's cosine to the clean one) and how far each token's next-layer activation moves.
import { css, html } from 'lit';
import { SessionView } from './session-view.ts';

const shown = (piece: string) => piece.replace(/▁/g, '␣');

export class SaeExplorePanel extends SessionView {
  private _onChoose(e: Event): void {
    const select = e.target as HTMLSelectElement;
    const [kind, id] = select.value.split(':') as ['run' | 'imported', string];
    if (id) void this.session?.explorer.open(kind, id, select.selectedOptions[0]!.text);
  }

  private _onRead(e: SubmitEvent): void {
    e.preventDefault();
    const text = String(new FormData(e.target as HTMLFormElement).get('text') ?? '');
    void this.session?.explorer.read(text);
  }

  override render() {
    const s = this.session;
    if (!s) return html``;
    const ex = s.explorer.state;
    const choices = s.saeChoices();
    const effect = ex?.effect;
    return html`
      <h2>Explore features in the sentence encoder</h2>
      <p class="hint">Splices an SAE trained on the sentence encoder's (USE-lite's) activations back into it: the layers after it are the model's own.</p>
      <label>SAE <select @change=${this._onChoose} data-testid="explore-sae">
        <option value="">choose…</option>
        ${choices.map((c) => html`<option value=${c.value}>${c.label}</option>`)}
      </select></label>
      ${ex
        ? html`<p class="status" data-testid="explore-status" data-busy=${ex.busy}>${ex.label} at ${ex.layer}${ex.busy ? ' · working…' : ''}</p>
            <p>
              <button ?disabled=${ex.busy} @click=${() => void s.explorer.measureFidelity()} data-testid="fidelity">Downstream fidelity</button>
              ${ex.fidelity
                ? html`<span data-testid="fidelity-result" data-recovered=${ex.fidelity.recovered}>
                    <b>${(100 * ex.fidelity.recovered).toFixed(1)}%</b> recovered with x̂ spliced in, over the last ${ex.fidelity.sentences} Brown
                    sentences (${ex.fidelity.tokens.toLocaleString('en-US')} tokens): 1 − cos to the clean output ${ex.fidelity.dSae.toFixed(3)},
                    mean-ablated ${ex.fidelity.dAblated.toFixed(3)}</span>`
                : html`<small>splices x̂ alone in place of the layer's activation and compares the output with the clean and the mean-ablated one</small>`}
            </p>
            <form @submit=${this._onRead}>
              <input name="text" size="70" placeholder="Type a sentence" data-testid="explore-text" />
              <button type="submit" ?disabled=${ex.busy} data-testid="explore-read">Read</button>
            </form>
            ${ex.error ? html`<p class="error" data-testid="explore-error">${ex.error}</p>` : ''}
            ${ex.reading
              ? html`<div class="tokens" data-testid="explore-tokens">
                  ${ex.reading.pieces.map(
                    (p, t) => html`<div class="token" data-token=${t}>
                      <div class="piece">${shown(p)}</div>
                      ${ex.reading!.features[t]!.map((f, j) => {
                        const c = ex.attribution?.contributions[t]?.[j];
                        return html`<button class="chip ${ex.feature === f.feature ? 'picked' : ''}" data-feature=${f.feature}
                          style=${c === undefined ? '' : `box-shadow: inset 0 -3px 0 ${c >= 0 ? 'rgba(42,157,143,' : 'rgba(231,111,81,'}${Math.min(1, Math.abs(c) * 50).toFixed(2)})`}
                          title=${c === undefined ? '' : `contribution ${ex.attribution!.direction}: ${c.toExponential(2)}`}
                          @click=${() => s.explorer.pick(f.feature)}>#${f.feature} <small>${f.act.toPrecision(2)}</small>${c === undefined ? '' : html` <small class="contrib">${c >= 0 ? '+' : ''}${c.toExponential(1)}</small>`}</button>`;
                      })}
                      ${effect && effect.result.nextLayerChange.length
                        ? html`<div class="change" title="‖Δ‖/‖x‖ of this token at ${effect.result.nextLayer}"
                            style="--w:${Math.min(100, 100 * effect.result.nextLayerChange[t]!)}%">${(100 * effect.result.nextLayerChange[t]!).toFixed(1)}%</div>`
                        : ''}
                    </div>`,
                  )}
                </div>`
              : ''}
            ${ex.reading
              ? html`<form @submit=${(e: SubmitEvent) => { e.preventDefault(); void s.explorer.attribute(String(new FormData(e.target as HTMLFormElement).get('target') ?? '')); }}>
                  <button type="submit" ?disabled=${ex.busy} data-testid="attribute">Attribute</button> each token's features to the output
                  <input name="target" size="40" placeholder="along the clean output, or toward this sentence" />
                  ${ex.attribution ? html`<span data-testid="attribution">(${ex.attribution.direction}; the number under each feature: the output's drop when it is ablated at that token)</span>` : ''}
                </form>`
              : ''}
            ${ex.feature !== undefined
              ? html`<p>
                  <button ?disabled=${ex.busy} @click=${() => void s.explorer.intervene('ablate')} data-testid="ablate">Ablate #${ex.feature}</button>
                  <button ?disabled=${ex.busy} @click=${() => void s.explorer.intervene('steer', 4)} data-testid="steer">Steer #${ex.feature} ×4</button>
                </p>`
              : ''}
            ${effect
              ? html`<p class="effect" data-testid="explore-effect" data-cosine=${effect.result.cosine}>
                  ${effect.what}: sentence embedding cosine to the clean output <b>${effect.result.cosine.toFixed(5)}</b>${effect.result.nextLayer
                    ? html`; bars under the tokens: how far each token's ${effect.result.nextLayer} activation moved`
                    : ''}
                </p>
                ${effect.result.nearest
                  ? html`<div class="nearest" data-testid="explore-nearest">
                      <div><b>nearest harvested sentences, clean</b>${effect.result.nearest.clean.map((n) => html`<div><small>${n.cos.toFixed(3)}</small> ${n.text}</div>`)}</div>
                      <div><b>… after the edit</b>${effect.result.nearest.edited.map((n) => html`<div><small>${n.cos.toFixed(3)}</small> ${n.text}</div>`)}</div>
                    </div>`
                  : ''}`
              : ''}`
        : ''}
    `;
  }

  static override styles = css`
    :host { display: block; margin-top: 1.5rem; }
    .hint { color: #6b7280; font-size: 0.9rem; }
    .error { color: #bf3b3b; }
    .tokens { display: flex; flex-wrap: wrap; gap: 0.4rem; margin: 0.6rem 0; }
    .token { border: 1px solid #d8dee9; border-radius: 4px; padding: 0.2rem; background: #fff; min-width: 3.5rem; }
    .piece { font-family: ui-monospace, monospace; font-weight: 600; }
    .chip { display: block; font-size: 0.75rem; margin: 0.1rem 0; padding: 0 0.25rem; border: 1px solid #c3cfe0; background: #eef2f7; border-radius: 3px; cursor: pointer; }
    .chip.picked { background: #ffd166; border-color: #e0a800; }
    .contrib { color: #374151; }
    .nearest { display: flex; gap: 2rem; font-size: 0.85rem; }
    .nearest > div { flex: 1 1 20rem; }
    .change { font-size: 0.7rem; color: #7a5195; background: linear-gradient(90deg, #d7c6e6 var(--w), transparent var(--w)); margin-top: 0.2rem; }
  `;
}

customElements.define('sae-explore-panel', SaeExplorePanel);

declare global {
  interface HTMLElementTagNameMap {
    'sae-explore-panel': SaeExplorePanel;
  }
}
