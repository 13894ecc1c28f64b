// The architectures the trainer trains, one module each: a new one is its module, its kernels, its float64
// reference, its tests and a line here.
import type { Arch } from '../config.ts';
import type { ArchStep } from './context.ts';
import { jumpreluStep } from './jumprelu.ts';
import { standardStep } from './standard.ts';
import { batchtopkStep, matryoshkaStep, topkStep } from './topk.ts';

export const ARCH_STEPS: Record<Arch, ArchStep> = {
  standard: standardStep,
  topk: topkStep,
  jumprelu: jumpreluStep,
  batchtopk: batchtopkStep,
  matryoshka: matryoshkaStep,
};

export type { ArchStep, FormField, StepContext } from './context.ts';

/** a form's or a flag's architecture name, or undefined when it names none of ARCH_STEPS */
export function archNamed(name: unknown): Arch | undefined {
  return typeof name === 'string' && Object.hasOwn(ARCH_STEPS, name) ? (name as Arch) : undefined;
}
