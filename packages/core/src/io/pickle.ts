/**
 * A restricted unpickler for PyTorch state dicts. It interprets the pickle opcodes itself and
 * resolves only the handful of globals a state dict needs (OrderedDict, tensor rebuilding,
 * storage types); any other global — `os.system`, `builtins.eval`, … — is refused with an error
 * before anything could run. Nothing from the file is ever executed.
 */
import { LatError } from '../errors.js';

/** A storage reference from a persistent id: the tensor bytes live in the zip at data/<key>. */
export interface StorageRef {
  kind: 'storage';
  key: string;
  dtype: string;
}

/** A tensor in a PyTorch checkpoint, as the unpickler describes it: storage, offset, size, stride. */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  size: number[];
  stride: number[];
}

type PyValue = unknown;

class Global {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

const storageTypes: Record<string, string> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};
const dtypeNames: Record<string, string> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/** The only globals a state dict may name. */
function allowed(module: string, name: string): boolean {
  if (module === 'collections' && name === 'OrderedDict') return true;
  if (module === 'torch._utils' && ['_rebuild_tensor_v2', '_rebuild_parameter'].includes(name)) return true;
  if (module === 'torch' && (name in storageTypes || name in dtypeNames)) return true;
  if (module === 'torch.storage' && name === 'UntypedStorage') return true;
  if (module === '_codecs' && name === 'encode') return true;
  return false;
}

function call(fn: PyValue, args: PyValue[], where: string): PyValue {
  if (!(fn instanceof Global))
    throw new LatError('BAD_FILE', 'pickle calls something that is not a known global', where);
  const id = `${fn.module}.${fn.name}`;
  switch (id) {
    case 'collections.OrderedDict':
      return new Map();
    case 'torch._utils._rebuild_tensor_v2': {
      const [storage, offset, size, stride] = args as [StorageRef, number, number[], number[]];
      if (
        !storage ||
        (storage as StorageRef).kind !== 'storage' ||
        !Array.isArray(size) ||
        !Array.isArray(stride)
      ) {
        throw new LatError('BAD_FILE', 'malformed tensor record in the pickle', where);
      }
      return {
        kind: 'tensor',
        storage,
        offset: Number(offset),
        size: size.map(Number),
        stride: stride.map(Number),
      } satisfies TensorRef;
    }
    case 'torch._utils._rebuild_parameter':
      return args[0];
    case '_codecs.encode':
      return Buffer.from(String(args[0]), 'latin1');
    default:
      throw new LatError('BAD_FILE', `pickle calls ${id}, which a state dict never does`, where);
  }
}

