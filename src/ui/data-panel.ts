// <sae-data-panel>: import an activation file into the browser's storage, and list, rename, delete and
// export the datasets stored there. It renders what the session tells it; all work happens in the worker.
import { css, html } from 'lit';
import { download } from './download.ts';
import { SessionView } from './session-view.ts';
import type { DatasetManifest } from '../worker/api.ts';

export class SaeDataPanel extends SessionView {
  private _onFile(e: Event): void {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (file) void this.session?.importFile(file);
  }

  private async _onExport(ds: DatasetManifest): Promise<void> {
    const { npy, sidecar } = await this.session!.exportNpy(ds.id);
    download(new Blob([npy as Uint8Array<ArrayBuffer>]), `${ds.name.replace(/\.npy$/, '')}.npy`);
    if (sidecar) download(new Blob([sidecar as Uint8Array<ArrayBuffer>]), `${ds.name.replace(/\.npy$/, '')}.tokens.jsonl`);
  }

  private _onRename(ds: DatasetManifest): void {
    const name = prompt('New name', ds.name);
    if (name && name !== ds.name) void this.session?.rename(ds.id, name);
  }

  private _onDelete(ds: DatasetManifest): void {
    if (confirm(`Delete ${ds.name}?`)) void this.session?.remove(ds.id);
  }

  override render() {
    const s = this.session;
    if (!s) return html``;
    const imp = s.importing;
    const pct = imp && imp.progress.rows > 0 ? Math.round((100 * imp.progress.rowsDone) / imp.progress.rows) : 0;
    return html`
      <h2>Datasets</h2>
      <label class="import">
        Import activations (.npy, .safetensors)
        <input type="file" accept=".npy,.safetensors" ?disabled=${!!imp} @change=${this._onFile} data-testid="import-file" />
      </label>
      <p class="demo">
        Or start from built-in data:
        <button ?disabled=${!!imp} @click=${() => void s.createBrownDataset()} data-testid="demo-brown">
          Real model on the Brown corpus (20k tokens)
        </button>
        <button ?disabled=${!!imp} @click=${() => void s.createToyDataset()} data-testid="demo-toy">
          Toy superposition (256 known directions)
        </button>
      </p>
      ${imp
        ? html`<div class="progress" data-testid="import-progress">
            ${imp.file}: <progress max="100" .value=${pct}></progress> ${pct}% ${imp.progress.stage ?? ''}
            <button @click=${() => s.cancelImport()}>Cancel</button>
          </div>`
        : ''}
      ${s.message ? html`<p class=${s.message.kind} data-testid="message">${s.message.text}</p>` : ''}
      <table data-testid="datasets" data-loaded=${s.loaded}>
        <thead><tr><th>name</th><th>rows × d</th><th>dtype</th><th>size</th><th>created</th><th></th></tr></thead>
        <tbody>
          ${s.datasets.map(
            (ds) => html`<tr data-id=${ds.id}>
              <td class="name">${ds.name}</td>
              <td>${ds.rows.toLocaleString('en-US')} × ${ds.d}</td>
              <td>${ds.dtype}</td>
              <td>${(ds.bytes / 2 ** 20).toFixed(1)} MiB</td>
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
      ${s.datasets.length === 0 ? html`<p class="empty">No datasets stored in this browser yet.</p>` : ''}
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
    button { margin-right: 0.25rem; }
  `;
}

customElements.define('sae-data-panel', SaeDataPanel);

declare global {
  interface HTMLElementTagNameMap {
    'sae-data-panel': SaeDataPanel;
  }
}
