// Work that a view can do a moment later, each piece in a task of its own: a run's first progress builds
// four charts, and built in the same task as its render they made one frame of the lab's script long
// enough to be felt while training loads the machine.

/** runs `work` once the page is idle, or within `ms` at the latest */
export function whenIdle(work: () => void, ms = 200): void {
  if (typeof requestIdleCallback === 'function') requestIdleCallback(work, { timeout: ms });
  else setTimeout(work, 0);
}
