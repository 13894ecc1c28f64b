// The GPU worker's job queue: one job holds the device at a time, in the order asked (training, evaluating
// an SAE, measuring speed, the statistics pass). Training is long, so it lets waiting jobs through between
// its steps (yieldTo), then carries on: an evaluation asked for mid-run costs the run a pause of one job.

export class GpuQueue {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  /** runs `job` when every job asked for before it has finished (or yielded) */
  async run<T>(job: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await job();
    } finally {
      this.release();
    }
  }

  /** how many jobs wait for the device */
  get pending(): number {
    return this.waiting.length;
  }

  /** From inside a running job: lets the jobs waiting now run first, then resumes. Free when none wait. */
  async yieldTo(): Promise<void> {
    if (this.waiting.length === 0) return;
    // hand the device to the first waiter and queue behind the rest: jobs asked for later come after us
    const resumed = new Promise<void>((resume) => this.waiting.push(resume));
    this.release();
    await resumed;
  }

  private acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => resolve()));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next(); // hand over directly: held stays true
    else this.held = false;
  }
}
