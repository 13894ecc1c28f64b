// <sae-run-panel>: choose a stored dataset and a configuration, start and stop a run, watch its loss.
// Renders what the session tells it; training happens in the GPU worker.
import { css, html, type PropertyValues } from 'lit';
import { download } from './download.ts';
import { SessionView } from './session-view.ts';
import './histogram-chart.ts';
import './map-view.ts';
import './born-strip.ts';
import './compare-chart.ts';
import './figure-export.ts';
import './scaling-view.ts';
import { compareFigure, densityFigure, healthFigure, lossFigure, mapFigure, normsFigure } from './run-figures.ts';
import { COLORS } from './compare-chart.ts';
import './loss-chart.ts';
import { defaultConfig, keepsK, sparsityKnob } from '../engine/config.ts';
import { ARCH_STEPS, archNamed, type FormField } from '../engine/steps/index.ts';
import { estimateMemory } from '../engine/memory.ts';
import type { TrainRequest } from '../worker/api.ts';

const PRESETS: Record<string, TrainRequest['config']> = {
  'quick (TopK)': { arch: 'topk', features: 256, k: 8, batch: 128, steps: 300, lr: 3e-3 },
  'quick (standard)': { arch: 'standard', features: 256, l1: 2, batch: 128, steps: 300, lr: 3e-3 },
  'quick (JumpReLU, L0)': { arch: 'jumprelu', features: 256, l0: 1, jumpMode: 'step', batch: 128, steps: 300, lr: 3e-3 },
  'quick (JumpReLU, tanh)': { arch: 'jumprelu', features: 256, l0: 1, jumpMode: 'tanh', batch: 128, steps: 300, lr: 3e-3 },
  'quick (BatchTopK)': { arch: 'batchtopk', features: 256, k: 8, batch: 128, steps: 300, lr: 3e-3 },
  'quick (Matryoshka BatchTopK)': { arch: 'matryoshka', features: 256, k: 8, widths: [16, 64, 256], batch: 128, steps: 300, lr: 3e-3 },
};

/** the form's configuration (the variant list is the trainer's registry; every field is read here only) */
function formConfig(form: HTMLFormElement): { datasetId: string; config: TrainRequest['config'] } {
  const f = new FormData(form);
  const num = (k: string) => Number(f.get(k));
  const arch = archNamed(f.get('arch')) ?? 'topk';
  const jumpMode = f.get('jumpMode') === 'tanh' ? 'tanh' : 'step';
  // Matryoshka's nesting: blank for the default (the trainer refuses widths that do not nest)
  const widths = String(f.get('widths') ?? '').split(',').filter((w) => w.trim() !== '').map(Number);
  return {
    datasetId: String(f.get('dataset')),
    config: {
      arch, features: num('features'), k: num('k'), l1: num('l1'), l0: num('l0'), jumpMode, lr: num('lr'), batch: num('batch'), steps: num('steps'),
      ...(arch === 'matryoshka' && widths.length ? { widths } : {}),
    },
  };
}

export class SaeRunPanel extends SessionView {

  private _onStart(e: Event): void {
    e.preventDefault();
    const { datasetId, config } = formConfig(e.target as HTMLFormElement);
    void this.session?.training.start(datasetId, config);
  }

  private _onTime(): void {
    const { datasetId, config } = formConfig(this.renderRoot.querySelector('form')!);
    void this.session?.training.estimateTime(datasetId, config);
  }

  private async _onExport(runId: string): Promise<void> {
    const { name, zip } = await this.session!.training.exportSae(runId);
    download(new Blob([zip as Uint8Array<ArrayBuffer>], { type: 'application/zip' }), `${name}.zip`);
  }

  private async _onExportScale(runId: string): Promise<void> {
    try {
      const { name, blob } = await this.session!.training.exportScale(runId);
      download(blob, `${name}.zip`);
    } catch (e) {
      const cancelled = (e as Error).name === 'AbortError';
      this.session!.say({ kind: cancelled ? 'info' : 'error', text: `Export for SAELens: ${(e as Error).message}` });
    }
  }

  /** the memory estimate shown beside the form; it reads the rendered form, so it is refreshed after renders */
  private estimate = '';

  override updated(changed: PropertyValues): void {
    super.updated(changed);
    const next = this._estimate();
    if (next !== this.estimate) {
      this.estimate = next;
      this.requestUpdate();
    }
  }

