/**
 * The contract a token-reduction method implements to take part in `lat compare`.
 *
 * A method is ONE file in `compare/methods/` exporting a `CompareMethod`, plus ONE line in
 * `compare/methods/index.ts` (the registry). The harness (compare/harness.ts) does everything that is
 * the same for every method, so a method never re-implements it:
 * - parses the flags, loads the starting checkpoint, checks the data and asks every requested method
 *   `inapplicable()` BEFORE anything is trained (a method that cannot apply is a one-line error);
 * - gives each method its own directory `<out>/<name>/` and skips methods whose evaluation is
 *   already there for the same checkpoint, data and settings (a killed run resumes there);
 * - scores nothing itself: it calls each configuration's `evaluate()` (cached in
 *   `<out>/<name>/evaluation.json`), then times every configuration's `run()` on the same dev inputs
 *   at batch 1 and batch 32 against the starting checkpoint at full length, in the same run;
 * - picks, for each budget of the grid, the configuration with the best metric whose real-length
 *   MACs are within budget × the starting checkpoint's, and writes compare.json / .md / .svg.
 *
 * What a method must do:
 * - name the method options it reads (`options`; a new option is a field of MethodOptions and a
 *   flag in commands/compare.ts), and refuse in `inapplicable()`, in one line, a checkpoint or
 *   options it cannot work with (e.g. pooling on a model too short for its schedule);
 * - `derive()` trains or derives its model from `c.settings.model` with `c.settings`' data, seed,
 *   epochs, batch size, learning rate and max length, keeping every file under `c.dir` — except a
 *   plain or LengthDrop fine-tune, which `fineTuned` (methods/anytime.ts) shares with the `plain` or
 *   `lat` method when that is in the report (`c.peer`), so it is trained once. It must be
 *   resumable: finished work found in `c.dir` is reused, half-done training continues from its
 *   checkpoint (the `trainInto` helper in methods/anytime.ts does both for `lat train`).
 * - return its configurations — frontier points (LAT), φ points (AdapLeR), schedules (pooling),
 *   pruned variants (AxFormer) — each with JSON `settings` that say exactly what runs, a dev-set
 *   `evaluate()` (deterministic: same inputs and seed → same numbers) and a `run()` for timing.
 * - report progress through `c.progress` (phase + done/total; the harness prints the ETA) and pass
 *   `c.quiet` as the Output of any `lat` command it calls, so sub-commands stay silent.
 */
import type { KeptSpread } from '@lat/search';
import type { Encoded, TaskSpec } from '@lat/train';
import type { CliModel } from '../model.js';
import type { Output } from '../output.js';

/** What every method shares: the same checkpoint, data, seed and training budget. */
export interface CompareSettings {
  /** The starting checkpoint (a Hugging Face model directory). */
  model: string;
  task: string;
  train: string;
  dev: string;
  seed: number;
  epochs: number;
  batchSize: number;
  lr: number;
  maxLength: number;
  /** Save a training checkpoint every N steps (what a killed run resumes from). */
  checkpointEvery: number;
  /** Method options (e.g. LAT's LengthDrop ratio bound, search iterations), by flag name. */
  options: MethodOptions;
  threads?: number;
}

/** Options some methods read; each method documents which and checks them in `inapplicable`. */
export interface MethodOptions {
  /** LengthDrop's ratio bound p (lat). */
  lengthDropRatio: number;
  /** How far below the full length the evolutionary search may go per layer (lat). */
  searchRatioBound: number;
  /** Evolutionary search iterations (lat). */
  iterations: number;
  /** The length penalties φ to train, one configuration each (adapler). */
  adaplerPhi: number[];
  /** Tolerated selection-metric drop per accepted removal (axformer, axformer+lat). */
  epsilon: number;
}

/** What `inapplicable` may look at: nothing has been trained yet. */
export interface PreflightContext {
  settings: CompareSettings;
  /** The starting checkpoint, loaded. */
  base: CliModel;
  task: TaskSpec;
  /** The budget grid (fractions of the starting checkpoint's real-length MACs). */
  budgets: readonly number[];
}

/** Reports how far a method is; the harness turns it into progress lines with an ETA. */
export interface MethodProgress {
  /** Starts a phase ('train', 'search', …) of `total` units (steps, iterations, …). */
  phase(name: string, total: number): void;
  /** `done` of the current phase's units are finished. */
  tick(done: number): void;
}

export interface MethodContext extends PreflightContext {
  /** The method's own directory, `<out>/<name>/`: everything it writes goes here. */
  dir: string;
  progress: MethodProgress;
  /** An Output for the `lat` commands a method calls: silent; their events drive `progress`. */
  quiet: Output;
  /**
   * The directory of another method of this report (`<out>/<name>/`) whose trained files a method
   * may share (e.g. `plain`'s fine-tuned model), or undefined: it is part of the report when it is
   * requested in this run or its directory was made with the same settings.
   */
  peer(name: string): string | undefined;
}

/** A method's dev-set score at one configuration. */
export interface ConfigurationScore {
  /** Every metric of the task (the first of `task.metrics` is the one budgets are judged by). */
  metrics: Record<string, number>;
  /** Average MACs per dev example over its real length, every overhead of the method included. */
  macs: number;
  /** MACs of one input padded to `settings.maxLength` (how the LAT paper counts). */
  paddedMacs: number;
  /** Methods that drop tokens: per layer, the spread of the fraction each dev input keeps (see spread.ts). */
  kept?: KeptSpread[];
}

/** One way to run a derived method: a frontier point, a threshold, a schedule, a pruned model. */
export interface MethodConfiguration {
  /** Short and human: 'full', '0.45 0.30'. */
  label: string;
  /** Exactly what runs, as JSON (e.g. `{ ratios: [0.45, 0.3] }`); recorded in compare.json. */
  settings: Record<string, unknown>;
  /** Scores the whole dev set (deterministic). */
  evaluate(): Promise<ConfigurationScore>;
  /** Runs these dev inputs as one batch, as a user would (the harness times it). */
  run(items: readonly Encoded[]): Promise<unknown>;
  /**
   * Methods that drop or merge tokens: the positions each layer keeps for one input (merged rows:
   * their representative). The report shows them for a few dev inputs, side by side per method.
   */
  keptPositions?(item: Encoded): Promise<number[][]>;
}

/** A trained/derived method, ready to be evaluated and timed. */
export interface DerivedMethod {
  /** How it was made (training recipe, search parameters), as JSON; recorded in compare.json. */
  recipe: Record<string, unknown>;
  /** The directory of the weights a user would ship (its size is reported). */
  modelDir: string;
  /** Parameters of the model as it runs. */
  params: number;
  configurations: MethodConfiguration[];
  /** Frees sessions. */
  release(): Promise<void>;
}

export interface CompareMethod {
  /** The name on the command line (`--methods plain,lat`) and the directory under `--out`. */
  readonly name: string;
  /** One line for the report: what the method is. */
  readonly summary: string;
  /** The method options it reads: with the shared settings, they decide when its files are reused. */
  readonly options: readonly (keyof MethodOptions)[];
  /** Why the method cannot run on this checkpoint/options (one line), or undefined when it can. */
  inapplicable(c: PreflightContext): string | undefined;
  /** Trains or derives the method into `c.dir` (resumable); see the file comment. */
  derive(c: MethodContext): Promise<DerivedMethod>;
}