/** Unpickles `data` (protocols 2–5); storage persistent ids become StorageRefs. */
export function unpickle(data: Uint8Array, where: string): PyValue {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let p = 0;
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  const need = (n: number) => {
    if (p + n > buf.length)
      throw new LatError('BAD_FILE', 'the pickle ends in the middle of an instruction', where);
  };
  const u8 = () => {
    need(1);
    return buf[p++]!;
  };
  const u16 = () => {
    need(2);
    const v = buf.readUInt16LE(p);
    p += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = buf.readUInt32LE(p);
    p += 4;
    return v;
  };
  const bytes = (n: number) => {
    need(n);
    const b = buf.subarray(p, p + n);
    p += n;
    return b;
  };
  const line = () => {
    const end = buf.indexOf(0x0a, p);
    if (end < 0) throw new LatError('BAD_FILE', 'unterminated text in the pickle', where);
    const s = buf.toString('latin1', p, end);
    p = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) throw new LatError('BAD_FILE', 'the pickle pops an empty stack', where);
    return stack.pop();
  };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) throw new LatError('BAD_FILE', 'the pickle has no matching MARK', where);
    const items = stack.splice(m);
    return items;
  };
  const top = () => {
    if (stack.length === 0) throw new LatError('BAD_FILE', 'the pickle reads an empty stack', where);
    return stack[stack.length - 1];
  };
  const global = (module: string, name: string) => {
    if (!allowed(module, name)) {
      throw new LatError(
        'UNSAFE_PICKLE',
        `refusing to load: the pickle references '${module}.${name}', which a PyTorch state dict never needs (nothing was run). Convert the checkpoint to model.safetensors from a trusted environment`,
        where,
      );
    }
    if (module === 'torch' && name in storageTypes) return { kind: 'storageType', dtype: storageTypes[name] };
    if (module === 'torch' && name in dtypeNames) return { kind: 'dtype', dtype: dtypeNames[name] };
    return new Global(module, name);
  };
  const setItems = (target: PyValue, items: PyValue[]) => {
    for (let i = 0; i + 1 < items.length; i += 2) {
      if (target instanceof Map) target.set(items[i], items[i + 1]);
      else if (typeof target === 'object' && target !== null)
        (target as Record<string, PyValue>)[String(items[i])] = items[i + 1];
      else throw new LatError('BAD_FILE', 'SETITEM on something that is not a dict', where);
    }
  };

  for (let steps = 0; ; steps++) {
    if (steps > 50_000_000) throw new LatError('BAD_FILE', 'the pickle is implausibly long', where);
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        bytes(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1)
          throw new LatError('BAD_FILE', 'the pickle stops with a malformed stack', where);
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: {
        // BININT
        need(4);
        stack.push(buf.readInt32LE(p));
        p += 4;
        break;
      }
      case 0x8a: {
        // LONG1
        const n = u8();
        const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v));
        break;
      }
      case 0x47: {
        // BINFLOAT (big-endian)
        need(8);
        stack.push(buf.readDoubleBE(p));
        p += 8;
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(bytes(u32()).toString('utf8'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(bytes(u8()).toString('utf8'));
        break;
      case 0x8d: {
        // BINUNICODE8
        need(8);
        const n = Number(buf.readBigUInt64LE(p));
        p += 8;
        stack.push(bytes(n).toString('utf8'));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(bytes(u8()).toString('latin1'));
        break;
      case 0x54: // BINSTRING
        stack.push(bytes(u32()).toString('latin1'));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(Buffer.from(bytes(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(Buffer.from(bytes(u32())));
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        stack.push(global(String(module), String(name)));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k))
          throw new LatError('BAD_FILE', `the pickle reads memo ${k} before writing it`, where);
        stack.push(memo.get(k));
        break;
      }
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85:
        stack.push([pop()]);
        break;
      case 0x86: {
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list))
          throw new LatError('BAD_FILE', 'APPEND to something that is not a list', where);
        list.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list))
          throw new LatError('BAD_FILE', 'APPENDS to something that is not a list', where);
        list.push(...items);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!Array.isArray(args)) throw new LatError('BAD_FILE', 'REDUCE without an argument tuple', where);
        stack.push(call(fn, args, where));
        break;
      }
      case 0x62: {
        // BUILD: state for an object; state dicts attach `_metadata` to OrderedDicts, which we ignore.
        pop();
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(call(cls, Array.isArray(args) ? args : [], where));
        break;
      }
      case 0x51: {
        // BINPERSID: ('storage', storage_type, key, location, numel)
        const pid = pop();
        if (!Array.isArray(pid) || pid[0] !== 'storage')
          throw new LatError('BAD_FILE', 'unknown persistent id in the pickle', where);
        const type = pid[1] as { kind?: string; dtype?: string } | Global;
        const dtype = type instanceof Global ? 'untyped' : type?.dtype;
        if (!dtype) throw new LatError('BAD_FILE', 'a storage without a known type', where);
        stack.push({ kind: 'storage', key: String(pid[2]), dtype } satisfies StorageRef);
        break;
      }
      case 0x30: // POP
        if (marks.length && marks[marks.length - 1] === stack.length) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      default:
        throw new LatError(
          'BAD_FILE',
          `unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1}; lat reads PyTorch state dicts saved by torch.save`,
          where,
        );
    }
  }
}