  /** GPU memory the form's configuration needs (engine/memory.ts), for the selected dataset. */
  private _estimate(): string {
    const form = this.renderRoot.querySelector('form');
    if (!form) return '';
    const { datasetId, config } = formConfig(form);
    const ds = this.session?.datasets.list.find((x) => x.id === datasetId);
    if (!ds) return '';
    const cfg = defaultConfig({ ...config, d: ds.d });
    const mib = estimateMemory(cfg).total / 2 ** 20;
    return `≈ ${mib.toFixed(mib < 10 ? 1 : 0)} MiB on the GPU`;
  }

  /** A sweep of the form's settings over the sizes × steps (× the variant's sparsity, if listed) typed beside it. */
  private _onSweep(): void {
    const form = this.renderRoot.querySelector('form')!;
    const { datasetId, config } = formConfig(form);
    const list = (name: string) => String(new FormData(form).get(name) ?? '').split(',').filter((x) => x.trim() !== '').map(Number);
    const [sizes, steps, sparsities] = [list('sweepSizes'), list('sweepSteps'), list('sweepSparsity')];
    const bad = [...sizes, ...steps].find((n) => !Number.isSafeInteger(n) || n < 1);
    if (bad !== undefined || !sizes.length || !steps.length) {
      this.session!.sweeps.refused = 'Sweep refused: sizes and steps are comma-separated positive whole numbers, e.g. 128,256,512 and 250,1000';
      this.requestUpdate();
      return;
    }
    const { features: _f, steps: _s, ...base } = config;
    void this.session?.sweeps.start(datasetId, base, sizes, steps, sparsities.length ? sparsities : undefined);
  }

  private _onQuickDemo(): void {
    const form = this.renderRoot.querySelector('form')!;
    void this.session?.training.quickDemo(String(new FormData(form).get('dataset')));
  }

  private _onPreset(e: Event): void {
    const preset = PRESETS[(e.target as HTMLSelectElement).value];
    const form = this.renderRoot.querySelector('form')!;
    for (const [k, v] of Object.entries(preset ?? {})) (form.elements.namedItem(k) as HTMLInputElement).value = String(v);
    this.requestUpdate(); // the variant's fields
  }

  /** the run in progress as figures name it: its configuration and dataset */
  private _runLabel(): string {
    const s = this.session!;
    const id = s.training.run?.runId;
    const r = s.training.runs.find((x) => x.id === id);
    return r ? `${r.config.arch} F=${r.config.features} on ${r.datasetName}` : 'the run';
  }

