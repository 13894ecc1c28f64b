// The architectures the trainer trains, one module each: a new one is its module, its kernels, its float64
// reference, its tests and a line here.
import type { Arch } from '../config.ts';
import type { ArchStep } from './context.ts';
import { jumpreluStep } from './jumprelu.ts';
import { standardStep } from './standard.ts';
import { topkStep } from './topk.ts';

export const ARCH_STEPS: Record<Arch, ArchStep> = {
  standard: standardStep,
  topk: topkStep,
  jumprelu: jumpreluStep,
};

export type { ArchStep, StepContext } from './context.ts';
