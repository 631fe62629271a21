import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { LatError, lengthDefaults } from '@lat/core';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { adaplerTrainOptions } from './commands/adapler.js';
import { adaplerSweepCommand } from './commands/adapler-sweep.js';
import { registerAxformer } from './commands/axformer.js';
import { benchCommand } from './commands/bench.js';
import { compareCommand, registerCompare } from './commands/compare.js';
import { registerData } from './commands/data.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand, int8WeightsOption } from './commands/export.js';
import { infoCommand } from './commands/info.js';
import { predictCommand } from './commands/predict.js';
import { searchCommand } from './commands/search.js';
import { serveCommand } from './commands/serve.js';
import { evalSquadCommand } from './commands/squad.js';
import { trainCommand, trainMethodOption } from './commands/train.js';
import { bashCompletion, zshCompletion } from './completion.js';
import { loading } from './model.js';
import { createOutput, exitCodeFor } from './output.js';

/** The installed package's version (src/ and dist/ both sit next to package.json). */
export const version: string = (createRequire(import.meta.url)('../package.json') as { version: string })
  .version;

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`${name} must be a whole number, got '${v}'`);
  return n;
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${v}'`);
  return n;
};

interface Globals {
  json?: boolean;
  allowUnused?: boolean;
  threads?: number;
  debug?: boolean;
}

/** --dtype: run the fp32 graph or the q8 one (int8 encoder; frontier-q8.json is its frontier). */
const dtypeOption = () =>
  new Option(
    '--dtype <dtype>',
    'fp32, or q8: int8 dynamic quantisation of the encoder, with its own frontier',
  ).choices(['fp32', 'q8']);

/** --device: where a command runs the model (`what`: what it does there). */
const deviceOption = (what: string) =>
  new Option(
    '--device <device>',
    `${what} on onnxruntime-node, onnxruntime-web wasm in this process, or in headless Chromium (/usr/bin/chromium)`,
  )
    .choices(['node', 'wasm', 'chromium'])
    .default('node');

