// `sae-lab features --probes` as a user runs it (a child process through bin/sae-lab.js): each listed feature
// gains its precision/recall/F1 as a classifier for its label and those of a linear probe for the label.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/formats/npy.ts';
import { Rng } from '../../src/engine/random.ts';

const BIN = join(import.meta.dirname, '../../bin/sae-lab.js');
const dir = mkdtempSync(join(tmpdir(), 'sae-lab-probes-'));
const ROWS = 3000;
const D = 8;

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 180_000, env: { ...process.env, SAE_LAB_TUNER_CACHE: join(dir, 'tuner.json') } });
  // Dawn prints a Vulkan loader warning when it probes for a GPU; it is not ours to report.
  const stderr = r.stderr.split('\n').filter((l) => l && !/Vulkan|initializing adapter|InitializeImpl/.test(l)).join('\n');
  return { code: r.status ?? -1, stdout: r.stdout, stderr };
}

describe('sae-lab features --probes', () => {
  beforeAll(() => {
    // rows around three centres, one per label, so a linear probe can tell each label from the rest (and a
    // probe fit on rows misaligned with their labels could not); documents of 150 rows for the split
    const rng = new Rng(11);
    const centres = Array.from({ length: 3 }, () => Array.from({ length: D }, () => 3 * rng.gaussian()));
    const names = ['a', 'b', 'c'];
    const label = Array.from({ length: ROWS }, () => rng.int(3));
    const x = Float32Array.from({ length: ROWS * D }, (_, i) => centres[label[Math.floor(i / D)]!]![i % D]! + rng.gaussian());
    writeFileSync(join(dir, 'gt.npy'), encodeNpy(x, [ROWS, D]));
    const lines = Array.from({ length: ROWS }, (_, r) => JSON.stringify({ doc: Math.floor(r / 150), token: `t${r % 7}`, cluster: names[label[r]!] }));
    writeFileSync(join(dir, 'gt.tokens.jsonl'), lines.join('\n') + '\n');
    const r = cli('train', '--data', 'gt.npy', '--sidecar', 'gt.tokens.jsonl', '--features', '16', '--steps', '20', '--batch', '64', '--no-tune', '--out', 'sae');
    expect(r.code, r.stderr).toBe(0);
  });

  const features = (...more: string[]) =>
    cli('features', '--sae', 'sae', '--data', 'gt.npy', '--sidecar', 'gt.tokens.jsonl', '--label', 'cluster', '--min-purity', '0.5', '--min-tokens', '1', ...more);

  it('adds a probe and the feature as a classifier to every listed feature, and says how the probes were fit', () => {
    const plain = features();
    const r = features('--probes');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    const metrics = JSON.parse(readFileSync(join(dir, 'sae', 'metrics.json'), 'utf8'));
    // the plain report is unchanged, field for field, underneath the additions
    const without = { ...report, features: report.features.map(({ probe: _p, asClassifier: _a, ...f }: Record<string, unknown>) => f) };
    delete without.probes;
    expect(without).toEqual(JSON.parse(plain.stdout));
    expect(report.count).toBeGreaterThan(0);
    expect(report.probes).toMatchObject({ trainRows: ROWS - metrics.held_out.rows, trainRowsAvailable: ROWS - metrics.held_out.rows, maxRows: 20000, epochs: 20 });
    expect([...report.probes.labels].sort()).toEqual([...new Set(report.features.map((f: { label: string }) => f.label))].sort());
    expect(r.stderr).toMatch(/probes \(.*\) fit on \d+ training rows for 20 epochs/);
    const byLabel = new Map<string, unknown>();
    for (const f of report.features) {
      for (const side of [f.probe, f.asClassifier]) {
        for (const k of ['precision', 'recall', 'f1']) {
          expect(side[k]).toBeGreaterThanOrEqual(0);
          expect(side[k]).toBeLessThanOrEqual(1);
        }
      }
      // one probe per label: every feature of a label is compared with the same probe
      if (byLabel.has(f.label)) expect(f.probe).toEqual(byLabel.get(f.label));
      byLabel.set(f.label, f.probe);
      // each cluster is linearly separable from the others: the probe all but learns it
      expect(f.probe.f1, f.label).toBeGreaterThan(0.9);
      // a feature fires on rows of its label more often than not (it put ≥ 50% of its mass there)
      expect(f.asClassifier.precision).toBeGreaterThan(0);
    }
    // the feature's side agrees with the label-mass pass it shares the activations with: it fires on
    // density × rows rows, tp = precision × that, and tp / recall is its label's held-out row count, the
    // same for every feature of the label, the counts adding up to the held-out rows
    const labelRows = new Map<string, number>();
    for (const f of report.features) {
      const fired = Math.round(f.density * report.rows);
      const tp = f.asClassifier.precision * fired;
      expect(Math.abs(tp - Math.round(tp))).toBeLessThan(0.05);
      const count = Math.round(tp) / f.asClassifier.recall;
      if (labelRows.has(f.label)) expect(Math.abs(count - labelRows.get(f.label)!)).toBeLessThan(1);
      else labelRows.set(f.label, Math.round(count));
    }
    expect(labelRows.size).toBe(3);
    expect([...labelRows.values()].reduce((a, b) => a + b, 0)).toBe(report.rows);
    // deterministic: the same command twice gives the same report, timing aside
    const again = JSON.parse(features('--probes').stdout);
    expect({ ...again, probes: { ...again.probes, seconds: 0 } }).toEqual({ ...report, probes: { ...report.probes, seconds: 0 } });
  });

  it('caps the training rows and the epochs as asked, and says so', () => {
    const r = features('--probes', '--probe-rows', '700', '--probe-epochs', '3');
    expect(r.code, r.stderr).toBe(0);
    const { probes } = JSON.parse(r.stdout);
    expect(probes).toMatchObject({ trainRows: 700, maxRows: 700, epochs: 3 });
    expect(probes.trainRowsAvailable).toBeGreaterThan(700);
    expect(r.stderr).toMatch(/fit on 700 training rows \(capped from \d+\) for 3 epochs/);
  });

  it('refuses --probes with --rows all: there would be no rows to score the probes on', () => {
    const r = features('--probes', '--rows', 'all');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --probes needs --rows held-out/);
  });
});
