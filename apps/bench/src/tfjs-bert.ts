/**
 * The TensorFlow.js training baseline: a straightforward BERT encoder for sequence classification
 * (post-LN, erf GELU, dropout 0.1, pooler + classifier, like torch_bench.py's) written with tf ops,
 * trained with fwd + bwd + Adam on @tensorflow/tfjs-backend-wasm or the pure-JS cpu backend
 * (tfjs-node needs a native download, so it is not used). tfjs-backend-wasm runs single-threaded
 * in Node (tfjs issue #3830), so there is no thread setting.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export interface TfjsJob {
  backend: 'wasm' | 'cpu';
  hidden: number;
  layers: number;
  heads: number;
  ffn: number;
  batch: number;
  seq: number;
  /** Timed steps, after one warm-up step. */
  steps: number;
}

const vocab = 30522;

function bert(j: TfjsJob) {
  const d = j.hidden;
  const vars: tf.Variable[] = [];
  const v = (t: tf.Tensor) => {
    const x = tf.variable(t);
    vars.push(x);
    return x;
  };
  const normal = (...shape: number[]) => v(tf.randomNormal(shape, 0, 0.02));
  const linear = (i: number, o: number) => ({ w: normal(i, o), b: v(tf.zeros([o])) });
  const norm = () => ({ g: v(tf.ones([d])), b: v(tf.zeros([d])) });
  const p = {
    word: normal(vocab, d),
    pos: normal(512, d),
    type: normal(2, d),
    embNorm: norm(),
    layers: Array.from({ length: j.layers }, () => ({
      q: linear(d, d),
      k: linear(d, d),
      v: linear(d, d),
      o: linear(d, d),
      n1: norm(),
      f1: linear(d, j.ffn),
      f2: linear(j.ffn, d),
      n2: norm(),
    })),
    pool: linear(d, d),
    cls: linear(d, 2),
  };

  const lin = (x: tf.Tensor, l: { w: tf.Tensor; b: tf.Tensor }) =>
    tf.add(tf.matMul(x.reshape([-1, x.shape.at(-1)!]), l.w), l.b).reshape([...x.shape.slice(0, -1), -1]);
  const layerNorm = (x: tf.Tensor, n: { g: tf.Tensor; b: tf.Tensor }) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-12))), n.g), n.b);
  };
  const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
  const drop = (x: tf.Tensor) => tf.dropout(x, 0.1);
  // An embedding lookup whose gradient is a ScatterNd (duplicates summed): tfjs's own Gather
  // gradient needs UnsortedSegmentSum, which the wasm backend does not have.
  const embed = tf.customGrad(((table: tf.Tensor, idx: tf.Tensor, save: tf.GradSaveFunc) => {
    save([idx]);
    return {
      value: tf.gather(table, idx),
      gradFunc: (dy: tf.Tensor, [i]: tf.Tensor[]) => [
        tf.scatterND(i!.reshape([-1, 1]), dy.reshape([-1, d]), table.shape),
        tf.zerosLike(i!),
      ],
    };
  }) as Parameters<typeof tf.customGrad>[0]) as (table: tf.Tensor, idx: tf.Tensor) => tf.Tensor;
  const [B, n, H] = [j.batch, j.seq, j.heads];
  const heads = (x: tf.Tensor) => x.reshape([B, n, H, d / H]).transpose([0, 2, 1, 3]);

  function logits(ids: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor {
    const positions = tf.range(0, n, 1, 'int32');
    let h = tf.add(tf.add(embed(p.word, ids), embed(p.pos, positions)), embed(p.type, tf.zerosLike(ids)));
    h = drop(layerNorm(h, p.embNorm));
    const keyBias = tf.mul(tf.sub(1, mask.reshape([B, 1, 1, n])), -10000);
    for (const l of p.layers) {
      const scores = tf.add(
        tf.mul(tf.matMul(heads(lin(h, l.q)), heads(lin(h, l.k)), false, true), 1 / Math.sqrt(d / H)),
        keyBias,
      );
      const ctx = tf
        .matMul(drop(tf.softmax(scores)), heads(lin(h, l.v)))
        .transpose([0, 2, 1, 3])
        .reshape([B, n, d]);
      h = layerNorm(tf.add(drop(lin(ctx, l.o)), h), l.n1);
      h = layerNorm(tf.add(drop(lin(gelu(lin(h, l.f1)), l.f2)), h), l.n2);
    }
    const cls = h.slice([0, 0, 0], [B, 1, d]).reshape([B, d]);
    return lin(drop(tf.tanh(lin(cls, p.pool))), p.cls);
  }
  return { vars, logits };
}

/** Sets up the backend and times training steps; returns tokens/s. */
export async function tfjsTrain(j: TfjsJob): Promise<{ tokensPerSec: number; backend: string }> {
  if (!(await tf.setBackend(j.backend))) throw new Error(`tfjs backend ${j.backend} did not initialise`);
  await tf.ready();
  const model = bert(j);
  const ids = tf.tensor2d(
    Int32Array.from({ length: j.batch * j.seq }, (_, i) => 1000 + ((i * 7919) % 28000)),
    [j.batch, j.seq],
    'int32',
  );
  const mask = tf.ones([j.batch, j.seq]) as tf.Tensor2D;
  const labels = tf.oneHot(
    tf.tensor1d(
      Int32Array.from({ length: j.batch }, (_, i) => i % 2),
      'int32',
    ),
    2,
  );
  const adam = tf.train.adam(1e-4);
  const step = async () => {
    const loss = adam.minimize(
      () => tf.losses.softmaxCrossEntropy(labels, model.logits(ids, mask)),
      true,
      model.vars,
    );
    await loss!.data(); // waits for the step to finish
    loss!.dispose();
  };
  await step(); // the first step allocates Adam's moments
  const start = performance.now();
  for (let i = 0; i < j.steps; i++) await step();
  const secs = (performance.now() - start) / 1000;
  return { tokensPerSec: (j.steps * j.batch * j.seq) / secs, backend: tf.getBackend() };
}
