/** A float32 tensor as the file readers return it: PyTorch's layout, row-major. */
export interface Tensor32 {
  dims: number[];
  data: Float32Array;
}

/** Named tensors, as in a checkpoint file. */
export type StateDict = Map<string, Tensor32>;
