/**
 * The inference worker thread: opens the model's session, measures the latency table and runs
 * batches. onnxruntime-node's `session.run` computes on the thread that calls it, so it runs here
 * and the server's event loop keeps reading requests, answering /healthz and forming the next
 * batch while a batch computes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { measureLatencyTable } from './controller.js';
import type { FromWorker, ModelInfo, ServedClassification, ToWorker, WorkerStart } from './inference.js';
import { loadServedModel } from './model.js';

const port = parentPort!;
const { options: o, measure } = workerData as WorkerStart;

const errorOf = (e: unknown) => ({
  message: (e as Error)?.message ?? String(e),
  ...((e as { code?: unknown })?.code !== undefined ? { code: String((e as { code: unknown }).code) } : {}),
});
const send = (m: FromWorker) => port.postMessage(m);

try {
  const model = await loadServedModel(o);
  const pipe = model.served.pipe;
  const candidates = o.fullOnly ? model.candidates.slice(-1) : model.candidates;
  const seq = Math.min(pipe.maxLength, 64);
  const fits = measure
    ? await measureLatencyTable(pipe.model, candidates, { maxBatch: o.maxBatch, seq })
    : [];
  const info: ModelInfo = {
    modelName: pipe.modelName,
    task: model.served.task,
    maxLength: pipe.maxLength,
    numLayers: pipe.config.numLayers,
    frontier: pipe.frontier,
    candidates,
    candidateSource: model.candidateSource,
    fits,
    seq,
  };
  // The batcher sends one batch at a time, and 'close' only once the last one is answered.
  port.on('message', async (m: ToWorker) => {
    if (m.type === 'close') {
      await pipe.dispose();
      send({ type: 'closed' });
      port.close();
      return;
    }
    // The test hook of InferenceModel.crashNextBatch: die with the batch unanswered, as a crash in
    // native code would.
    if (m.crash) {
      setImmediate(() => {
        throw new Error('crashed on purpose (crashNextBatch)');
      });
      return;
    }
    try {
      const s = model.served;
      const results =
        s.task === 'text-classification' && m.work.kind === 'classify'
          ? (await s.pipe.classifyTokens(m.work.items, m.options)).map(
              (r): ServedClassification => ({
                label: r.label,
                score: r.score,
                probabilities: r.probabilities,
                lengths: r.lengths,
                macs: r.macs,
                fullMacs: r.fullMacs,
                tokenCount: r.tokens.length,
              }),
            )
          : s.task === 'question-answering' && m.work.kind === 'answer'
            ? await s.pipe(m.work.questions, m.options)
            : undefined;
      if (!results) throw new Error(`a ${m.work.kind} batch for a ${s.task} model`);
      send({ type: 'result', id: m.id, results });
    } catch (e) {
      send({ type: 'error', id: m.id, error: errorOf(e) });
    }
  });
  send({ type: 'ready', info });
} catch (e) {
  send({ type: 'failed', error: errorOf(e) });
  port.close();
}
