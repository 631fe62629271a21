/**
 * The runtime-neutral view of ONNX Runtime that every lat package codes against. Adapters
 * (`@lat/runtime-node`, `@lat/runtime-web`) implement it; nothing else imports an ORT backend,
 * so a browser bundle never pulls onnxruntime-node.
 */
import type { Tensor as OrtTensor } from 'onnxruntime-common';
import { LatError } from './errors.js';

/** Element types lat's graphs exchange with a runtime. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8';

/** The typed array that holds each dtype's elements. */
export interface TensorDataByType {
  float32: Float32Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  bool: Uint8Array;
  uint8: Uint8Array;
  int8: Int8Array;
}

/** A plain host tensor; adapters convert it to and from their backend's tensor class. */
export interface HostTensor<T extends DType = DType> {
  readonly type: T;
  readonly dims: readonly number[];
  readonly data: TensorDataByType[T];
}

/** Per-session options every runtime understands (each maps them to its backend's). */
export interface SessionOptions {
  /** Intra-op threads; default: all cores. */
  threads?: number;
  /** Backend names in order of preference, e.g. ['webgpu', 'wasm']. */
  executionProviders?: string[];
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** ORT's CPU memory arena (default on): freed tensors' memory is kept and reused. */
  memoryArena?: boolean;
  /**
   * ORT's memory-pattern planning (default: as `memoryArena`): after the first run, one block
   * sized for every intermediate tensor of a run. Fastest for inference; a training graph's block
   * holds all its activations and gradients at once, so training turns it off and keeps the
   * arena (lower peak memory and faster than no arena at all, whose tensors each take fresh pages).
   */
  memoryPattern?: boolean;
  /**
   * Whether idle intra-op threads spin-wait for the next run (onnxruntime-node; default on, ORT's
   * default): fastest when one session runs back to back. Turn it off when several sessions take
   * turns on the same cores — a pool still spinning after its run slows the next session's run.
   */
  spinning?: boolean;
}

/** A loaded graph: run it on feeds, as often as needed, then release it. */
export interface RuntimeSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(
    feeds: Record<string, HostTensor>,
    outputNames?: readonly string[],
  ): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

/** Where graphs run: `@lat/runtime-node`, `@lat/runtime-web`, or any adapter built with `createOrtRuntime`. */
export interface Runtime {
  /** e.g. 'onnxruntime-node', 'onnxruntime-web/wasm' */
  readonly name: string;
  createSession(model: Uint8Array, options?: SessionOptions): Promise<RuntimeSession>;
}

const ortTypes: Record<DType, OrtTensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
  uint8: 'uint8',
  int8: 'int8',
};

/** onnxruntime's tensor type name for a dtype. */
export function toOrtType(t: DType): OrtTensor.Type {
  return ortTypes[t];
}

/** The dtype of an onnxruntime tensor type name; throws on types lat does not use. */
export function fromOrtType(t: string): DType {
  if (t in ortTypes) return t as DType;
  throw new LatError('UNSUPPORTED', `onnxruntime returned a tensor of type ${t}, which lat does not handle`);
}

/** A tensor in host memory, checking that `data` holds exactly the elements `dims` needs. */
export function hostTensor<T extends DType>(
  type: T,
  dims: readonly number[],
  data: TensorDataByType[T],
): HostTensor<T> {
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size) {
    throw new LatError(
      'BAD_SHAPE',
      `tensor data has ${data.length} elements but dims [${dims.join(', ')}] need ${size}`,
    );
  }
  return { type, dims: [...dims], data };
}

/** The part of an onnxruntime module (node or web) an adapter needs; both re-export onnxruntime-common. */
export interface OrtModule {
  Tensor: typeof import('onnxruntime-common').Tensor;
  InferenceSession: typeof import('onnxruntime-common').InferenceSession;
}

type OrtSessionOptions = import('onnxruntime-common').InferenceSession.SessionOptions;

class OrtSession implements RuntimeSession {
  constructor(
    private readonly ort: OrtModule,
    private readonly session: import('onnxruntime-common').InferenceSession,
  ) {}
  get inputNames() {
    return this.session.inputNames;
  }
  get outputNames() {
    return this.session.outputNames;
  }
  async run(feeds: Record<string, HostTensor>, outputNames?: readonly string[]) {
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [k, v] of Object.entries(feeds)) {
      ortFeeds[k] = new this.ort.Tensor(toOrtType(v.type), v.data as never, v.dims as number[]);
    }
    const out = outputNames
      ? await this.session.run(ortFeeds, outputNames as string[])
      : await this.session.run(ortFeeds);
    const result: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(out)) {
      result[k] = { type: fromOrtType(v.type), dims: [...v.dims], data: v.data as HostTensor['data'] };
    }
    return result;
  }
  release() {
    return this.session.release();
  }
}

/**
 * Wraps an onnxruntime module as a Runtime. `toOrtOptions` maps lat's options to the backend's
 * (thread counts and execution providers are named differently in node and web).
 */
export function createOrtRuntime(
  name: string,
  ort: OrtModule,
  toOrtOptions: (o: SessionOptions) => OrtSessionOptions,
  defaults: SessionOptions = {},
): Runtime {
  return {
    name,
    async createSession(model: Uint8Array, options: SessionOptions = {}) {
      const session = await ort.InferenceSession.create(model, toOrtOptions({ ...defaults, ...options }));
      return new OrtSession(ort, session);
    },
  };
}