/** Builds the `lat` program. `write` receives stdout text (tests capture it). */
export function createProgram(write?: (s: string) => void): Command {
  const program = new Command('lat')
    .description('Length-Adaptive Transformer: fine-tune once with LengthDrop, run at any budget.')
    .version(version, '-V, --version', 'print the version of @lat/cli')
    .option('--json', 'machine-readable output (schema in the CLI README)')
    .option('--threads <n>', 'CPU threads for onnxruntime (default: all cores)', int('--threads'))
    .option('--debug', 'print stack traces on errors')
    .option('--allow-unused', 'load weights that have tensors config.json has no place for (with a warning)')
    .hook('preAction', () => {
      loading.allowUnused = Boolean(program.opts<Globals>().allowUnused);
      loading.warn = warn;
      // More threads than cores only contend (10000 of them never finish starting).
      const n = program.opts<Globals>().threads;
      const cores = availableParallelism();
      if (n !== undefined && n > cores) {
        warn(`--threads ${n} is more than the ${cores} cores here; using ${cores}`);
        program.setOptionValue('threads', cores);
      }
    })
    .exitOverride();
  const out = () => createOutput(Boolean(program.opts<Globals>().json), write);
  const threads = () => program.opts<Globals>().threads;
  const t = () => (threads() ? { threads: threads() } : {});

  adaplerTrainOptions(program.command('train'))
    .description('fine-tune a Hugging Face BERT checkpoint (with LengthDrop unless --no-length-drop)')
    .requiredOption(
      '--model <dir>',
      'Hugging Face model directory (config.json, model.safetensors, vocab.txt)',
    )
    .requiredOption('--task <name>', 'sst2, cola, mrpc, qqp, qnli, rte, mnli, stsb')
    .requiredOption('--train <file>', 'training data (GLUE .tsv, .csv or .jsonl)')
    .option('--dev <file>', 'dev data, evaluated after each epoch')
    .requiredOption('--out <dir>', 'output directory (model + checkpoint)')
    .option('--epochs <n>', 'epochs', int('--epochs'), 3)
    .option('--batch-size <n>', 'batch size', int('--batch-size'), 32)
    .option('--lr <x>', 'peak learning rate', num('--lr'), 2e-5)
    .option('--warmup-ratio <x>', 'linear warm-up fraction', num('--warmup-ratio'), 0.1)
    .option('--max-length <n>', 'max tokens per input', int('--max-length'), 128)
    .option('--seed <n>', 'random seed', int('--seed'), 42)
    .option('--no-length-drop', 'plain fine-tuning')
    .addOption(trainMethodOption())
    .option(
      '--pooling <schedule>',
      'with --method pooling: layer:width pairs halving from --max-length, e.g. 0:32,1:8; none with --chunk: the blockwise baseline',
    )
    .option(
      '--chunk <n>',
      'with --method pooling: blockwise attention in blocks of n tokens up to the first pooling',
      int('--chunk'),
    )
    .option(
      '--pooled-chunk <n>',
      'with --method pooling: the layers after the first pooling attend blockwise, in blocks of n kept rows (default: over all of them)',
      int('--pooled-chunk'),
    )
    .option(
      '--global-tokens <n>',
      'with --method pooling and --chunk: the first segment within the first n tokens ([CLS] question [SEP]) attends to and is attended by every block (0: off)',
      int('--global-tokens'),
    )
    .addOption(
      new Option('--pooling-operator <op>', 'pooling top-k: successive halving or iterative softmax').choices(
        ['halving', 'iterative'],
      ),
    )
    .option(
      '--scorer-loss <w>',
      'with --method pooling and --task squad: weight of an auxiliary loss that trains the scorers to keep the gold answer span (default: off)',
      num('--scorer-loss'),
    )
    .option(
      '--keep-first-segment',
      "with --method pooling and --task squad: keep every question token ([CLS] question [SEP]) through pooling as a row of its own (saved in config.json; a pooled model's setting is kept unless --no-keep-first-segment)",
    )
    .option('--no-keep-first-segment', 'with --method pooling: pool the question like the context')
    .option(
      '--length-drop-ratio <p>',
      'LengthDrop ratio bound',
      num('--length-drop-ratio'),
      lengthDefaults.ratioBound,
    )
    .option(
      '--num-sandwich <n>',
      'random sub-models per batch',
      int('--num-sandwich'),
      lengthDefaults.numSandwich,
    )
    .option(
      '--layer-drop <p>',
      'LayerDrop probability (default: 0.2 with LengthDrop, 0 plain)',
      num('--layer-drop'),
    )
    .addOption(
      new Option('--kd <direction>', 'distillation: forward KL(teacher‖student) or reverse (the reference)')
        .choices(['forward', 'reverse'])
        .default('forward'),
    )
    .addOption(
      new Option(
        '--length-sampling <how>',
        'LengthDrop lengths per example (real length) or per batch (padded, the reference)',
      )
        .choices(['per-example', 'per-batch'])
        .default('per-example'),
    )
    .addOption(
      new Option('--keep <which>', 'weights to keep: the last epoch, or the best on --dev (the reference)')
        .choices(['best', 'last'])
        .default('last'),
    )
    .option('--init-from <dir>', 'start from these weights, e.g. a plain fine-tuned model (two-stage recipe)')
    .option('--grad-accumulation <n>', 'batches per optimizer step', int('--grad-accumulation'), 1)
    .option(
      '--checkpoint-every <n>',
      'save a checkpoint every N steps (0: at the end only)',
      int('--checkpoint-every'),
      0,
    )
    .option('--skip-bad-rows', 'count and skip malformed data rows instead of stopping')
    .option('--cache-dir <dir>', 'where tokenised data is cached (default: <out>/tokenized)')
    .option('--no-cache', 'tokenise the data files every run')
    .option('--resume', 'continue from <out>/checkpoint')
    .option('--force', 'with --resume: continue although the arguments or data differ from the checkpoint')
    .action(async (o) => {
      await (o.phi.length > 1 ? adaplerSweepCommand : trainCommand)({ ...o, ...t() }, out());
    });

  program
    .command('search')
    .description('evolutionary search of the accuracy/cost frontier on a dev set')
    .requiredOption('--model <dir>', 'a model trained by lat train')
    .requiredOption('--dev <file>', 'dev data')
    .option('--task <name>', 'task (default: the one the model was trained on)')
    .option('--out <file>', 'frontier file (default: <model>/frontier.json)')
    .addOption(
      new Option(
        '--objective <kind>',
        'cost: MACs over real lengths, MACs padded to --max-length (the reference), or measured latency',
      )
        .choices(['macs', 'padded-macs', 'latency'])
        .default('macs'),
    )
    .addOption(
      new Option(
        '--form <form>',
        'ratio (default): fractions of each input; absolute: counts over --max-length (the reference; the only form for pooled models)',
      ).choices(['ratio', 'absolute']),
    )
    .option(
      '--max-length <n>',
      'padded length for absolute lengths and padded MACs (default: the training one)',
      int('--max-length'),
    )
    .option('--remeasure', 'with --objective latency: measure the latency table again')
    .addOption(deviceOption('with --objective latency: measure'))
    .option('--iterations <n>', 'search iterations', int('--iterations'), 30)
    .option('--population <n>', 'initial configurations besides smallest and full', int('--population'), 20)
    .option('--mutations <n>', 'mutants per iteration', int('--mutations'), 30)
    .option('--crossovers <n>', 'crossovers per iteration', int('--crossovers'), 30)
    .option('--seed <n>', 'random seed', int('--seed'), 42)
    .option('--scale <n>', 'ratio resolution: genes are 2..n, ratio = gene/n', int('--scale'), 100)
    .option(
      '--ratio-bound <p>',
      'search below the trained LengthDrop bound: a fraction in (0, 1)',
      num('--ratio-bound'),
    )
    .option('--plot <file.svg>', 'write an SVG plot of the frontier')
    .addOption(dtypeOption())
    .action(async (o) => {
      await searchCommand({ ...o, ...t() }, out());
    });

  const lengthOptions = (c: Command) =>
    c
      .option('--lengths <list>', 'absolute keep counts per layer, e.g. 100,80,60,40')
      .option('--ratios <list>', 'ratios of each input length per layer, e.g. 0.9,0.7,0.5,0.3')
      .option(
        '--budget <b>',
        'pick from the frontier: a cost fraction (0.5, 50%) or a metric floor (acc>=0.9)',
      )
      .option('--latency <ms>', 'pick the best frontier point within a latency, e.g. 10ms')
      .option('--frontier <file>', 'frontier file (default: <model>/frontier.json)')
      .addOption(dtypeOption());

  lengthOptions(
    program
      .command('eval')
      .description('evaluate at a configuration, a budget or the whole frontier; or score SQuAD predictions')
      .option('--model <dir>', 'model directory, or a bundle directory from lat export')
      .option('--dev <file>', 'dev data (GLUE file, or SQuAD dataset .json with --predictions)')
      .option('--task <name>', 'task (default: the one the model was trained on)')
      .option('--predictions <file>', 'SQuAD predictions {id: answer} to score like the official script')
      .option('--all', 'evaluate every frontier point'),
  ).action(async (o) => {
    if (o.predictions) return void (await evalSquadCommand(o, out()));
    requireFlags(o, ['model', 'dev']);
    await evalCommand({ ...o, ...t() }, out());
  });

  lengthOptions(
    program
      .command('predict')
      .description('classify text (arguments, or one per line on stdin)')
      .argument('[text...]', 'texts to classify')
      .requiredOption('--model <dir>', 'model directory, or a bundle directory from lat export')
      .option('--max-length <n>', 'max tokens per input', int('--max-length'), 128)
      .option('--explain', 'show the tokens each layer kept')
      .option('--text-file <file>', "texts to classify, one per line ('-': stdin)")
      .option('--context <text>', 'question-answering models: the passage the questions are about')
      .option(
        '--context-file <file>',
        "question-answering models: read the passage from a file ('-': stdin)",
      ),
  ).action(async (texts: string[], o) => {
    await predictCommand({ ...o, texts, ...t() }, out());
  });

  lengthOptions(
    program
      .command('bench')
      .description('latency and speed-up of each frontier point (or one configuration) vs the full model')
      .requiredOption('--model <dir>', 'model directory'),
  )
    .option('--seq <n>', 'tokens per input (default: 128, at most the model allows)', int('--seq'))
    .option('--batch <n>', 'batch size', int('--batch'), 1)
    .option('--runs <n>', 'timed runs per configuration', int('--runs'), 20)
    .option('--save', 'store the latencies in the frontier file (for --latency budgets)')
    .option('--dev <file>', 'AdapLeR models: time these inputs (their kept tokens depend on the text)')
    .addOption(deviceOption('run'))
    .action(async (o) => {
      await benchCommand({ ...o, ...t() }, out());
    });

  registerCompare(program, { int, num, run: (f) => compareCommand({ ...f, ...t() }, out()) });

  program
    .command('export')
    .description('write model.onnx + lat.json: a bundle any onnxruntime (and the playground) can load')
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--out <dir>', 'bundle directory')
    .option('--frontier <file>', 'frontier file (default: <model>/frontier.json)')
    .addOption(
      new Option(
        '--quantize <type>',
        'int8: dynamic quantisation of the encoder (a q8 graph, its own frontier)',
      ).choices(['int8']),
    )
    .addOption(int8WeightsOption())
    .action(async (o) => {
      await exportCommand(o, out());
    });

  registerAxformer(program, out, t);
  registerData(program, out, int);

  program
    .command('info')
    .description('architecture, parameters, vocabulary, MACs, frontier')
    .requiredOption('--model <dir>', 'model directory')
    .option('--seq <n>', 'tokens for the MACs figures', int('--seq'))
    .action(async (o) => {
      await infoCommand(o, out());
    });

  program
    .command('serve')
    .description(
      'serve the model over HTTP; under load, batches move down the frontier to keep p99 under the SLO',
    )
    .requiredOption('--model <dir>', 'model directory or bundle directory (lat export)')
    .option('--frontier <file>', "frontier file (default: the model's frontier.json or the bundle's)")
    .addOption(
      new Option('--task <task>', "head to serve (default: the model's task)").choices([
        'text-classification',
        'question-answering',
      ]),
    )
    .option('--host <host>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--port <n>', 'port', int('--port'), 8080)
    .option('--slo-p99 <ms>', 'p99 latency to stay under, e.g. 50ms', '50ms')
    .option('--max-batch <n>', 'most inputs per batch', int('--max-batch'), 16)
    .option('--max-wait <ms>', 'longest a request waits for a batch to fill, e.g. 5ms', '5ms')
    .option('--workers <n>', 'processes sharing the port (each loads the model)', int('--workers'), 1)
    .option('--full-only', 'always run the full model (a baseline without the controller)')
    .option('--max-body <bytes>', 'largest request body (413 beyond)', int('--max-body'), 1 << 20)
    .option('--max-inputs <n>', 'most texts per /v1/classify request', int('--max-inputs'), 64)
    .option('--max-queue <n>', 'most inputs waiting per worker (429 beyond)', int('--max-queue'), 1024)
    .option('--log-requests', 'log every request as a JSON line on stderr')
    .action(async (o) => {
      if ((await serveCommand({ ...o, ...t() }, out())) !== 0)
        throw new Error('stopped with requests still in flight (see the log above)');
    });

  program
    .command('demo')
    .description('the whole journey on an embedded default: train, search, predict, bench, export')
    .option('--out <dir>', 'where to put everything', 'lat-demo')
    .option('--epochs <n>', 'training epochs', int('--epochs'), 10)
    .option('--iterations <n>', 'search iterations', int('--iterations'), 10)
    .option('--playground <dir>', 'also export the bundle here (the playground serves it as its default)')
    .action(async (o) => {
      await demoCommand({ ...o, ...t() }, out());
    });

  program
    .command('completion')
    .description('print a shell completion script: source <(lat completion bash), or zsh')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .action((shell: 'bash' | 'zsh') => {
      (write ?? ((s: string) => process.stdout.write(s)))(
        shell === 'bash' ? bashCompletion(program) : zshCompletion(program),
      );
    });

  return program;
}

