// Argument parsing shared by the commands: typed options with defaults, and errors that name the option.
import { parseArgs } from 'node:util';

/** A problem the user can fix: printed as one line, exit code 2 (usage) or 1 (input). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** parsed options: a string, a flag, or the strings of an option given more than once */
export type CliValues = Record<string, string | boolean | string[] | undefined>;

export interface OptionSpec {
  type: 'string' | 'boolean';
  help: string;
  default?: string;
  /** may be given more than once (the value is then a list) */
  multiple?: boolean;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  run(values: CliValues): Promise<number>;
}

export function parseCommand(cmd: Command, argv: string[]): CliValues {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { help: { type: 'boolean' } };
  for (const [name, spec] of Object.entries(cmd.options)) options[name] = spec.multiple ? { type: spec.type, multiple: true } : { type: spec.type };
  try {
    const { values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
    for (const [name, spec] of Object.entries(cmd.options)) if (values[name] === undefined && spec.default !== undefined) values[name] = spec.default;
    return values as CliValues;
  } catch (e) {
    throw new CliError(`sae-lab ${cmd.name}: ${(e as Error).message} (see sae-lab ${cmd.name} --help)`, 2);
  }
}

export function helpText(cmd: Command): string {
  const width = Math.max(...Object.keys(cmd.options).map((n) => n.length)) + 4;
  const lines = Object.entries(cmd.options).map(([name, spec]) => {
    const dflt = spec.default !== undefined ? ` (default ${spec.default})` : '';
    return `  --${name.padEnd(width)}${spec.help}${dflt}`;
  });
  return `${cmd.summary}\n\nUsage: ${cmd.usage}\n\nOptions:\n${lines.join('\n')}\n  --${'help'.padEnd(width)}show this help\n`;
}

export function required(values: Record<string, unknown>, name: string, cmd: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new CliError(`sae-lab ${cmd}: --${name} is required (see sae-lab ${cmd} --help)`, 2);
  return v;
}

export function intOption(values: Record<string, unknown>, name: string, min = 1): number {
  const raw = values[name];
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new CliError(`--${name} must be an integer ≥ ${min}, got '${raw}'`, 2);
  return n;
}

/** "256,512,1024" → [256, 512, 1024]: positive whole numbers separated by commas */
export function intListOption(values: Record<string, unknown>, name: string): number[] {
  const text = String(values[name]);
  const list = text.split(',').map((s) => Number(s.trim()));
  if (list.some((x) => !Number.isSafeInteger(x) || x < 1)) throw new CliError(`--${name} must be positive whole numbers separated by commas, got '${text}'`, 2);
  return list;
}

export function numberOption(values: Record<string, unknown>, name: string, positive = true): number {
  const raw = values[name];
  const n = Number(raw);
  if (!Number.isFinite(n) || (positive && !(n > 0))) throw new CliError(`--${name} must be a ${positive ? 'positive ' : ''}number, got '${raw}'`, 2);
  return n;
}