  override render() {
    const s = this.session;
    if (!s) return html``;
    const run = s.training.run;
    const running = run?.status === 'running';
    // a sweep between two of its runs is busy too: nothing else may take the GPU worker then
    const busy = running || s.sweeps.driving;
    const last = run?.history[run.history.length - 1];
    const p = PRESETS['quick (TopK)']!;
    // the chosen variant's own fields only (the select keeps the user's choice between renders)
    const arch = archNamed(this.renderRoot.querySelector<HTMLSelectElement>('select[name=arch]')?.value) ?? p.arch!;
    const hide = (field: FormField) => !ARCH_STEPS[arch].fields.includes(field);
    return html`
      <h2>Train</h2>
      <form @submit=${this._onStart} @input=${() => this.requestUpdate()} data-testid="run-form">
        <label>dataset <select name="dataset" required>${s.datasets.list.map((ds) => html`<option value=${ds.id}>${ds.name} (${ds.rows}×${ds.d})</option>`)}</select></label>
        <label>preset <select @change=${this._onPreset}>${Object.keys(PRESETS).map((k) => html`<option>${k}</option>`)}</select></label>
        <label>variant <select name="arch">${Object.entries(ARCH_STEPS).map(([name, a]) => html`<option value=${name} ?selected=${name === p.arch}>${a.label}</option>`)}</select></label>
        <label>features <input name="features" type="number" min="1" .value=${String(p.features)} /></label>
        <label ?hidden=${hide('k')}>k <input name="k" type="number" min="1" .value=${String(p.k)} /></label>
        <label ?hidden=${hide('l1')} title="standard: the L1 coefficient">λ <input name="l1" type="number" step="any" min="0" value="2" /></label>
        <label ?hidden=${hide('l0')} title="JumpReLU: the sparsity coefficient">c <input name="l0" type="number" step="any" min="0" value="1" /></label>
        <label ?hidden=${hide('jumpMode')} title="JumpReLU: the sparsity penalty">penalty <select name="jumpMode"><option value="step">L0 (step)</option><option value="tanh">tanh</option></select></label>
        <label ?hidden=${hide('widths')} title="Matryoshka: the nested dictionary sizes, the last = features (blank: F/16, F/4, F)">widths <input name="widths" size="12" placeholder="F/16,F/4,F" /></label>
        <label>lr <input name="lr" type="number" step="any" min="0" .value=${String(p.lr)} /></label>
        <label>batch <input name="batch" type="number" min="1" .value=${String(p.batch)} /></label>
        <label>steps <input name="steps" type="number" min="1" .value=${String(p.steps)} /></label>
        <span class="estimate" data-testid="memory-estimate">${this.estimate}</span>
        <button type="button" ?disabled=${running || s.datasets.list.length === 0} @click=${this._onTime} data-testid="time-it"
          title="Times a few steps of this configuration on this adapter">Time it</button>
        ${s.training.timeEstimate ? html`<span class="estimate" data-testid="time-estimate">${s.training.timeEstimate}</span>` : ''}
        <button type="submit" ?disabled=${busy || s.datasets.list.length === 0} data-testid="start">Start</button>
        <button type="button" ?disabled=${busy || s.datasets.list.length === 0} @click=${this._onQuickDemo} data-testid="quick-demo"
          title="A TopK SAE sized to the dataset, trained for as many steps as this adapter runs in about two minutes">
          Quick demo (~2 min)
        </button>
        <button type="button" ?disabled=${!running} @click=${() => s.training.pause()} data-testid="pause">Pause</button>
        <fieldset class="sweep" title="Train these settings at every dictionary size × step count, one run after another, and draw their scaling">
          <legend>Sweep</legend>
          <label>sizes <input name="sweepSizes" size="14" placeholder="128,256,512" /></label>
          <label>steps <input name="sweepSteps" size="10" placeholder="250,1000" /></label>
          <label title="the variant's sparsity setting at each value too (blank: the form's one)">${sparsityKnob(arch).symbol} <input name="sweepSparsity" size="10" placeholder=${keepsK(arch) ? '8,16,32' : '1,2,4'} data-testid="sweep-sparsity" /></label>
          <button type="button" ?disabled=${busy || s.datasets.list.length === 0} @click=${this._onSweep} data-testid="start-sweep">Start sweep</button>
          ${s.sweeps.view?.sweep.status === 'running' && !busy
            ? html`<button type="button" @click=${() => void s.sweeps.resume()} data-testid="resume-sweep">Resume sweep</button>`
            : ''}
          ${s.sweeps.refused ? html`<span class="error" data-testid="sweep-refused">${s.sweeps.refused}</span>` : ''}
        </fieldset>
      </form>
      <sae-scaling-view .view=${s.sweeps.view} data-testid="scaling-view"></sae-scaling-view>
      ${run
        ? html`<p class="status" data-testid="run-status" data-status=${run.status}>
              ${run.status}: step ${run.step} / ${run.steps}
              ${last ? html` · loss ${last.loss.toPrecision(4)} · L0 ${last.l0.toFixed(1)} · dead ${last.dead}` : ''}
              · ${Math.round(run.tokensPerS).toLocaleString('en-US')} tokens/s
              ${run.stream && run.stream.rows > 0
                ? html`<span class="stream" data-testid="run-stream"
                    title="rows/s the browser store delivers while reading, against rows/s training consumes; and how long training waited for data">
                    · data ${Math.round(run.stream.deliveredRowsPerS).toLocaleString('en-US')} rows/s delivered, waited ${(run.stream.waitMs / 1000).toFixed(1)} s</span>`
                : ''}
              ${run.error ? html`<span class="error" data-testid="run-error">${run.error}</span>` : ''}
            </p>
            ${run.notice ? html`<p class="notice" data-testid="run-notice">${run.notice}</p>` : ''}
            ${run.kernels ? html`<p class="kernels" data-testid="run-kernels" title="GEMM variants, timed on this adapter when the run started">${run.kernels}</p>` : ''}
            <div class="charts">
              <sae-loss-chart .history=${run.history}></sae-loss-chart>
              <sae-loss-chart kind="health" .history=${run.history} .speed=${run.speed} features=${run.density?.counts.reduce((a, b) => a + b, 0) ?? 1}></sae-loss-chart>
              <sae-histogram-chart data-testid="density-chart" .bars=${run.density} x-label="log10 feature density" range="-10,0"
                caption=${run.density ? `feature density at step ${run.density.step} (${run.density.tokens.toLocaleString('en-US')} tokens): ${run.density.counts[0]} dead` : 'feature density: after the first checkpoint'}></sae-histogram-chart>
              <sae-histogram-chart data-testid="norm-chart" .bars=${run.decoderNorms} x-label="decoder norm ‖W_dec,i‖" color="#7a5195"
                caption=${run.decoderNorms ? `decoder norms at step ${run.decoderNorms.step}: ${run.decoderNorms.min.toFixed(3)} – ${run.decoderNorms.max.toFixed(3)}` : 'decoder norms: after the first checkpoint'}></sae-histogram-chart>
              <sae-map-view .map=${run.map}></sae-map-view>
            </div>
            <p class="exports" data-testid="run-figures">
              <sae-figure-export label="loss curves" .figure=${() => lossFigure(run, this._runLabel())}></sae-figure-export>
              <sae-figure-export label="health" .figure=${() => healthFigure(run, this._runLabel(), run.density?.counts.reduce((a, b) => a + b, 0) ?? 1)}></sae-figure-export>
              <sae-figure-export label="density" .figure=${() => densityFigure(run, this._runLabel())}></sae-figure-export>
              <sae-figure-export label="decoder norms" .figure=${() => normsFigure(run, this._runLabel())}></sae-figure-export>
              <sae-figure-export label="map" .figure=${() => mapFigure(run, this._runLabel())}></sae-figure-export>
            </p>
            <sae-born-strip .born=${run.born} total=${run.bornTotal}></sae-born-strip>`
        : ''}
      ${s.training.runs.length
        ? html`<h3>Runs</h3>
            <table data-testid="runs">
              <thead><tr><th title="show side by side">compare</th><th>dataset</th><th>variant</th><th>features</th><th>step</th><th>status</th><th>last loss</th><th></th></tr></thead>
              <tbody>
                ${s.training.runs.map(
                  (r) => html`<tr data-id=${r.id} data-status=${r.status} data-step=${r.step}>
                    <td><input type="checkbox" .checked=${s.training.compared.some((c) => c.id === r.id)} ?disabled=${r.step === 0}
                      @change=${() => void s.training.toggleCompare(r.id)} data-testid="compare" /></td>
                    <td>${r.datasetName}</td>
                    <td>${r.config.arch}</td>
                    <td>${r.config.features}</td>
                    <td>${r.step} / ${r.config.steps}</td>
                    <td>${r.status === 'running' && !running ? 'interrupted' : r.status}</td>
                    <td>${r.lastLoss?.toPrecision(4) ?? '—'}</td>
                    <td>
                      ${r.status !== 'done' && !busy
                        ? html`<button @click=${() => void s.training.resume(r.id)} data-testid="resume">Resume</button>`
                        : ''}
                      ${r.step > 0 ? html`<button @click=${() => this._onExport(r.id)} data-testid="export-sae">Export SAE</button>` : ''}
                      ${r.step > 0
                        ? s.training.handover?.runId === r.id
                          ? html`<span data-testid="export-scale-progress">writing the cache… ${Math.round(100 * s.training.handover.fraction)}%</span>
                              <button @click=${() => s.training.cancelExportScale()} data-testid="export-scale-cancel">Cancel</button>`
                          : html`<button ?disabled=${s.training.handover !== null} @click=${() => this._onExportScale(r.id)} data-testid="export-scale"
                              title="Zip this run for SAELens: its dataset as an activation cache, the weights to start from, the runner config, train_sae.py and a README">Export for SAELens</button>`
                        : ''}
                    </td>
                  </tr>`,
                )}
              </tbody>
            </table>
            ${s.training.compared.length
              ? html`<h3>Side by side</h3><sae-compare-chart .runs=${s.training.compared}></sae-compare-chart>
                  <sae-figure-export .figure=${() => compareFigure(s.training.compared, COLORS)}></sae-figure-export>`
              : ''}`
        : ''}
    `;
  }

  static override styles = css`
    :host { display: block; margin-top: 1.5rem; }
    form { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: center; }
    input[type='number'] { width: 5.5rem; }
    .status { font-variant-numeric: tabular-nums; }
    .error { color: #bf3b3b; margin-left: 0.5rem; }
    .notice { color: #8a5a00; }
    .kernels { color: #666; font-size: 0.85em; margin: 0.2em 0; }
    .charts { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
    /* presenting (set by the app): the live views, not the bookkeeping */
    :host([presenting]) h3, :host([presenting]) table, :host([presenting]) form label, :host([presenting]) .estimate { display: none; }
    table { border-collapse: collapse; margin-top: 0.5rem; font-variant-numeric: tabular-nums; }
    th, td { text-align: left; padding: 0.25rem 0.6rem; border-bottom: 1px solid #d8dee9; }
  `;
}

customElements.define('sae-run-panel', SaeRunPanel);

declare global {
  interface HTMLElementTagNameMap {
    'sae-run-panel': SaeRunPanel;
  }
}
