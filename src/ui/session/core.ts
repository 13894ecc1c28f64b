// What the session's parts share: the two workers, the page's one message line, and the 'change' event
// every view re-renders on.
import type { Remote } from 'comlink';
import type { DataApi, GpuApi } from '../../worker/api.ts';

export interface SessionCore {
  readonly data: Remote<DataApi>;
  readonly gpu: Remote<GpuApi>;
  /** tells the views to re-render */
  changed(): void;
  /** the last error or notice shown to the user (undefined clears it) */
  say(message: { kind: 'error' | 'info'; text: string } | undefined): void;
}

