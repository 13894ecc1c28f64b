// <sae-app>: the page shell. It creates the session (the owner of the workers) and lays out the panels.
import { LitElement, css, html } from 'lit';
import './data-panel.ts';
import './run-panel.ts';
import './sae-panel.ts';
import { SaeSession } from './session.ts';

export class SaeApp extends LitElement {
  static override properties = { gpu: { state: true } };
  declare gpu: string;
  /** the page's session; public so tests can read the run's state */
  readonly session = new SaeSession();

  constructor() {
    super();
    this.gpu = 'Checking for WebGPU…';
    void describeGpu().then((text) => (this.gpu = text));
  }

  override render() {
    return html`
      <header>
        <h1>SAE Lab</h1>
        <p>Sparse autoencoders trained in your browser with hand-written WebGPU kernels. Nothing leaves this machine.</p>
        <p class="gpu" data-testid="gpu-status">${this.gpu}</p>
      </header>
      <sae-data-panel .session=${this.session}></sae-data-panel>
      <sae-run-panel .session=${this.session}></sae-run-panel>
      <sae-sae-panel .session=${this.session}></sae-sae-panel>
    `;
  }

  static override styles = css`
    :host { display: block; max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem; font-family: system-ui, sans-serif; color: #1f2933; }
    h1 { margin: 0.2rem 0; }
    .gpu { color: #4c566a; font-size: 0.9rem; }
  `;
}

async function describeGpu(): Promise<string> {
  if (!('gpu' in navigator)) {
    return 'This browser has no WebGPU. Use a recent Chrome or Edge (or Chromium with --enable-unsafe-webgpu) to train here.';
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return 'WebGPU is present but no adapter was found. Check that hardware acceleration is on.';
  const { vendor, architecture, description } = adapter.info;
  return `WebGPU adapter: ${[vendor, architecture, description].filter(Boolean).join(' ') || 'unnamed'}`;
}

customElements.define('sae-app', SaeApp);

declare global {
  interface HTMLElementTagNameMap {
    'sae-app': SaeApp;
  }
}
