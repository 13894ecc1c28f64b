// npm run test:mutants — deliberate shader mutations, applied one at a time; each must make a test fail.
// A mutation the tests do not catch means a kernel property nothing checks. Prints a table; exits 1 if any
// mutation survives. Every file is restored afterwards (also on Ctrl-C).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Mutation {
  name: string;
  file: string;
  from: string;
  to: string;
  /** the tests that must catch it, where not all of TESTS */
  tests?: string[];
}

/** the language model's kernels are checked by their own tests, not the SAE trainer's */
const LM_TESTS = ['test/kernels/transformer.test.ts', 'test/model'];
/** the inference forms of imported SAEs: SAELens's own outputs and the float64 reference on other shapes */
const FORM_TESTS = ['test/data/saelens6-inference.test.ts', 'test/data/saelens-forms.test.ts'];
const JUMP_TESTS = ['test/engine/jumprelu-trainer.test.ts'];
const BATCH_TESTS = ['test/engine/batchtopk-trainer.test.ts'];

const MUTATIONS: Mutation[] = [
  { name: 'matmul: wrong index into A', file: 'matmul.wgsl', from: 'return A[m * dims.K + k];', to: 'return A[m * dims.K + (k + 1u) % dims.K];' },
  { name: 'matmul: bias dropped', file: 'matmul.wgsl', from: 'value += bias[n];', to: 'value += 0.0;' },
  { name: 'matmul vec4: wrong column block of A (TRANS_A)', file: 'matmul.wgsl', from: 'let a = A4[ai];', to: 'let a = A4[ai + 1u];' },
  { name: 'matmul vec4: last k of each group of 4 dropped', file: 'matmul.wgsl', from: 'fma(vec4f(a.w), b3, fma(vec4f(a.z)', to: 'fma(vec4f(0.0), b3, fma(vec4f(a.z)' },
  { name: 'matmul vec8x8: second column block reads B\'s row k for k + 1', file: 'matmul.wgsl', from: 'let c1 = B4[bi + bs + 1u];', to: 'let c1 = B4[bi + 1u];' },
  { name: 'matmul vec4: B stepped three rows instead of four', file: 'matmul.wgsl', from: 'bi += 4u * bs;', to: 'bi += 3u * bs;' },
  { name: 'rows: residual gradient missing 2/B', file: 'rows.wgsl', from: 'G[i] = u.coef * e;', to: 'G[i] = e;' },
  { name: 'standard: λ‖W_dec‖ term of ∂L/∂pre dropped', file: 'standard.wgsl', from: 'dF[idx] + u.lam_over_B * norms[i]', to: 'dF[idx]' },
  { name: 'standard: decoder-norm penalty gradient dropped', file: 'standard.wgsl', from: ' + u.lam_over_B * fsum[i] * W_dec[idx] / norms[i]', to: '' },
  { name: 'standard: ReLU mask uses ≥ 0', file: 'standard.wgsl', from: 'if (f[idx] > 0.0)', to: 'if (f[idx] >= 0.0)' },
  { name: 'adam: bias correction of v missing', file: 'adam.wgsl', from: 'm / (sqrt(v) / u.sqrt_bc2 + vec4f(u.eps))', to: 'm / (sqrt(v) + vec4f(u.eps))' },
  { name: 'adam: second moment not squared', file: 'adam.wgsl', from: '(1.0 - u.beta2) * g * g', to: '(1.0 - u.beta2) * g' },
  { name: 'adam: clip factor ignored', file: 'adam.wgsl', from: 'let g = stats[1] * grads[i];', to: 'let g = grads[i];' },
  { name: 'reduce: clip never scales', file: 'reduce.wgsl', from: 'stats[1] = min(1.0, flat.clip / (norm + 1e-6));', to: 'stats[1] = 1.0;' },
  { name: 'reduce: colsum skips the last row', file: 'reduce.wgsl', from: 'for (var m = 0u; m < cols.M; m++)', to: 'for (var m = 0u; m + 1u < cols.M; m++)' },
  { name: 'sparse: missing barrier in the prefix scan', file: 'sparse.wgsl', from: '    if (lane >= stride) { add = part[lane - stride]; }\n    workgroupBarrier();', to: '    if (lane >= stride) { add = part[lane - stride]; }' },
  { name: 'sparse: ∂b_dec loses −Σh W_encᵀ', file: 'sparse.wgsl', from: 'gb_dec[j] = s - t;', to: 'gb_dec[j] = s;' },
  { name: 'sparse: groups left unsorted', file: 'sparse.wgsl', from: 'while (q > start && lists[q - 1u] > e)', to: 'while (false)' },
  { name: 'sparse: h_quads loses its fourth entry', file: 'sparse.wgsl', from: 'h[e0 + 3u] = out.w;', to: 'h[e0 + 3u] = 0.0;' },
  { name: 'sparse: dwdec_wide adds a quad\'s neighbour', file: 'sparse.wgsl', from: 's3 += w * gvec4[g + o.w];', to: 's3 += w * gvec4[g + o.z];' },
  { name: 'sparse: dwenc_wide lanes of a group take one run', file: 'sparse.wgsl', from: 'let run = (t / 4u / u.F) * 4u + t % 4u;', to: 'let run = (t / 4u / u.F) * 4u;' },
  { name: 'topk: decode_wide stores a run\'s eighth quad from the seventh', file: 'topk.wgsl', from: 'put_quad(b, q + 7u, s7);', to: 'put_quad(b, q + 7u, s6);' },
  { name: 'topk: shards: merge_topk skips the first shard\'s best candidate', file: 'topk.wgsl', from: 'for (var c = 0u; c < su.F; c++) {', to: 'for (var c = 1u; c < su.F; c++) {' },
  { name: 'topk: shards: decode_wide takes every shard\'s picks', file: 'topk.wgsl', from: 'if (l >= du.Fs) { continue; }', to: 'if (l == 0xffffffffu) { continue; }' },
  { name: 'sparse: shards: every shard writes every h', file: 'sparse.wgsl', from: 'fn writes_h(e: u32) -> bool { return owned(e) || (u.f0 == 0u && !carries(e)); }', to: 'fn writes_h(e: u32) -> bool { return true; }' },
  { name: 'sparse: shards: dbdec forgets the shards before', file: 'sparse.wgsl', from: 'if (ACCUMULATE) { s = gb_dec[j]; }', to: 'if (ACCUMULATE) { s = 0.0; }' },
  { name: 'matmul: shards: the decoder overwrites the shards before', file: 'matmul.wgsl', from: 'if (ACCUMULATE) { value += C4[o]; }', to: '' },
  { name: 'stats: shards: row_stats forgets the shards before', file: 'stats.wgsl', from: 'if (u.acc != 0u) { l0 += rowl0[b]; l1 += rowterm[b]; }', to: '' },
  { name: 'topk: selection drops the fourth candidate of each unit of four', file: 'topk.wgsl', from: 'vec4u(1u, 2u, 4u, 8u)', to: 'vec4u(1u, 2u, 4u, 0u)' },
  { name: 'topk: selection prefers the smaller value', file: 'topk.wgsl', from: 'return v > w || (v == w && i < j);', to: 'return v < w || (v == w && i < j);' },
  { name: 'topk: ties broken towards the higher index', file: 'topk.wgsl', from: 'return v > w || (v == w && i < j);', to: 'return v > w || (v == w && i > j);' },
  { name: 'topk: AuxK gradient dropped', file: 'topk.wgsl', from: 'Gaux[t] = stats_in[3] *', to: 'Gaux[t] = 0.0 *' },
  { name: 'topk: AuxK variance uses B − 1', file: 'topk.wgsl', from: 'let ve = tree_total(lane, s) / f32(au.B);', to: 'let ve = tree_total(lane, s) / f32(au.B - 1u);' },
  { name: 'norms: gradient not projected', file: 'norms.wgsl', from: 'gW_dec[i * u.d + j] -= dot * W_dec[i * u.d + j];', to: 'gW_dec[i * u.d + j] -= 0.0 * dot;' },
  { name: 'norms: rows not renormalised', file: 'norms.wgsl', from: 'let inv = 1.0 / sqrt(sq);', to: 'let inv = 1.0;' },
  { name: 'norms: vec4 gradient not projected', file: 'norms.wgsl', from: 'gW_dec4[row + j] -= t * W_dec4[row + j];', to: 'gW_dec4[row + j] -= 0.0 * W_dec4[row + j];' },
  { name: 'norms: vec4 rows not renormalised', file: 'norms.wgsl', from: 'let inv = 1.0 / sqrt(total(sq));', to: 'let inv = 1.0;' },
  { name: 'rows: shards: place puts every shard at the first one\'s columns', file: 'rows.wgsl', from: 'wide[b * pl.F + pl.f0 + i % pl.Fs] = part[i];', to: 'wide[b * pl.F + i % pl.Fs] = part[i];' },
  { name: 'stats: dead window off by one', file: 'stats.wgsl', from: 'u.step - lastFired[i] >= u.dead_steps', to: 'u.step - lastFired[i] > u.dead_steps' },
  { name: 'stats: last-fired step off by one', file: 'stats.wgsl', from: 'if (c > 0u) { lastFired[i] = u.step + 1u; }\n}\n\n@compute @workgroup_size(64)\nfn fire_sparse', to: 'if (c > 0u) { lastFired[i] = u.step; }\n}\n\n@compute @workgroup_size(64)\nfn fire_sparse' },
  { name: 'embed: learned positions read from position 0 instead of pos0', file: 'embed.wgsl', from: 'wpe[(u.pos0 + r % u.T) * u.d + j]', to: 'wpe[(r % u.T) * u.d + j]', tests: LM_TESTS },
  { name: 'lmnorm: layernorm bias dropped', file: 'lmnorm.wgsl', from: 'if (!RMS) { y += b[j]; }', to: '', tests: LM_TESTS },
  { name: 'lmnorm: variance without eps', file: 'lmnorm.wgsl', from: 'sq / f32(u.d) + u.eps', to: 'sq / f32(u.d)', tests: LM_TESTS },
  { name: 'lmnorm: variance around zero, not the mean', file: 'lmnorm.wgsl', from: 'let c = X[base + j] - mean; sq += c * c;', to: 'let c = X[base + j]; sq += c * c;', tests: LM_TESTS },
  { name: 'mlp: GELU tanh form loses its cubic term', file: 'mlp.wgsl', from: '(x + 0.044715 * x * x * x)', to: '(x)', tests: LM_TESTS },
  { name: 'mlp: gate and up swapped', file: 'mlp.wgsl', from: 'H[i] = act(U[r * 2u * u.dFf + j]) * U[r * 2u * u.dFf + u.dFf + j];', to: 'H[i] = U[r * 2u * u.dFf + j] * act(U[r * 2u * u.dFf + u.dFf + j]);', tests: LM_TESTS },
  { name: 'attention: rotary turns the other way', file: 'attention.wgsl', from: 'QKV[base + k] = x0 * c - x1 * s;', to: 'QKV[base + k] = x0 * c + x1 * s;', tests: LM_TESTS },
  { name: 'attention: a query sees one position past itself', file: 'attention.wgsl', from: 'for (var s = 0u; s <= p; s++) {', to: 'for (var s = 0u; s <= min(p + 1u, u.ctx - 1u); s++) {', tests: LM_TESTS },
  { name: 'attention: every query head reads key/value head 0', file: 'attention.wgsl', from: 'let kvh = h / (u.nH / u.nKv);', to: 'let kvh = 0u;', tests: LM_TESTS },
  { name: 'attention: the sum not rescaled when the maximum grows', file: 'attention.wgsl', from: 'sum = sum * keep + e;', to: 'sum = sum + e;', tests: LM_TESTS },
  { name: 'attention: the output not rescaled when the maximum grows', file: 'attention.wgsl', from: 'acc[k] = fma(acc[k], keep, e * Vr[kv + k]);', to: 'acc[k] = acc[k] + e * Vr[kv + k];', tests: LM_TESTS },
  { name: 'attention: scores not scaled', file: 'attention.wgsl', from: 'q[k] = Q[q0 + k] * u.scale;', to: 'q[k] = Q[q0 + k];', tests: LM_TESTS },
  { name: 'attention: values cached from the key head', file: 'attention.wgsl', from: 'Vc[slot + k] = QKV[vbase + k];', to: 'Vc[slot + k] = QKV[base + k];', tests: LM_TESTS },
  { name: 'residual: add_vector adds the wrong coordinate', file: 'residual.wgsl', from: 'X[i] += v[i % u.d];', to: 'X[i] += v[(i + 1u) % u.d];', tests: LM_TESTS },
  { name: 'splice: the error term kept when it should be dropped', file: 'splice.wgsl', from: 'if (!ERROR_TERM) { x = Xhat[i]; }', to: '', tests: LM_TESTS },
  { name: 'splice: special tokens replaced too', file: 'splice.wgsl', from: 'if (keep[r] == 1u) {', to: 'if (false) {', tests: LM_TESTS },
  { name: 'splice: a clamp moves by the target, not by target − f', file: 'splice.wgsl', from: 'coef[i] = clampTo[c] - now;', to: 'coef[i] = clampTo[c];', tests: LM_TESTS },
  { name: 'splice: TopK clamp reads the first kept entry', file: 'splice.wgsl', from: 'if (idx[r * u.k + j] == f) { now = val[r * u.k + j]; }', to: 'if (idx[r * u.k + j] == f) { now = val[r * u.k]; }', tests: LM_TESTS },
  { name: 'splice: steering not added at special tokens', file: 'splice.wgsl', from: 'X[i] = x + steer[j];', to: 'X[i] = x;', tests: LM_TESTS },
  { name: 'jumprelu: threshold compared with ≥', file: 'jumprelu.wgsl', from: 'v > theta[i % ju.F]', to: 'v >= theta[i % ju.F] - 0.05', tests: FORM_TESTS },
  { name: 'jumprelu: ReLU dropped under a negative threshold', file: 'jumprelu.wgsl', from: 'select(0.0, max(v, 0.0),', to: 'select(0.0, v,', tests: FORM_TESTS },
  { name: 'jumprelu train: the threshold\'s pseudo-derivative through f dropped', file: 'jumprelu.wgsl', from: 'gt -= grad_f(k, i) * (th / jt.eps) * K;', to: '', tests: JUMP_TESTS },
  { name: 'jumprelu train: the step penalty\'s gradient dropped', file: 'jumprelu.wgsl', from: 'gt -= jt.c_B * K / jt.eps;', to: '', tests: JUMP_TESTS },
  { name: 'jumprelu train: tanh penalty missing from ∂L/∂f', file: 'jumprelu.wgsl', from: 'g += jt.c_B * jt.s * norms[i] * (1.0 - t * t);', to: '', tests: JUMP_TESTS },
  { name: 'jumprelu train: pre-activation loss missing from ∂L/∂pre', file: 'jumprelu.wgsl', from: 'if (PRE_ACT && dead[i] != 0u && th > p) { g -= jt.a_B * norms[i]; }', to: '', tests: JUMP_TESTS },
  { name: 'jumprelu train: ∂ log θ without the chain rule', file: 'jumprelu.wgsl', from: 'g_log_theta[i] = gt * th;', to: 'g_log_theta[i] = gt;', tests: JUMP_TESTS },
  { name: 'jumprelu train: a feature passes at its threshold', file: 'jumprelu.wgsl', from: 'f[k] = select(0.0, p, p > exp(log_theta[k % jt.F]));', to: 'f[k] = select(0.0, p, p >= exp(log_theta[k % jt.F]) - 0.01);', tests: JUMP_TESTS },
  { name: 'batchtopk: nothing below the threshold zeroed', file: 'batchtopk.wgsl', from: 'if (b < lo) { pvals', to: 'if (b < 0u) { pvals', tests: BATCH_TESTS },
  { name: 'batchtopk: the bisection ends one step early', file: 'batchtopk.wgsl', from: 'for (var it = 0u; it < 32u; it++)', to: 'for (var it = 0u; it < 20u; it++)', tests: BATCH_TESTS },
  { name: 'batchtopk: rows read without their AuxK slots\' stride', file: 'batchtopk.wgsl', from: 'let v = pvals[(e / bu.K) * bu.S + e % bu.K];', to: 'let v = pvals[e];', tests: BATCH_TESTS },
  { name: 'batchtopk: the moving average ignores this batch', file: 'batchtopk.wgsl', from: 'bstate[0] = (1.0 - bu.lr) * bstate[0] + bu.lr * bitcast<f32>(m);', to: 'bstate[0] = bstate[0];', tests: BATCH_TESTS },
  { name: 'matryoshka: an inner residual without its coefficient', file: 'matryoshka.wgsl', from: 'acc += nu.coef * e;', to: 'acc += e;', tests: BATCH_TESTS },
  { name: 'matryoshka: each group takes the next group\'s gradient', file: 'matryoshka.wgsl', from: 'G[(g - 1u) * nu.blk + i] = acc;', to: 'G[g * nu.blk + i] = acc;', tests: BATCH_TESTS },
  { name: 'matryoshka: every entry reads the full reconstruction\'s gradient', file: 'sparse.wgsl', from: 'if (NESTED) { return gblock[picks[e]] + b * u.d; }', to: 'if (NESTED) { return b * u.d; }', tests: BATCH_TESTS },
  { name: 'matryoshka: the inner losses left out of the loss', file: 'stats.wgsl', from: 'recon + sparsity + inner_t * lu.inv_v / B;', to: 'recon + sparsity;', tests: BATCH_TESTS },
  { name: 'rownorm: layer_norm without Bessel\'s correction', file: 'rownorm.wgsl', from: 'ss / f32(rn.d - 1u)', to: 'ss / f32(rn.d)', tests: FORM_TESTS },
  { name: 'rownorm: ε added on the way out too', file: 'rownorm.wgsl', from: '    c = s;', to: '    c = s + 1e-5;', tests: FORM_TESTS },
  { name: 'rownorm: the mean not added back', file: 'rownorm.wgsl', from: 'Xhat[i] * coef[3u * b + 2u] + coef[3u * b];', to: 'Xhat[i] * coef[3u * b + 2u];', tests: FORM_TESTS },
  { name: 'residual: take_last takes the first position', file: 'residual.wgsl', from: 'dst[i] = src[(b * u.T + u.T - 1u) * u.d + i % u.d];', to: 'dst[i] = src[(b * u.T) * u.d + i % u.d];', tests: LM_TESTS },
];

