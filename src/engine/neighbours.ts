// Nearest neighbours of decoder directions on the GPU (shaders/neighbours.wgsl): for every feature, its K
// most similar other features by cosine of their W_dec rows. The dictionary map lays out this graph.
import { Kernel, dispatch, encodeDispatches, flatGrid, readBuffer, storage, writeArray, type Resource } from './kernel.ts';

/** Each feature's list lives in private GPU memory while it is built, so K is capped (see the shader). */
export const NEIGHBOURS_MAX_K = 32;
/** Index of a padding slot: a feature with fewer than K others (F ≤ K). */
export const NEIGHBOUR_NONE = 0xffffffff;

/** Row i holds feature i's neighbours, nearest first: idx (F×K) and their cosines sim (F×K). */
export interface Neighbours {
  idx: Uint32Array;
  sim: Float32Array;
}

export interface NeighbourBuffers {
  /** (F, d) decoder rows: a whole buffer or a binding of one segment of a larger one */
  W_dec: Resource;
  /** (F) scratch */
  inv_norm: GPUBuffer;
  /** (F, K) outputs */
  nbr_idx: GPUBuffer;
  nbr_sim: GPUBuffer;
}

export interface NeighbourOptions {
  /**
   * Rows per dispatch (a multiple of 64). By default a dispatch does at most about 2³¹ multiply-adds, so
   * that a large dictionary on a slow GPU never holds the queue long enough to trip the driver's watchdog.
   */
  chunkRows?: number;
}

const ROWS_PER_GROUP = 64;
const CHUNK_MADDS = 2 ** 31;

function checkArgs(F: number, d: number, K: number): void {
  for (const [name, v] of [['F', F], ['d', d], ['K', K]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`decoderNeighbours: ${name} must be a positive integer, got ${v}`);
  }
  if (K > NEIGHBOURS_MAX_K) {
    throw new Error(`decoderNeighbours: K = ${K} is above the cap of ${NEIGHBOURS_MAX_K} neighbours per feature`);
  }
}

/**
 * Encodes and submits the search on buffers the caller owns (chunked, one submission per chunk).
 * Returns the uniform buffer it wrote, for the caller to destroy once the results have been read.
 */
export function submitNeighbours(device: GPUDevice, bufs: NeighbourBuffers, F: number, d: number, K: number, opts: NeighbourOptions = {}): GPUBuffer {
  checkArgs(F, d, K);
  const chunkRows =
    opts.chunkRows ?? Math.max(1, Math.floor(CHUNK_MADDS / (F * d * ROWS_PER_GROUP))) * ROWS_PER_GROUP;
  if (!Number.isInteger(chunkRows) || chunkRows < ROWS_PER_GROUP || chunkRows % ROWS_PER_GROUP !== 0) {
    throw new Error(`decoderNeighbours: chunkRows must be a positive multiple of ${ROWS_PER_GROUP}, got ${chunkRows}`);
  }
  const norms = Kernel.get(device, 'neighbours', 'inv_norms');
  const search = Kernel.get(device, 'neighbours', 'search');
  const nu = search.uniform('nu', { F, d, K, row0: 0 });
  const res = { nu: nu.buffer, W_dec: bufs.W_dec, inv_norm: bufs.inv_norm, inv_norm_in: bufs.inv_norm, nbr_idx: bufs.nbr_idx, nbr_sim: bufs.nbr_sim };
  const searchGroup = search.bind(res);
  for (let row0 = 0; row0 < F; row0 += chunkRows) {
    // writeBuffer is ordered with submit on the queue, so each chunk sees its own row0 in the one uniform.
    if (row0 > 0) nu.write({ F, d, K, row0 });
    const enc = device.createCommandEncoder({ label: 'neighbours' });
    const pass = enc.beginComputePass();
    if (row0 === 0) encodeDispatches(pass, [dispatch(norms, res, flatGrid(F))]);
    pass.setPipeline(search.pipeline);
    pass.setBindGroup(0, searchGroup);
    pass.dispatchWorkgroups(...flatGrid(Math.min(chunkRows, F - row0), ROWS_PER_GROUP));
    pass.end();
    device.queue.submit([enc.finish()]);
  }
  return nu.buffer;
}

/** Whether the neighbour search can bind this W_dec (F×d) whole, as it does. */
export function decoderFits(F: number, d: number, limits: GPUSupportedLimits): boolean {
  return F * d * 4 <= Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

/**
 * Each feature's K nearest other features by cosine similarity of decoder rows (larger first, ties to the
 * lower index; a zero row has cosine 0 with everything). `wdec` is F×d row-major, on the CPU or already on
 * this device. Everything it allocates is destroyed before it returns.
 */
export async function decoderNeighbours(
  device: GPUDevice,
  wdec: Float32Array | GPUBuffer | GPUBufferBinding,
  F: number,
  d: number,
  K: number,
  opts: NeighbourOptions = {},
): Promise<Neighbours> {
  checkArgs(F, d, K);
  const bytes = F * d * 4;
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  if (!decoderFits(F, d, device.limits)) {
    throw new Error(`decoderNeighbours: W_dec (${F}×${d}, ${bytes} bytes) exceeds this device's storage-binding limit of ${limit} bytes`);
  }
  const owned: GPUBuffer[] = [];
  const alloc = (label: string, n: number) => {
    const b = storage(device, label, n);
    owned.push(b);
    return b;
  };
  try {
    let W_dec: Resource;
    if (wdec instanceof Float32Array) {
      if (wdec.length !== F * d) throw new Error(`decoderNeighbours: W_dec has ${wdec.length} values, expected ${F}×${d}`);
      W_dec = alloc('neighbours.W_dec', bytes);
      writeArray(device, W_dec, 0, wdec);
    } else {
      const size = 'buffer' in wdec ? (wdec.size ?? wdec.buffer.size - (wdec.offset ?? 0)) : wdec.size;
      if (size < bytes) throw new Error(`decoderNeighbours: the W_dec buffer holds ${size} bytes, expected at least ${F}×${d}×4 = ${bytes}`);
      W_dec = 'buffer' in wdec ? { ...wdec, size: bytes } : { buffer: wdec, size: bytes };
    }
    const bufs = {
      W_dec,
      inv_norm: alloc('neighbours.inv_norm', F * 4),
      nbr_idx: alloc('neighbours.idx', F * K * 4),
      nbr_sim: alloc('neighbours.sim', F * K * 4),
    };
    owned.push(submitNeighbours(device, bufs, F, d, K, opts));
    const [idx, sim] = await Promise.all([readBuffer(device, bufs.nbr_idx, 0, F * K * 4), readBuffer(device, bufs.nbr_sim, 0, F * K * 4)]);
    return { idx: new Uint32Array(idx), sim: new Float32Array(sim) };
  } finally {
    for (const b of owned) b.destroy();
  }
}
