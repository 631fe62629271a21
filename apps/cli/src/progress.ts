/**
 * Training progress for people: a progress bar on a terminal; without one (CI, nohup, Docker,
 * `> train.log`) a plain line every `everySteps` steps or once a minute, whichever comes first,
 * like Hugging Face Trainer's logs. `--json` prints events instead (output.ts).
 */
import type { TrainEvent } from '@lat/train';
import cliProgress from 'cli-progress';

/** What a progress line shows: a trainer step event. */
export type StepProgress = Omit<Extract<TrainEvent, { type: 'step' }>, 'type'>;

export interface Progress {
  step(p: StepProgress): void;
  /** Prints a line between steps (e.g. the epoch's dev metrics) without garbling the bar. */
  line(text: string): void;
  stop(): void;
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  const [h, m] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)];
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function createProgress(
  write: (line: string) => void,
  o: { tty: boolean; epochs: number; everySteps?: number; everyMs?: number; now?: () => number },
): Progress {
  if (o.tty) {
    const bar = new cliProgress.SingleBar(
      {
        format:
          'train |{bar}| {value}/{total} steps · loss {loss} · lr {lr} · {tps} tok/s · ETA {eta_formatted}',
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      step: (p) => {
        if (!started) bar.start(p.totalSteps, 0, { loss: '-', lr: '-', tps: '-' });
        started = true;
        bar.update(p.step, {
          loss: p.loss.toFixed(4),
          lr: p.lr.toExponential(2),
          tps: Math.round(p.tokensPerSec),
        });
      },
      line: (text) => {
        if (started) bar.stop();
        write(text);
        if (started)
          bar.start(bar.getTotal(), bar.getProgress() * bar.getTotal(), { loss: '-', lr: '-', tps: '-' });
      },
      stop: () => bar.stop(),
    };
  }
  const now = o.now ?? Date.now;
  const everyMs = o.everyMs ?? 60_000;
  let last = now();
  return {
    step: (p) => {
      const every = o.everySteps ?? Math.max(1, Math.round(p.totalSteps / 20));
      if (p.step !== 1 && p.step % every !== 0 && p.step !== p.totalSteps && now() - last < everyMs) return;
      last = now();
      write(
        `step ${p.step}/${p.totalSteps} (${Math.floor((100 * p.step) / p.totalSteps)}%) · epoch ${p.epoch + 1}/${o.epochs} · loss ${p.loss.toFixed(4)} · lr ${p.lr.toExponential(2)} · ${Math.round(p.tokensPerSec)} tok/s · ETA ${formatDuration(p.etaSec)}`,
      );
    },
    line: write,
    stop: () => {},
  };
}
