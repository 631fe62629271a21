// The ONNX protobuf schema (generated protobufjs code, shipped by the onnx-proto package).
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type { onnx as OnnxTypes } from 'onnx-proto';
