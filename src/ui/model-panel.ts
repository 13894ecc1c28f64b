// <sae-model-panel>: the language models of the lab — the built-in one and Hugging Face folders the user
// adds (kept in this browser) — and the harvest of any hook of one of them, over the built-in corpus (Brown
// and source code) or the user's own text, into a dataset. All work happens in the data worker.
import { css, html } from 'lit';
import { SessionView } from './session-view.ts';
import type { ModelSummary } from '../worker/api.ts';

export class SaeModelPanel extends SessionView {
  static override properties = { ...SessionView.properties, chosen: { state: true }, source: { state: true } };
  /** the model the harvest form is for */
  declare chosen: string;
  declare source: 'corpus' | 'text';

  constructor() {
    super();
    this.chosen = '';
    this.source = 'corpus';
  }

  private _onFiles(e: Event): void {
    const input = e.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = '';
    if (files.length) void this.session?.datasets.addModel(files).then((m) => m && (this.chosen = m.id));
  }

  private _model(): ModelSummary | undefined {
    const models = this.session?.datasets.models ?? [];
    return models.find((m) => m.id === this.chosen) ?? models[0];
  }

  private _onHarvest(e: SubmitEvent): void {
    e.preventDefault();
    const model = this._model();
    if (!model) return;
    const form = new FormData(e.target as HTMLFormElement);
    const text = this.source === 'text' ? String(form.get('text') ?? '') : undefined;
    void this.session?.datasets.createModelDataset({
      model: model.id,
      hook: String(form.get('hook')),
      tokens: Number(form.get('tokens')),
      context: Number(form.get('context')),
      text,
      textName: text !== undefined ? String(form.get('name') ?? '').trim() || 'my text' : undefined,
    });
  }

  private async _onTextFile(files: FileList | null | undefined): Promise<void> {
    const file = files?.[0];
    if (!file) return;
    this.source = 'text';
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLTextAreaElement>('textarea[name=text]')!.value = await file.text();
    const name = this.renderRoot.querySelector<HTMLInputElement>('input[name=name]')!;
    if (!name.value) name.value = file.name.replace(/\.txt$/i, '');
  }

  override render() {
    const s = this.session;
    if (!s) return html``;
    const busy = !!s.datasets.importing || s.datasets.addingModel;
    const model = this._model();
    // the middle of the model's residual stream is where SAEs are usually trained
    const hooks = model?.hooks ?? [];
    const layers = hooks.length / 5;
    const preferred = `blocks.${Math.floor(layers / 2)}.hook_resid_pre`;
    return html`
      <h2>Language models</h2>
      <table data-testid="models">
        <thead><tr><th>model</th><th>family</th><th>shape</th><th>size</th><th></th></tr></thead>
        <tbody>
          ${s.datasets.models.map(
            (m) => html`<tr data-id=${m.id}>
              <td class="name">${m.name}</td>
              <td>${m.family}</td>
              <td>${m.shape}</td>
              <td>${(m.bytes / 2 ** 20).toFixed(1)} MiB</td>
              <td>${m.builtin ? html`<span class="note">ships with the lab</span>` : html`<button @click=${() => confirm(`Delete the model ${m.name}?`) && void s.datasets.removeModel(m.id)}>Delete</button>`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <p class="add">
        <label title="A folder with config.json (GPT2LMHeadModel or LlamaForCausalLM), model.safetensors (or its shards and index) and tokenizer.json">
          Add a Hugging Face model folder
          <input type="file" webkitdirectory ?disabled=${busy} @change=${this._onFiles} data-testid="model-folder" />
        </label>
        <label>or its files <input type="file" multiple accept=".json,.safetensors" ?disabled=${busy} @change=${this._onFiles} data-testid="model-files" /></label>
        ${s.datasets.addingModel ? html`<span data-testid="model-adding">checking the model…</span>` : ''}
      </p>
      ${model
        ? html`<form class="harvest" @submit=${this._onHarvest} data-testid="lm-harvest"
            @dragover=${(e: DragEvent) => e.preventDefault()}
            @drop=${(e: DragEvent) => { e.preventDefault(); void this._onTextFile(e.dataTransfer?.files); }}>
            <label>Harvest
              <select name="model" @change=${(e: Event) => (this.chosen = (e.target as HTMLSelectElement).value)} data-testid="lm-model">
                ${s.datasets.models.map((m) => html`<option value=${m.id} ?selected=${m.id === model.id}>${m.name}</option>`)}
              </select>
            </label>
            <label>at
              <select name="hook" data-testid="lm-hook">
                ${hooks.map((h) => html`<option value=${h} ?selected=${h === preferred}>${h}</option>`)}
              </select>
            </label>
            <label>tokens <input name="tokens" type="number" min="1" step="1" value="20000" data-testid="lm-tokens" /></label>
            <label title="tokens per sequence, the BOS token included; one document per sequence">context <input name="context" type="number" min="2" step="1" value="128" data-testid="lm-context" /></label>
            <div class="source">
              over
              <label><input type="radio" name="source" value="corpus" .checked=${this.source === 'corpus'} @change=${() => (this.source = 'corpus')} /> the built-in corpus (Brown and source code)</label>
              <label><input type="radio" name="source" value="text" .checked=${this.source === 'text'} @change=${() => (this.source = 'text')} data-testid="lm-source-text" /> my text</label>
            </div>
            ${this.source === 'text'
              ? html`<textarea name="text" rows="5" placeholder="Type or paste text, or drop a .txt file here. Blank lines separate documents." data-testid="lm-text"></textarea>
                  <div><input name="name" placeholder="dataset name" /> <input type="file" accept=".txt,text/plain" @change=${(e: Event) => void this._onTextFile((e.target as HTMLInputElement).files)} /></div>`
              : ''}
            <button type="submit" ?disabled=${busy} data-testid="lm-harvest-go">Harvest</button>
          </form>`
        : html`<p class="empty">No language model yet: add a Hugging Face folder.</p>`}
      ${s.datasets.importing
        ? html`<div class="progress" data-testid="lm-progress">
            ${s.datasets.importing.file}: <progress max="100" .value=${s.datasets.importing.progress.rows > 0 ? Math.round((100 * s.datasets.importing.progress.rowsDone) / s.datasets.importing.progress.rows) : 0}></progress>
            ${s.datasets.importing.progress.rowsDone.toLocaleString('en-US')} / ${s.datasets.importing.progress.rows.toLocaleString('en-US')} ${s.datasets.importing.progress.stage ?? ''}
            <button @click=${() => s.datasets.cancelImport()} data-testid="lm-cancel">Cancel</button>
          </div>`
        : ''}
    `;
  }

  static override styles = css`
    :host { display: block; margin-top: 1.5rem; }
    table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
    th, td { text-align: left; padding: 0.3rem 0.6rem; border-bottom: 1px solid #d8dee9; }
    th { font-weight: 600; color: #4c566a; }
    .note, .empty { color: #6b7280; }
    .add { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
    .harvest { display: flex; gap: 0.6rem; align-items: center; flex-wrap: wrap; margin: 0.5rem 0; }
    .harvest input[type=number] { width: 6rem; }
    .harvest textarea { width: 100%; box-sizing: border-box; font: inherit; }
    .source { display: flex; gap: 0.6rem; align-items: center; }
    .progress { margin-top: 0.5rem; }
  `;
}

customElements.define('sae-model-panel', SaeModelPanel);

declare global {
  interface HTMLElementTagNameMap {
    'sae-model-panel': SaeModelPanel;
  }
}
