// <sae-data-panel>: import an activation file into the browser's storage, and list, rename, delete and
// export the datasets stored there. It renders what the session tells it; all work happens in the worker.
import { css, html } from 'lit';
import { download } from './download.ts';
import { SessionView } from './session-view.ts';
import type { DatasetManifest } from '../worker/api.ts';

export class SaeDataPanel extends SessionView {
  private _onFiles(e: Event): void {
    const input = e.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = '';
    if (files.length) void this.session?.datasets.importFiles(files);
  }

  private _onHarvestText(e: SubmitEvent): void {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    void this.session?.datasets.createTextDataset(String(form.get('text') ?? ''), String(form.get('name') ?? '').trim());
  }

  /** a dropped or chosen .txt file fills the text box */
  private async _onTextFile(files: FileList | null | undefined): Promise<void> {
    const file = files?.[0];
    if (!file) return;
    const box = this.renderRoot.querySelector<HTMLTextAreaElement>('textarea[name=text]')!;
    box.value = await file.text();
    const name = this.renderRoot.querySelector<HTMLInputElement>('input[name=name]')!;
    if (!name.value) name.value = file.name.replace(/\.txt$/i, '');
  }

  private async _onExport(ds: DatasetManifest): Promise<void> {
    const { npy, sidecar } = await this.session!.datasets.exportNpy(ds.id);
    download(new Blob([npy as Uint8Array<ArrayBuffer>]), `${ds.name.replace(/\.npy$/, '')}.npy`);
    if (sidecar) download(new Blob([sidecar as Uint8Array<ArrayBuffer>]), `${ds.name.replace(/\.npy$/, '')}.tokens.jsonl`);
  }

  private _onRename(ds: DatasetManifest): void {
    const name = prompt('New name', ds.name);
    if (name && name !== ds.name) void this.session?.datasets.rename(ds.id, name);
  }

  private _onDelete(ds: DatasetManifest): void {
    if (confirm(`Delete ${ds.name}?`)) void this.session?.datasets.remove(ds.id);
  }

  override render() {
    const s = this.session;
    if (!s) return html``;
    const imp = s.datasets.importing;
    const pct = imp && imp.progress.rows > 0 ? Math.round((100 * imp.progress.rowsDone) / imp.progress.rows) : 0;
    return html`
      <h2>Datasets</h2>
      <label class="import" title="Choose one .npy or .safetensors file, with its .jsonl token sidecar if it has one">
        Import activations (.npy, .safetensors, + .jsonl sidecar)
        <input type="file" multiple accept=".npy,.safetensors,.jsonl" ?disabled=${!!imp} @change=${this._onFiles} data-testid="import-file" />
      </label>
      <label class="import" title="A folder of datasets Arrow shards, as SAELens caches activations">
        or a SAELens activation cache (folder of .arrow shards)
        <input type="file" webkitdirectory ?disabled=${!!imp} @change=${this._onFiles} data-testid="import-folder" />
      </label>
      <p class="demo">
        Or start from built-in data:
        <button ?disabled=${!!imp || !s.datasets.models.some((m) => m.builtin)} @click=${() => void s.datasets.createLmDemoDataset()} data-testid="demo-lm"
          title="The lab's own language model (4 blocks, trained on Brown and source code): its residual stream halfway, on 20k tokens of its corpus">
          Language model on Brown + code (20k tokens)
        </button>
        <button ?disabled=${!!imp} @click=${() => void s.datasets.createBrownDataset()} data-testid="demo-brown">
          Sentence encoder on the Brown corpus (20k tokens)
        </button>
        <button ?disabled=${!!imp} @click=${() => void s.datasets.createToyDataset()} data-testid="demo-toy">
          Toy superposition (256 known directions)
        </button>
      </p>
      <details class="text" data-testid="text-harvest">
        <summary>Or harvest the sentence encoder's activations on your own text</summary>
        <form @submit=${this._onHarvestText}
          @dragover=${(e: DragEvent) => e.preventDefault()}
          @drop=${(e: DragEvent) => { e.preventDefault(); void this._onTextFile(e.dataTransfer?.files); }}>
          <textarea name="text" rows="6" placeholder="Type or paste text, or drop a .txt file here. Blank lines separate documents." data-testid="text-input"></textarea>
          <div>
            <input name="name" placeholder="dataset name" data-testid="text-name" />
            <input type="file" accept=".txt,text/plain" @change=${(e: Event) => void this._onTextFile((e.target as HTMLInputElement).files)} />
            <button type="submit" ?disabled=${!!imp} data-testid="text-harvest-go">Harvest resid0</button>
          </div>
        </form>
      </details>
      ${imp
        ? html`<div class="progress" data-testid="import-progress">
            ${imp.file}: <progress max="100" .value=${pct}></progress> ${pct}% ${imp.progress.stage ?? ''}
            <button @click=${() => s.datasets.cancelImport()}>Cancel</button>
          </div>`
        : ''}
      ${s.message ? html`<p class=${s.message.kind} data-testid="message">${s.message.text}</p>` : ''}
      <table data-testid="datasets" data-loaded=${s.datasets.loaded}>
        <thead><tr><th>name</th><th>rows × d</th><th>dtype</th><th>size</th><th>held out by</th><th>created</th><th></th></tr></thead>
        <tbody>
          ${s.datasets.list.map(
            (ds) => html`<tr data-id=${ds.id}>
              <td class="name">${ds.name}</td>
              <td>${ds.rows.toLocaleString('en-US')} × ${ds.d}</td>
              <td>${ds.dtype}</td>
              <td>${(ds.bytes / 2 ** 20).toFixed(1)} MiB</td>
              <td data-testid="held-out">${ds.heldOut.kind === 'documents' ? 'document' : '256-row block'}</td>
              <td>${new Date(ds.created).toLocaleString()}</td>
              <td>
                <button @click=${() => this._onRename(ds)}>Rename</button>
                <button @click=${() => this._onExport(ds)}>Export</button>
                <button @click=${() => this._onDelete(ds)}>Delete</button>
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${s.datasets.list.length === 0 ? html`<p class="empty">No datasets stored in this browser yet.</p>` : ''}
    `;
  }

  static override styles = css`
    :host { display: block; }
    table { border-collapse: collapse; width: 100%; margin-top: 0.75rem; font-variant-numeric: tabular-nums; }
    th, td { text-align: left; padding: 0.3rem 0.6rem; border-bottom: 1px solid #d8dee9; }
    th { font-weight: 600; color: #4c566a; }
    .import { display: inline-flex; gap: 0.6rem; align-items: center; }
    .progress { margin-top: 0.5rem; }
    .error { color: #bf3b3b; }
    .info { color: #2e6b3a; }
    .empty { color: #6b7280; }
    .demo { margin: 0.5rem 0; }
    .text textarea { width: 100%; box-sizing: border-box; font: inherit; }
    .text form div { display: flex; gap: 0.5rem; align-items: center; margin-top: 0.3rem; }
    button { margin-right: 0.25rem; }
  `;
}

customElements.define('sae-data-panel', SaeDataPanel);

declare global {
  interface HTMLElementTagNameMap {
    'sae-data-panel': SaeDataPanel;
  }
}
