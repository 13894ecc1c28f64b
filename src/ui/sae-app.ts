// <sae-app>: the page shell. It creates the session (the owner of the workers) and lays out the panels.
import { LitElement, css, html } from 'lit';
import './data-panel.ts';
import './model-panel.ts';
import './run-panel.ts';
import './sae-panel.ts';
import './explore-panel.ts';
import './features-panel.ts';
import './lm-panel.ts';
import { SaeSession } from './session.ts';

/** sessionStorage key: this tab is presenting */
const PRESENTING = 'sae-lab-presenting';
export class SaeApp extends LitElement {
  static override properties = { gpu: { state: true }, presenting: { type: Boolean, reflect: true } };
  declare gpu: string;
  /** presenting: full screen, only the live views, large enough for a projector */
  declare presenting: boolean;
  /** the page's session; public so tests can read the run's state */
  // ?tune=off: no start-up tuner (every GEMM its default kernel), as the CLI's --no-tune
  readonly session = new SaeSession({ tuner: new URLSearchParams(location.search).get('tune') !== 'off' });

  constructor() {
    super();
    this.gpu = 'Checking for WebGPU…';
    // a reload or a crash of the page mid-demo comes back presenting, as its run resumes by itself
    this.presenting = false;
    if (sessionStorage.getItem(PRESENTING) === '1') {
      void this.session.resumed.then((going) => (going ? (this.presenting = true) : sessionStorage.removeItem(PRESENTING)));
    }
    void describeGpu().then((text) => (this.gpu = text));
    document.addEventListener('fullscreenchange', () => {
      if (!document.fullscreenElement) this._stopPresenting();
    });
  }

  /** One click for a talk: full screen, the language-model demo dataset, the quick demo training on it. */
  private async _present(): Promise<void> {
    this.presenting = true;
    sessionStorage.setItem(PRESENTING, '1');
    await document.documentElement.requestFullscreen?.().catch(() => undefined); // refused without a user gesture (tests): stay in the page
    // ?demo-seconds=N: a shorter (or longer) demo than the two minutes, for a lightning talk
    const seconds = Number(new URLSearchParams(location.search).get('demo-seconds')) || undefined;
    await this.session.presentDemo(seconds);
  }

  private _stopPresenting(): void {
    this.presenting = false;
    sessionStorage.removeItem(PRESENTING);
    if (document.fullscreenElement) void document.exitFullscreen();
  }

  override render() {
    return html`
      <header>
        <h1>SAE Lab</h1>
        <p>Sparse autoencoders trained in your browser with hand-written WebGPU kernels. Nothing leaves this machine.</p>
        <p class="gpu" data-testid="gpu-status">${this.gpu}</p>
        ${this.presenting
          ? html`<button class="present" @click=${this._stopPresenting} data-testid="stop-presenting">Leave presenting</button>`
          : html`<button class="present" @click=${this._present} data-testid="present"
              title="Full screen: harvest the built-in language model on Brown and code (if not stored yet) and train the quick demo on it, with the live views large">
              ▶ Present the live demo</button>`}
      </header>
      <sae-data-panel .session=${this.session}></sae-data-panel>
      <sae-model-panel .session=${this.session}></sae-model-panel>
      <sae-run-panel .session=${this.session} ?presenting=${this.presenting}></sae-run-panel>
      <sae-sae-panel .session=${this.session}></sae-sae-panel>
      <sae-features-panel .session=${this.session}></sae-features-panel>
      <sae-lm-panel .session=${this.session}></sae-lm-panel>
      <sae-explore-panel .session=${this.session}></sae-explore-panel>
    `;
  }

  static override styles = css`
    :host { display: block; max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem; font-family: system-ui, sans-serif; color: #1f2933; }
    h1 { margin: 0.2rem 0; }
    .gpu { color: #4c566a; font-size: 0.9rem; }
    header { position: relative; }
    .present { position: absolute; top: 0.5rem; right: 0; font-size: 1rem; padding: 0.4rem 0.9rem; }
    /* presenting: the live views only, scaled up for the back of the room */
    :host([presenting]) { max-width: none; background: #fff; min-height: 100vh; box-sizing: border-box; }
    :host([presenting]) header p:not(.gpu) { display: none; }
    :host([presenting]) sae-data-panel, :host([presenting]) sae-model-panel, :host([presenting]) sae-sae-panel, :host([presenting]) sae-explore-panel, :host([presenting]) sae-features-panel, :host([presenting]) sae-lm-panel { display: none; }
    :host([presenting]) sae-run-panel { zoom: 1.35; }
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