const TESTS = ['test/kernels', 'test/engine/trainer.test.ts', 'test/engine/fixtures.test.ts', 'test/engine/evaluate.test.ts'];
// MUTANTS=text[,text…]: only the mutations whose name contains one of them (checking new ones without the
// ~35-minute run)
const ONLY = process.env.MUTANTS ?? '';
const SHADERS = join(import.meta.dirname, '../shaders');
const originals = new Map<string, string>();
const restore = () => {
  for (const [path, text] of originals) writeFileSync(path, text);
};
process.on('SIGINT', () => {
  restore();
  process.exit(130);
});

function runTests(tests = TESTS): { passed: boolean; failed: number } {
  const r = spawnSync('npx', ['vitest', 'run', ...tests], { encoding: 'utf8', env: { ...process.env, SAE_TEST_SEED: '1234' } });
  const m = /Tests\s+.*?(\d+) failed/.exec(r.stdout.replace(/\x1b\[[0-9;]*m/g, ''));
  return { passed: r.status === 0, failed: m ? Number(m[1]) : 0 };
}

const SELECTED = MUTATIONS.filter((m) => ONLY.split(',').some((o) => m.name.includes(o)));
// the baseline runs what the selected mutations will run
const baseline = runTests([...new Set(SELECTED.flatMap((m) => m.tests ?? TESTS))]);
if (!baseline.passed) {
  console.error('the tests fail without any mutation; fix them first');
  process.exit(1);
}
const rows: string[] = [];
let survivors = 0;
try {
  for (const mut of SELECTED) {
    const path = join(SHADERS, mut.file);
    const text = readFileSync(path, 'utf8');
    originals.set(path, text);
    if (!text.includes(mut.from)) throw new Error(`mutation '${mut.name}': text not found in ${mut.file}`);
    writeFileSync(path, text.replace(mut.from, mut.to));
    const r = runTests(mut.tests);
    writeFileSync(path, text);
    if (r.passed) survivors++;
    const row = `| ${mut.name} | ${mut.file} | ${r.passed ? 'NO — survived' : `yes (${r.failed} failing)`} |`;
    rows.push(row);
    console.error(row);
  }
} finally {
  restore();
}
console.log(['| mutation | shader | caught |', '|---|---|---|', ...rows].join('\n'));
console.log(`${rows.length - survivors} of ${rows.length} mutations caught`);
process.exitCode = survivors === 0 ? 0 : 1;
