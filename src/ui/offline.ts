// Offline use: registers the service worker (src/worker/service-worker.ts) and shows, in a corner badge,
// whether this browser holds everything the lab needs to load and train with the network off. Only the
// production build registers it: the dev server serves modules on demand, so there is no complete list of
// files to precache (vite.config.ts answers a stray registration there with a worker that removes itself).
// Importing this module sets it up (src/main.ts).
import { LitElement, css, html } from 'lit';
import { SW_FILE, type OfflineMessage } from '../worker/precache.ts';

/** true in a build, which has a sw.js (vite.config.ts, offlinePrecache); false on the dev server */
declare const __SAE_LAB_SERVICE_WORKER__: boolean;

export type OfflineState =
  /** not known yet */
  | { state: 'checking' }
  /** no service worker: the dev server, or a browser without them */
  | { state: 'off'; reason: string }
  | { state: 'preparing'; files: number; totalFiles: number; bytes: number; totalBytes: number }
  | { state: 'ready'; version: string; totalFiles: number; totalBytes: number }
  | { state: 'failed'; error: string };

export class SaeOfflineStatus extends LitElement {
  static override properties = { status: { state: true } };
  declare status: OfflineState;

  constructor() {
    super();
    this.status = { state: 'checking' };
  }

  override render() {
    const s = this.status;
    const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    const text =
      s.state === 'ready' ? '✓ Available offline'
      : s.state === 'preparing' ? `Saving for offline use… ${mb(s.bytes)} / ${mb(s.totalBytes)} MB`
      : s.state === 'failed' ? 'Not available offline'
      : '';
    const title =
      s.state === 'ready' ? `The app, the model and the Brown corpus (${s.totalFiles} files, ${mb(s.totalBytes)} MB) are stored in this browser; it loads and trains with the network off. Version ${s.version}.`
      : s.state === 'failed' ? s.error
      : s.state === 'off' ? s.reason
      : s.state === 'preparing' ? `${s.files} of ${s.totalFiles} files`
      : '';
    const version = s.state === 'ready' ? s.version : '';
    return html`<span class="badge ${s.state}" data-testid="offline-status" data-state=${s.state} data-version=${version} title=${title}>${text}</span>`;
  }

  static override styles = css`
    :host { position: fixed; top: 0.6rem; right: 0.8rem; font: 0.8rem system-ui, sans-serif; z-index: 10; }
    .badge { display: inline-block; padding: 0.2rem 0.6rem; border-radius: 999px; border: 1px solid transparent; }
    .off, .checking { display: none; }
    .preparing { background: #eef2f7; color: #4c566a; border-color: #d8dee9; }
    .ready { background: #e6f4ea; color: #2e6b3a; border-color: #b7dfc2; }
    .failed { background: #fbeaea; color: #bf3b3b; border-color: #efc4c4; }
  `;
}

customElements.define('sae-offline-status', SaeOfflineStatus);

declare global {
  interface HTMLElementTagNameMap {
    'sae-offline-status': SaeOfflineStatus;
  }
}

/** Adds the badge to the page and, in the production build, registers the service worker. */
function setUpOffline(): void {
  const badge = document.createElement('sae-offline-status');
  document.body.append(badge);
  const base = import.meta.env.BASE_URL;
  if (!('serviceWorker' in navigator)) {
    badge.status = { state: 'off', reason: 'This browser has no service workers, so the lab needs the network.' };
  } else if (!__SAE_LAB_SERVICE_WORKER__) {
    badge.status = { state: 'off', reason: 'The dev server does not register the service worker; build and preview to use the lab offline.' };
    // a build once previewed on this origin must not go on answering for the dev server
    void navigator.serviceWorker.getRegistration(base).then((r) => r?.unregister());
  } else {
    void watch(badge, base).catch((e: unknown) => (badge.status = { state: 'failed', error: String((e as Error)?.message ?? e) }));
  }
}

async function watch(badge: SaeOfflineStatus, base: string): Promise<void> {
  const sw = navigator.serviceWorker;
  sw.addEventListener('message', (event: MessageEvent<OfflineMessage>) => {
    const m = event.data;
    // an update being saved (or failing) does not take away the version already stored
    if (badge.status.state === 'ready') return;
    if (m?.type === 'sae-lab-precache-progress' && m.files < m.totalFiles) badge.status = { state: 'preparing', ...m };
    if (m?.type === 'sae-lab-precache-failed') badge.status = { state: 'failed', error: m.error };
  });
  // 'ready' only once the active worker confirms its cache holds every file
  const check = async () => {
    const active = (await sw.getRegistration(base))?.active;
    if (!active) return;
    // until activated it may still be deleting the previous version's cache
    if (active.state === 'activating') await new Promise((resolve) => active.addEventListener('statechange', resolve, { once: true }));
    const s = await ask(active);
    if (s && s.cached === s.totalFiles) badge.status = { state: 'ready', version: s.version, totalFiles: s.totalFiles, totalBytes: s.totalBytes };
  };
  // a new build's worker takes over as soon as it has precached (it skips waiting)
  sw.addEventListener('controllerchange', () => void check());
  await sw.register(`${base}${SW_FILE}`, { scope: base });
  await sw.ready;
  await check();
}

/** the active worker's account of its cache, or undefined if it does not answer */
function ask(worker: ServiceWorker): Promise<Extract<OfflineMessage, { type: 'sae-lab-precache-status' }> | undefined> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(undefined), 10_000);
    channel.port1.onmessage = (e) => {
      clearTimeout(timer);
      resolve(e.data);
    };
    worker.postMessage({ type: 'sae-lab-precache-status' }, [channel.port2]);
  });
}

setUpOffline();
