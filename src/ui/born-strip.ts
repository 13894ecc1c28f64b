// <sae-born-strip>: features as they are born (first fire), newest first, each with the tokens it fires on
// most strongly in a fixed sample of the dataset (when the dataset has token context).
import { LitElement, css, html } from 'lit';
import type { BornFeature } from '../worker/api.ts';

/** a SentencePiece piece as read: its word-start mark as a space, made visible */
const shown = (piece: string) => piece.replace(/▁/g, '␣');

export class SaeBornStrip extends LitElement {
  static override properties = { born: { attribute: false }, total: { type: Number } };
  declare born: BornFeature[];
  declare total: number;

  constructor() {
    super();
    this.born = [];
    this.total = 0;
  }

  override render() {
    return html`<div class="caption" data-testid="born" data-total=${this.total}>
        ${this.total ? `features born so far: ${this.total.toLocaleString('en-US')} (newest first, with their strongest tokens)` : 'born features: none since training (re)started; shown at each checkpoint'}
      </div>
      <ol>
        ${this.born.map(
          (b) => html`<li data-feature=${b.feature}>
            <b>#${b.feature}</b> <span class="step">step ${b.step}</span>
            <span class="tokens">${b.tokens.length ? b.tokens.map((t) => html`<code>${shown(t)}</code>`) : html`<i>${b.fires.toLocaleString('en-US')} fires</i>`}</span>
          </li>`,
        )}
      </ol>`;
  }

  static override styles = css`
    :host { display: block; }
    .caption { font-size: 0.9rem; color: #4c566a; }
    ol { list-style: none; display: flex; gap: 0.5rem; overflow-x: auto; padding: 0.3rem 0; margin: 0; }
    li { flex: 0 0 auto; border: 1px solid #d8dee9; border-radius: 4px; padding: 0.25rem 0.5rem; background: #fff; font-size: 0.85rem; }
    .step { color: #6b7280; }
    code { background: #eef2f7; padding: 0 0.2rem; margin-left: 0.2rem; border-radius: 3px; }
  `;
}

customElements.define('sae-born-strip', SaeBornStrip);

declare global {
  interface HTMLElementTagNameMap {
    'sae-born-strip': SaeBornStrip;
  }
}
