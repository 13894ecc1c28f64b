// Scaling laws over a sweep of runs (the seed's first result): the compute-efficient frontier — the runs
// whose loss no run of less compute beats — and a fit of the frontier to L(C) = a·C^(−α) + L∞ with standard
// errors from the fit's Jacobian (docs/RECIPE.md §10). Pure functions of the runs' numbers.

export interface ScalingPoint {
  /** training compute, FLOPs (steps × the step's FLOPs) */
  compute: number;
  /** final held-out loss */
  loss: number;
}

export interface PowerLawFit {
  a: number;
  alpha: number;
  lInf: number;
  /** standard errors of a, α and L∞; null when the fit has no residual degrees of freedom (≤ 3 points) */
  se: { a: number; alpha: number; lInf: number } | null;
  /** root-mean-square residual of the loss */
  rms: number;
  points: number;
}

/** the runs on the compute-efficient frontier, by compute: each has a lower loss than every run of less compute */
export function frontier<T extends ScalingPoint>(runs: readonly T[]): T[] {
  const sorted = [...runs].filter((r) => Number.isFinite(r.loss) && r.compute > 0).sort((x, y) => x.compute - y.compute || x.loss - y.loss);
  const out: T[] = [];
  for (const r of sorted) if (out.length === 0 || r.loss < out[out.length - 1]!.loss) out.push(r);
  return out;
}

const predict = (c: number, a: number, alpha: number, lInf: number) => a * Math.pow(c, -alpha) + lInf;

/** log-space least squares of log(L − L∞) = log a − α·log C at a fixed L∞ */
function fitAt(points: readonly ScalingPoint[], lInf: number): { a: number; alpha: number; sse: number } {
  const xs = points.map((p) => Math.log(p.compute));
  const ys = points.map((p) => Math.log(p.loss - lInf));
  const n = xs.length;
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const alpha = -sxy / sxx;
  const a = Math.exp(my + alpha * mx);
  const sse = points.reduce((s, p) => s + (p.loss - predict(p.compute, a, alpha, lInf)) ** 2, 0);
  return { a, alpha, sse };
}

/**
 * Fits L(C) = a·C^(−α) + L∞ to at least three points of distinct compute and loss. L∞ is profiled over
 * [0, min L) (for each, a and α by least squares in log space), then the three are refined together by
 * Gauss–Newton on the squared loss residuals; their standard errors are s·√diag((JᵀJ)⁻¹), s² = SSE/(n − 3).
 */
export function fitPowerLaw(points: readonly ScalingPoint[]): PowerLawFit {
  const pts = points.filter((p) => p.compute > 0 && Number.isFinite(p.loss) && p.loss > 0);
  if (new Set(pts.map((p) => p.compute)).size < 3) throw new RangeError(`a power-law fit needs at least 3 runs of different compute, got ${new Set(pts.map((p) => p.compute)).size}`);
  const minL = Math.min(...pts.map((p) => p.loss));
  let best = { ...fitAt(pts, 0), lInf: 0 };
  const GRID = 400;
  for (let g = 1; g < GRID; g++) {
    const lInf = (minL * g) / GRID;
    const f = fitAt(pts, lInf);
    if (f.sse < best.sse) best = { ...f, lInf };
  }
  // Gauss–Newton in (log a, α, L∞), from the profile's best
  let theta = [Math.log(best.a), best.alpha, best.lInf];
  const resid = (t: number[]) => pts.map((p) => p.loss - predict(p.compute, Math.exp(t[0]!), t[1]!, t[2]!));
  const sse = (t: number[]) => resid(t).reduce((s, r) => s + r * r, 0);
  const jacobian = (t: number[]) => pts.map((p) => {
    const term = Math.exp(t[0]!) * Math.pow(p.compute, -t[1]!);
    return [term, -term * Math.log(p.compute), 1]; // ∂pred/∂(log a), ∂pred/∂α, ∂pred/∂L∞
  });
  for (let it = 0; it < 50; it++) {
    const J = jacobian(theta);
    const r = resid(theta);
    const inv = invert3(normal(J));
    if (!inv) break;
    const jtr = [0, 1, 2].map((c) => J.reduce((s, row, i) => s + row[c]! * r[i]!, 0));
    const step = [0, 1, 2].map((c) => inv[c]!.reduce((s, v, k) => s + v * jtr[k]!, 0));
    let scale = 1;
    let next = theta.map((v, c) => v + step[c]!);
    while (scale > 1e-6 && !(sse(next) <= sse(theta) && next[2]! < minL)) {
      scale /= 2;
      next = theta.map((v, c) => v + scale * step[c]!);
    }
    if (scale <= 1e-6) break;
    const done = Math.abs(sse(theta) - sse(next)) <= 1e-15 * Math.max(1e-300, sse(theta));
    theta = next;
    if (done) break;
  }
  const n = pts.length;
  const total = sse(theta);
  const a = Math.exp(theta[0]!);
  let se: PowerLawFit['se'] = null;
  const inv = invert3(normal(jacobian(theta)));
  if (n > 3 && inv) {
    const s2 = total / (n - 3);
    // a's error through log a: se(a) = a·se(log a)
    se = { a: a * Math.sqrt(s2 * inv[0]![0]!), alpha: Math.sqrt(s2 * inv[1]![1]!), lInf: Math.sqrt(s2 * inv[2]![2]!) };
  }
  return { a, alpha: theta[1]!, lInf: theta[2]!, se, rms: Math.sqrt(total / n), points: n };
}

/** JᵀJ of an n × 3 Jacobian */
function normal(J: number[][]): number[][] {
  return [0, 1, 2].map((r) => [0, 1, 2].map((c) => J.reduce((s, row) => s + row[r]! * row[c]!, 0)));
}

/** the inverse of a 3 × 3 matrix, or null when it is singular */
function invert3(m: number[][]): number[][] | null {
  const [[a, b, c], [d, e, f], [g, h, i]] = m as [[number, number, number], [number, number, number], [number, number, number]];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-300) return null;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

/** the frontier's compute-optimal dictionary size at each compute: the size of the frontier run there */
export function bestSizes<T extends ScalingPoint & { features: number }>(runs: readonly T[]): { compute: number; features: number }[] {
  return frontier(runs).map((r) => ({ compute: r.compute, features: r.features }));
}

/** the power law of the runs' frontier, where it has the 3 points of distinct compute a fit needs; else null */
export function fitFrontier(runs: readonly ScalingPoint[]): PowerLawFit | null {
  const front = frontier(runs);
  return new Set(front.map((r) => r.compute)).size >= 3 ? fitPowerLaw(front) : null;
}
