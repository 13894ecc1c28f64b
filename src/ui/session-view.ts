// The base of every view: it takes the page's session as a property and re-renders on the session's
// 'change' events. Views render what the session holds and call its methods; they never talk to a worker.
import { LitElement, type PropertyValues } from 'lit';
import type { SaeSession } from './session.ts';

export class SessionView extends LitElement {
  static override properties = { session: { attribute: false } };
  /** the page's session (owner of the workers and of the state views show) */
  declare session: SaeSession | undefined;
  private readonly onChange = () => this.requestUpdate();

  override updated(changed: PropertyValues): void {
    if (changed.has('session')) {
      (changed.get('session') as SaeSession | undefined)?.removeEventListener('change', this.onChange);
      this.session?.addEventListener('change', this.onChange);
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.session?.removeEventListener('change', this.onChange);
  }
}
