// The dictionary map's layout from a neighbour graph: two well-separated clusters of decoder directions
// stay apart in 2-D, a seed reproduces a map exactly, tiny dictionaries still get finite maps, and the fit
// reports progress and can be cancelled. The graphs come from the float64 reference search (no GPU here).
import { describe, expect, it } from 'vitest';
import { umapLayout, type NeighbourGraph } from '../../src/analysis/umap-layout.ts';
import { neighbours64 } from '../../src/reference/neighbours.ts';
import { randomArray } from '../support/gpu.ts';

const d = 16;

/** Two clusters of `half` directions each: a random centre per cluster plus small noise. */
function twoClusters(half: number, seed: number): Float32Array {
  const centres = randomArray(2 * d, seed);
  const noise = randomArray(2 * half * d, seed + 1, -0.1, 0.1);
  return noise.map((x, t) => x + centres[Math.floor(t / d / half) * d + (t % d)]!);
}

function graphOf(W: Float32Array, F: number, K: number): NeighbourGraph {
  const ref = neighbours64(W, F, d, K);
  return { idx: ref.idx, sim: Float32Array.from(ref.sim), F, K };
}

function dist(p: Float32Array, a: number, b: number): number {
  return Math.hypot(p[2 * a]! - p[2 * b]!, p[2 * a + 1]! - p[2 * b + 1]!);
}

const xs = (map: Float32Array) => map.filter((_, t) => t % 2 === 0);

function correlation(a: Float32Array, b: Float32Array): number {
  const mean = (v: Float32Array) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('umapLayout', () => {
  const half = 40;
  const F = 2 * half;
  const graph = graphOf(twoClusters(half, 11), F, 10);

  it('keeps two clusters of directions apart, reproducibly', async () => {
    const map = await umapLayout(graph, { seed: 3, nEpochs: 150 });
    expect(map.length).toBe(2 * F);
    expect(map.every(Number.isFinite)).toBe(true);
    let intra = 0;
    let nIntra = 0;
    let inter = 0;
    let nInter = 0;
    for (let a = 0; a < F; a++) {
      for (let b = a + 1; b < F; b++) {
        if (Math.floor(a / half) === Math.floor(b / half)) {
          intra += dist(map, a, b);
          nIntra++;
        } else {
          inter += dist(map, a, b);
          nInter++;
        }
      }
    }
    expect(inter / nInter).toBeGreaterThan(3 * (intra / nIntra));

    expect(await umapLayout(graph, { seed: 3, nEpochs: 150 })).toEqual(map);
    expect(await umapLayout(graph, { seed: 4, nEpochs: 150 })).not.toEqual(map);
  });

  it('starts from an earlier map when given one', async () => {
    const first = await umapLayout(graph, { seed: 3, nEpochs: 50 });
    // Mirrored, shifted and scaled: a start the random one would never give, so it must show in the result.
    const previous = first.map((x, t) => (t % 2 ? x : -x) * 3 + 100);
    const again = await umapLayout(graph, { seed: 3, nEpochs: 20, previous });
    expect(again.every(Number.isFinite)).toBe(true);
    expect(again).toEqual(await umapLayout(graph, { seed: 3, nEpochs: 20, previous }));
    expect(again).not.toEqual(await umapLayout(graph, { seed: 3, nEpochs: 20 }));
    // 20 epochs move points, but the mirrored arrangement survives: x stays anti-correlated with the first map.
    expect(correlation(xs(again), xs(first))).toBeLessThan(-0.5);
    await expect(umapLayout(graph, { seed: 3, previous: new Float32Array(4) })).rejects.toThrow('the previous map has 2 points, expected 80');
  });

  it('lays out tiny dictionaries: finite, one point per feature, never two on top of each other', async () => {
    for (const n of [1, 2, 3, 4, 5, 8, 17]) {
      // K above n − 1: the graph is padded with NONE, as the GPU search pads it.
      const map = await umapLayout(graphOf(twoClusters(n, 5).subarray(0, n * d), n, 15), { seed: 1, nEpochs: 100 });
      expect(map.length, `F=${n}`).toBe(2 * n);
      expect(map.every(Number.isFinite), `F=${n}`).toBe(true);
      for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) expect(dist(map, a, b), `F=${n}: ${a}, ${b}`).toBeGreaterThan(0);
    }
  });

  it('reports progress up to the last epoch and stops when cancelled', async () => {
    const seen: number[] = [];
    await umapLayout(graph, { seed: 1, nEpochs: 60 }, { sliceMs: 0, onProgress: (p) => seen.push(p.epoch / p.epochs) });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.at(-1)).toBe(1);

    const abort = new AbortController();
    const stopped = umapLayout(graph, { seed: 1, nEpochs: 10_000 }, { sliceMs: 0, signal: abort.signal, onProgress: (p) => p.epoch >= 5 && abort.abort() });
    await expect(stopped).rejects.toThrow(/abort/i);
  });

  it('refuses a malformed graph', async () => {
    const bad = { ...graph, idx: graph.idx.slice() };
    bad.idx[3 * graph.K] = 3; // feature 3 listed as its own neighbour
    await expect(umapLayout(bad, { seed: 1 })).rejects.toThrow("feature 3's neighbour 0 (index 3");
    await expect(umapLayout({ ...graph, K: 9 }, { seed: 1 })).rejects.toThrow('expected 80×9');
  });
});