function requireFlags(o: Record<string, unknown>, names: string[]) {
  for (const n of names) {
    if (o[n] === undefined) throw new LatError('BAD_INPUT', 'required option not given', `--${n}`);
  }
}

let warn: (s: string) => void = (s) => process.stderr.write(`lat: warning: ${s}\n`);

/**
 * Long text belongs in files or stdin. onnxruntime-node (1.30, Linux) matched the command line
 * against a recursive std::regex in its telemetry and segfaulted at ~29 KB; @lat/runtime-node
 * now turns that telemetry off, and this limit keeps any other such surprise (and unreadable
 * `ps` listings) away, pointing to the flags that take files.
 */
export const maxArgvBytes = 16 * 1024;

function checkArgvSize(argv: string[]) {
  const bytes = argv.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
  if (bytes <= maxArgvBytes) return;
  const longest = argv.reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a));
  throw new LatError(
    'BAD_INPUT',
    `the command line is ${bytes} bytes (at most ${maxArgvBytes}; its longest argument starts '${longest.slice(0, 30)}…'). Pass long text in a file or on stdin: --text-file FILE, --context-file FILE ('-' reads stdin)`,
    'arguments',
  );
}

/**
 * Commander checks required options before unknown ones, so `lat train --bogus` would complain
 * about a missing --model. Name the unknown flag first.
 */
