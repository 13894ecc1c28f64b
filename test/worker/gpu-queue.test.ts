// The GPU job queue: one job at a time, first asked first served; a long job yielding between its steps
// lets the jobs waiting at that moment through, then resumes before any job asked for later.
import { describe, expect, it } from 'vitest';
import { GpuQueue } from '../../src/worker/gpu-queue.ts';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('GpuQueue', () => {
  it('runs jobs one at a time in the order asked, and goes on after a failure', async () => {
    const q = new GpuQueue();
    const log: string[] = [];
    let active = 0;
    const job = (name: string, fail = false) => async () => {
      expect(++active).toBe(1);
      log.push(`${name}+`);
      await tick();
      log.push(`${name}-`);
      active--;
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([q.run(job('a')), q.run(job('b', true)), q.run(job('c'))]);
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(q.pending).toBe(0);
  });

  it('a training job lets waiting jobs through between steps, ahead of its own next step', async () => {
    const q = new GpuQueue();
    const log: string[] = [];
    let later: Promise<unknown> | undefined;
    const training = q.run(async () => {
      for (let step = 0; step < 4; step++) {
        log.push(`step${step}`);
        await tick();
        if (step === 1) later = q.run(async () => void log.push('late'));
        await q.yieldTo();
      }
    });
    const early = q.run(async () => void log.push('eval'));
    await Promise.all([training, early]);
    await later;
    expect(log).toEqual(['step0', 'eval', 'step1', 'late', 'step2', 'step3']);
  });

  it('yielding with nobody waiting keeps the device', async () => {
    const q = new GpuQueue();
    await q.run(async () => {
      await q.yieldTo();
      expect(q.pending).toBe(0);
    });
  });
});
