import { spawn } from 'node:child_process';

/** Runs the `lat` binary with `--json` and sends `signal` once it reports its first training step. */
export async function signalAtFirstStep(
  bin: string,
  args: string[],
  signal: NodeJS.Signals,
): Promise<{ code: number | null; summary: { steps: number; [k: string]: unknown } }> {
  const child = spawn(process.execPath, [bin, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (!sent && stdout.includes('"event":"step"')) {
      sent = true;
      child.kill(signal);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, summary: JSON.parse(stdout.trim().split('\n').at(-1)!) };
}
