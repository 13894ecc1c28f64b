// One compute entry point of one shader family, bound by resource NAME (reflected with webgpu-utils),
// so no binding index or uniform offset is ever written by hand.
import { makeShaderDataDefinitions, makeStructuredView, type ShaderDataDefinitions } from 'webgpu-utils';
import { SHADERS, type ShaderName } from './shaders.ts';

export type Resource = GPUBuffer | GPUBufferBinding;
export type Constants = Record<string, number | boolean>;

// Shader modules and pipelines are compiled once per device: a trainer, an evaluator and the tests all
// ask for the same few dozen pipelines, and compiling WGSL is slow on a software adapter.
const moduleCache = new WeakMap<GPUDevice, Map<string, { module: GPUShaderModule; defs: ShaderDataDefinitions }>>();
const pipelineCache = new WeakMap<GPUDevice, Map<string, Kernel>>();

export class Kernel {
  private constructor(
    readonly device: GPUDevice,
    readonly label: string,
    readonly defs: ShaderDataDefinitions,
    readonly entry: string,
    readonly pipeline: GPUComputePipeline,
  ) {}

  static get(device: GPUDevice, shader: ShaderName, entry: string, constants: Constants = {}): Kernel {
    const label = `${shader}.${entry}${Object.keys(constants).length ? JSON.stringify(constants) : ''}`;
    let pipelines = pipelineCache.get(device);
    if (!pipelines) pipelineCache.set(device, (pipelines = new Map()));
    const cached = pipelines.get(label);
    if (cached) return cached;
    let modules = moduleCache.get(device);
    if (!modules) moduleCache.set(device, (modules = new Map()));
    let compiled = modules.get(shader);
    if (!compiled) {
      const code = SHADERS[shader];
      compiled = { module: device.createShaderModule({ label: shader, code }), defs: makeShaderDataDefinitions(code) };
      modules.set(shader, compiled);
    }
    if (!compiled.defs.entryPoints[entry]) throw new Error(`shader ${shader} has no entry point ${entry}`);
    const constantValues: Record<string, number> = {};
    for (const [k, v] of Object.entries(constants)) constantValues[k] = typeof v === 'boolean' ? Number(v) : v;
    const pipeline = device.createComputePipeline({
      label,
      layout: 'auto',
      compute: { module: compiled.module, entryPoint: entry, constants: constantValues },
    });
    const kernel = new Kernel(device, label, compiled.defs, entry, pipeline);
    pipelines.set(label, kernel);
    return kernel;
  }

  /** A bind group from named resources; every resource the entry point uses must be given. */
  bind(resources: Record<string, Resource>): GPUBindGroup {
    const used = this.defs.entryPoints[this.entry]!.resources;
    const entries: GPUBindGroupEntry[] = used.map((r) => {
      const res = resources[r.name];
      if (!res) throw new Error(`${this.label}: no resource given for '${r.name}'`);
      return { binding: r.entry.binding, resource: 'buffer' in res ? res : { buffer: res } };
    });
    return this.device.createBindGroup({ label: this.label, layout: this.pipeline.getBindGroupLayout(0), entries });
  }

  /** A uniform buffer laid out for this shader's variable `name`, filled with `values`. */
  uniform(name: string, values: Record<string, number>): Uniform {
    const def = this.defs.uniforms[name];
    if (!def) throw new Error(`${this.label}: no uniform '${name}'`);
    const view = makeStructuredView(def);
    const buffer = this.device.createBuffer({
      label: `${this.label}.${name}`,
      size: view.arrayBuffer.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const uniform = new Uniform(this.device, buffer, view);
    uniform.write(values);
    return uniform;
  }
}

export class Uniform {
  constructor(
    private readonly device: GPUDevice,
    readonly buffer: GPUBuffer,
    private readonly view: ReturnType<typeof makeStructuredView>,
  ) {}

  write(values: Record<string, number>): void {
    this.view.set(values);
    this.device.queue.writeBuffer(this.buffer, 0, this.view.arrayBuffer);
  }
}

/** A recorded dispatch: everything bound, ready to replay every step. */
export interface Dispatch {
  kernel: Kernel;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

export function dispatch(
  kernel: Kernel,
  resources: Record<string, Resource>,
  workgroups: [number, number?, number?],
): Dispatch {
  return { kernel, bindGroup: kernel.bind(resources), workgroups: [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1] };
}

export function encodeDispatches(pass: GPUComputePassEncoder, list: readonly Dispatch[]): void {
  for (const d of list) {
    pass.setPipeline(d.kernel.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.workgroups);
  }
}

const MAX_GROUPS = 65535;

/** Workgroups for `n` invocations of 64 lanes indexed as gid.x + gid.y·(groupsX·64). */
export function flatGrid(n: number, lanes = 64): [number, number] {
  const groups = Math.max(1, Math.ceil(n / lanes));
  if (groups <= MAX_GROUPS) return [groups, 1];
  return [MAX_GROUPS, Math.ceil(groups / MAX_GROUPS)];
}

export function storage(device: GPUDevice, label: string, bytes: number, extra = 0): GPUBuffer {
  return device.createBuffer({
    label,
    size: Math.max(16, Math.ceil(bytes / 4) * 4),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extra,
  });
}

/** Copy a GPU buffer (range) to the CPU. Outside the training loop only: it waits for the queue. */
export async function readBuffer(device: GPUDevice, src: GPUBuffer, offset = 0, size = src.size): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, offset, staging, 0, size);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0);
  staging.destroy();
  return copy;
}

/** Submit `commands` on an idle queue and return the milliseconds until the device has finished them. */
export async function timeSubmission(device: GPUDevice, commands: GPUCommandBuffer): Promise<number> {
  await device.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  device.queue.submit([commands]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

/** queue.writeBuffer for any typed array (TypeScript's DOM types reject views that might be shared). */
export function writeArray(device: GPUDevice, buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
  device.queue.writeBuffer(buffer, offset, data as ArrayBufferView<ArrayBuffer>);
}
