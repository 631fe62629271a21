import { Command } from 'commander';

export const packages = [
  '@lat/core',
  '@lat/layers',
  '@lat/train',
  '@lat/search',
  '@lat/qa',
  '@lat/runtime-node',
  '@lat/runtime-web',
] as const;

/** Builds the `lat` program; `out` receives what the command prints. */
export function createProgram(out: (line: string) => void = console.log): Command {
  const program = new Command('lat')
    .description('Length-Adaptive Transformer: train once with LengthDrop, run at any budget.')
    .version('0.0.0');
  program
    .command('demo')
    .description('the end-to-end demo on an embedded default (lists the packages until it lands)')
    .action(() => {
      out('lat packages:');
      for (const p of packages) out(`  ${p}`);
    });
  return program;
}
