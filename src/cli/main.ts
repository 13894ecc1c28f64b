// The sae-lab command line: the same engine as the browser, on Dawn in Node (a real GPU or SwiftShader).
import { CliError, helpText, parseCommand, type Command } from './args.ts';
import { benchCommand } from './bench.ts';
import { evalCommand } from './eval.ts';
import { encodeCommand } from './encode.ts';
import { featuresCommand } from './features.ts';
import { forwardCommand } from './forward.ts';
import { generateCommand } from './generate.ts';
import { attributeCommand, conceptCommand, effectsCommand } from './feature-effects.ts';
import { perplexityCommand } from './perplexity.ts';
import { fidelityCommand } from './fidelity.ts';
import { splitCommand } from './splitting.ts';
import { harvestCommand } from './harvest.ts';
import { synthCommand } from './synth.ts';
import { sweepCommand } from './sweep.ts';
import { exportScaleCommand } from './export-scale.ts';
import { trainCommand } from './train.ts';
import { DataError } from '../data/errors.ts';
import { DoesNotFitError } from '../engine/memory.ts';
import { NoAdapterError } from '../engine/node-device.ts';

const COMMANDS: Command[] = [synthCommand, harvestCommand, trainCommand, sweepCommand, exportScaleCommand, evalCommand, encodeCommand, featuresCommand, fidelityCommand, splitCommand, forwardCommand, generateCommand, perplexityCommand, effectsCommand, attributeCommand, conceptCommand, benchCommand];

function usage(): string {
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(9)}${c.summary}`);
  return `sae-lab — sparse autoencoders on WebGPU\n\nUsage: sae-lab <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'sae-lab <command> --help' for a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`sae-lab: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    const values = parseCommand(cmd, rest);
    if (values.help) {
      process.stdout.write(helpText(cmd));
      return 0;
    }
    return await cmd.run(values);
  } catch (e) {
    // Problems with the user's input are one line; anything else is a bug and keeps its stack.
    if (e instanceof CliError || e instanceof DataError || e instanceof DoesNotFitError || e instanceof NoAdapterError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e instanceof CliError ? e.exitCode : 1;
    }
    throw e;
  }
}