function checkUnknownOptions(program: Command, argv: string[]) {
  const command = program.commands.find((c) => c.name() === argv.find((a) => !a.startsWith('-')));
  if (!command) return;
  const known = new Set([...program.options, ...command.options].flatMap((o) => [o.long, o.short]));
  known.add('--help').add('-h');
  for (const a of argv) {
    if (a === '--') break;
    const flag = a.split('=')[0]!;
    if (/^--?[A-Za-z]/.test(flag) && !known.has(flag))
      throw new LatError(
        'BAD_INPUT',
        `unknown option (run 'lat ${command.name()} --help' for the options)`,
        flag,
      );
  }
}

/** Runs `lat` with `argv`; returns the exit code: 0 ok, 1 failure, 2 usage. */
export async function main(
  argv: string[],
  io: { write?: (s: string) => void; error?: (s: string) => void } = {},
): Promise<number> {
  const program = createProgram(io.write);
  const output = {
    writeOut: (s: string) => (io.write ?? ((x: string) => process.stdout.write(x)))(s),
    writeErr: (s: string) => (io.error ?? ((x: string) => process.stderr.write(x)))(s),
    // Usage errors are one line, like every other error (not 30 lines of help).
    outputError: (s: string, write: (s: string) => void) =>
      write(`lat: ${s.trim().replace(/^error: /, '')} (see lat --help)\n`),
  };
  for (const c of [program, ...program.commands]) c.configureOutput(output);
  const error = io.error ?? ((s: string) => process.stderr.write(s));
  warn = (s) => error(`lat: warning: ${s}\n`);
  try {
    checkArgvSize(argv);
    checkUnknownOptions(program, argv);
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0)
        return 0;
      return 2;
    }
    const debug = argv.includes('--debug');
    error(`lat: ${e instanceof Error ? e.message : String(e)}\n`);
    if (debug && e instanceof Error && e.stack) error(`${e.stack}\n`);
    return exitCodeFor(e);
  }
}
