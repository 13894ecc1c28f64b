// Every WGSL source the engine runs, one family per file in shaders/ (imported as text).
import adam from '../../shaders/adam.wgsl?raw';
import attention from '../../shaders/attention.wgsl?raw';
import batchtopk from '../../shaders/batchtopk.wgsl?raw';
import embed from '../../shaders/embed.wgsl?raw';
import featurestats from '../../shaders/featurestats.wgsl?raw';
import jumprelu from '../../shaders/jumprelu.wgsl?raw';
import matryoshka from '../../shaders/matryoshka.wgsl?raw';
import matmul from '../../shaders/matmul.wgsl?raw';
import matmulSubgroups from '../../shaders/matmul-subgroups.wgsl?raw';
import mlp from '../../shaders/mlp.wgsl?raw';
import lmnorm from '../../shaders/lmnorm.wgsl?raw';
import neighbours from '../../shaders/neighbours.wgsl?raw';
import norms from '../../shaders/norms.wgsl?raw';
import reduce from '../../shaders/reduce.wgsl?raw';
import residual from '../../shaders/residual.wgsl?raw';
import splice from '../../shaders/splice.wgsl?raw';
import rownorm from '../../shaders/rownorm.wgsl?raw';
import rows from '../../shaders/rows.wgsl?raw';
import sparse from '../../shaders/sparse.wgsl?raw';
import standard from '../../shaders/standard.wgsl?raw';
import stats from '../../shaders/stats.wgsl?raw';
import topk from '../../shaders/topk.wgsl?raw';

export const SHADERS = {
  adam, batchtopk, featurestats, matmul, matryoshka, neighbours, norms, reduce, rows, sparse, standard, stats, topk,
  // the inference forms of imported SAEs (src/engine/evaluate.ts)
  jumprelu, rownorm,
  // the language model's forward pass (src/model/)
  attention, embed, lmnorm, mlp, residual, splice,
  // compiled only on devices with the subgroups feature (the `enable` fails elsewhere)
  matmul_subgroups: `enable subgroups;\n${matmul}\n${matmulSubgroups}`,
} as const;
export type ShaderName = keyof typeof SHADERS;
