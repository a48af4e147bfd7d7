// Just enough of the ONNX protobuf format to read a model's graph nodes and make two edits before
// onnxruntime sees the bytes: set a node's string attribute (the StringNormalizer locale, see
// ./onnx.ts) and expose an intermediate value as a graph output (the tensor a ZipMap consumes,
// because onnxruntime-node cannot return ZipMap's sequence of maps).
//
// Why a hand-written walk instead of protobufjs + the onnx.proto schema: decoding a ModelProto with a
// generic library materialises every initializer tensor as a JS object and re-encodes all of them on
// the way out (a 90 MB transformer means ~90 MB of extra copies and a few hundred ms at load), and it
// adds a schema dependency. Here the bytes we do not touch (initializers, the rest of the graph) are
// only sliced and copied once by the final concat. Field numbers are from onnx/onnx.proto (stable
// since IR version 3):
//   ModelProto.opset_import = 8 (OperatorSetIdProto domain = 1, version = 2), graph = 7, metadata_props = 14 (StringStringEntryProto key = 1, value = 2)
//   GraphProto.node = 1, input = 11, output = 12
//   NodeProto.input = 1, output = 2, name = 3, op_type = 4, attribute = 5, domain = 7
//   AttributeProto.name = 1, i = 3, s = 4, ints = 8, strings = 9, type = 20 (STRING = 3)
//   ValueInfoProto.name = 1

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const utf8 = new TextDecoder('utf-8', { fatal: false });
const utf8enc = new TextEncoder();

export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError';
}

type Field = {
  no: number;
  wire: number;
  /** Offset of the field's tag (the field spans [start, end)). */
  start: number;
  end: number;
  /** For length-delimited fields: the payload [dataStart, end). */
  dataStart: number;
  /** For varint fields: the value (as a number; exact up to 2^53). */
  value: number;
};

function readVarint(buf: Uint8Array, pos: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new OnnxFormatError('truncated varint');
    const b = buf[pos++];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return { value, next: pos };
    scale *= 128;
  }
  throw new OnnxFormatError('varint longer than 10 bytes');
}

function readVarintBig(buf: Uint8Array, pos: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new OnnxFormatError('truncated varint');
    const b = buf[pos++];
    value |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { value: BigInt.asIntN(64, value), next: pos };
    shift += 7n;
  }
  throw new OnnxFormatError('varint longer than 10 bytes');
}

function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const tag = readVarint(buf, pos);
    pos = tag.next;
    const no = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    let dataStart = pos;
    let value = 0;
    if (wire === WIRE_VARINT) {
      const v = readVarint(buf, pos);
      value = v.value;
      pos = v.next;
    } else if (wire === WIRE_LEN) {
      const len = readVarint(buf, pos);
      dataStart = len.next;
      pos = len.next + len.value;
    } else if (wire === WIRE_I64) {
      pos += 8;
    } else if (wire === WIRE_I32) {
      pos += 4;
    } else {
      throw new OnnxFormatError(`unsupported protobuf wire type ${wire} at byte ${fieldStart}`);
    }
    if (pos > end) throw new OnnxFormatError(`protobuf field ${no} at byte ${fieldStart} runs past its message`);
    yield { no, wire, start: fieldStart, end: pos, dataStart, value };
  }
}

const str = (buf: Uint8Array, f: Field) => utf8.decode(buf.subarray(f.dataStart, f.end));

export type OnnxAttribute = {
  name: string;
  s?: string;
  i?: number;
  strings?: string[];
  ints?: bigint[];
};

export type OnnxNode = {
  index: number;
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttribute>;
  /** Byte span of the NodeProto payload inside the model bytes. */
  start: number;
  end: number;
};

export type OnnxGraph = {
  nodes: OnnxNode[];
  inputs: string[];
  outputs: string[];
  /** opset_import: domain ('' = default) → version. */
  opsets: Map<string, number>;
};

function readAttribute(buf: Uint8Array, start: number, end: number): OnnxAttribute {
  const a: OnnxAttribute = { name: '' };
  const strings: string[] = [];
  const ints: bigint[] = [];
  for (const f of fields(buf, start, end)) {
    if (f.no === 1 && f.wire === WIRE_LEN) a.name = str(buf, f);
    else if (f.no === 4 && f.wire === WIRE_LEN) a.s = str(buf, f);
    else if (f.no === 3 && f.wire === WIRE_VARINT) a.i = Number(readVarintBig(buf, f.dataStart).value);
    else if (f.no === 9 && f.wire === WIRE_LEN) strings.push(str(buf, f));
    else if (f.no === 8 && f.wire === WIRE_VARINT) ints.push(readVarintBig(buf, f.dataStart).value);
    else if (f.no === 8 && f.wire === WIRE_LEN) {
      // packed repeated int64
      let p = f.dataStart;
      while (p < f.end) {
        const v = readVarintBig(buf, p);
        ints.push(v.value);
        p = v.next;
      }
    }
  }
  if (strings.length > 0) a.strings = strings;
  if (ints.length > 0) a.ints = ints;
  return a;
}

function readNode(buf: Uint8Array, index: number, start: number, end: number): OnnxNode {
  const node: OnnxNode = {
    index,
    opType: '',
    domain: '',
    name: '',
    inputs: [],
    outputs: [],
    attributes: new Map(),
    start,
    end,
  };
  for (const f of fields(buf, start, end)) {
    if (f.wire !== WIRE_LEN) continue;
    if (f.no === 1) node.inputs.push(str(buf, f));
    else if (f.no === 2) node.outputs.push(str(buf, f));
    else if (f.no === 3) node.name = str(buf, f);
    else if (f.no === 4) node.opType = str(buf, f);
    else if (f.no === 7) node.domain = str(buf, f);
    else if (f.no === 5) {
      const a = readAttribute(buf, f.dataStart, f.end);
      node.attributes.set(a.name, a);
    }
  }
  return node;
}

function graphField(model: Uint8Array): Field {
  let graph: Field | undefined;
  for (const f of fields(model, 0, model.length)) if (f.no === 7 && f.wire === WIRE_LEN) graph = f;
  if (!graph) throw new OnnxFormatError('not an ONNX model: no graph');
  return graph;
}

function valueInfoName(buf: Uint8Array, start: number, end: number): string {
  for (const f of fields(buf, start, end)) if (f.no === 1 && f.wire === WIRE_LEN) return str(buf, f);
  return '';
}

/** The top-level graph's nodes (with their attributes), input and output names. */
export function readOnnxGraph(model: Uint8Array): OnnxGraph {
  const g = graphField(model);
  const out: OnnxGraph = { nodes: [], inputs: [], outputs: [], opsets: new Map() };
  for (const f of fields(model, 0, model.length)) {
    if (f.no !== 8 || f.wire !== WIRE_LEN) continue;
    let domain = '';
    let version = 0;
    for (const e of fields(model, f.dataStart, f.end)) {
      if (e.no === 1 && e.wire === WIRE_LEN) domain = str(model, e);
      else if (e.no === 2 && e.wire === WIRE_VARINT) version = e.value;
    }
    out.opsets.set(domain, version);
  }
  for (const f of fields(model, g.dataStart, g.end)) {
    if (f.wire !== WIRE_LEN) continue;
    if (f.no === 1) out.nodes.push(readNode(model, out.nodes.length, f.dataStart, f.end));
    else if (f.no === 11) out.inputs.push(valueInfoName(model, f.dataStart, f.end));
    else if (f.no === 12) out.outputs.push(valueInfoName(model, f.dataStart, f.end));
  }
  return out;
}

/** The model's metadata_props (key → value), read without walking the graph. */
export function readOnnxMetadata(model: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields(model, 0, model.length)) {
    if (f.no !== 14 || f.wire !== WIRE_LEN) continue;
    let key = '';
    let value = '';
    for (const e of fields(model, f.dataStart, f.end)) {
      if (e.wire !== WIRE_LEN) continue;
      if (e.no === 1) key = str(model, e);
      else if (e.no === 2) value = str(model, e);
    }
    if (key) out[key] = value;
  }
  return out;
}

function varintBytes(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

function lenField(no: number, payload: Uint8Array[]): Uint8Array[] {
  const len = payload.reduce((s, p) => s + p.length, 0);
  return [varintBytes(no * 8 + WIRE_LEN), varintBytes(len), ...payload];
}

function varintBytesInt64(n: number): Uint8Array {
  if (n >= 0) return varintBytes(n);
  // Negative int64: ten-byte two's complement varint.
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 128n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

function intAttribute(name: string, value: number): Uint8Array[] {
  return [
    ...lenField(1, [utf8enc.encode(name)]),
    varintBytes(3 * 8 + WIRE_VARINT),
    varintBytesInt64(value),
    varintBytes(20 * 8 + WIRE_VARINT),
    varintBytes(2), // AttributeProto.INT
  ];
}

function stringAttribute(name: string, value: string): Uint8Array[] {
  return [
    ...lenField(1, [utf8enc.encode(name)]),
    ...lenField(4, [utf8enc.encode(value)]),
    varintBytes(20 * 8 + WIRE_VARINT),
    varintBytes(3), // AttributeProto.STRING
  ];
}

export type OnnxEdits = {
  /** Set (replace or add) a string attribute on nodes, by node index. */
  setStringAttribute?: { node: number; name: string; value: string }[];
  /**
   * Change a node's operator, keeping its name, inputs and outputs: new op_type and domain ('' = the
   * default ONNX domain), and these integer attributes instead of the old ones.
   */
  replaceOperator?: { node: number; opType: string; domain: string; intAttributes: Record<string, number> }[];
  /** Add graph outputs (by value name; onnxruntime infers their types). */
  addOutputs?: string[];
};

/** A copy of `model` with the edits applied; untouched parts are copied byte for byte. */
export function editOnnxModel(model: Uint8Array, edits: OnnxEdits): Uint8Array {
  const g = graphField(model);
  const byNode = new Map<number, { name: string; value: string }[]>();
  for (const e of edits.setStringAttribute ?? []) {
    const list = byNode.get(e.node) ?? [];
    list.push(e);
    byNode.set(e.node, list);
  }
  const replaced = new Map((edits.replaceOperator ?? []).map((r) => [r.node, r]));
  const graphParts: Uint8Array[] = [];
  let nodeIndex = 0;
  for (const f of fields(model, g.dataStart, g.end)) {
    const isNode = f.no === 1 && f.wire === WIRE_LEN;
    const changes = isNode ? byNode.get(nodeIndex) : undefined;
    const operator = isNode ? replaced.get(nodeIndex) : undefined;
    if (isNode) nodeIndex++;
    if (!changes && !operator) {
      graphParts.push(model.subarray(f.start, f.end));
      continue;
    }
    const nodeParts: Uint8Array[] = [];
    const pending = new Map((changes ?? []).map((c) => [c.name, c.value]));
    for (const nf of fields(model, f.dataStart, f.end)) {
      if (operator && nf.wire === WIRE_LEN && (nf.no === 4 || nf.no === 5 || nf.no === 7)) continue;
      if (nf.no === 5 && nf.wire === WIRE_LEN) {
        const name = readAttribute(model, nf.dataStart, nf.end).name;
        const value = pending.get(name);
        if (value !== undefined) {
          nodeParts.push(...lenField(5, stringAttribute(name, value)));
          pending.delete(name);
          continue;
        }
      }
      nodeParts.push(model.subarray(nf.start, nf.end));
    }
    for (const [name, value] of pending) nodeParts.push(...lenField(5, stringAttribute(name, value)));
    if (operator) {
      nodeParts.push(...lenField(4, [utf8enc.encode(operator.opType)]));
      for (const [name, value] of Object.entries(operator.intAttributes))
        nodeParts.push(...lenField(5, intAttribute(name, value)));
      if (operator.domain) nodeParts.push(...lenField(7, [utf8enc.encode(operator.domain)]));
    }
    graphParts.push(...lenField(1, nodeParts));
  }
  for (const name of edits.addOutputs ?? []) graphParts.push(...lenField(12, lenField(1, [utf8enc.encode(name)])));
  const modelParts: Uint8Array[] = [];
  for (const f of fields(model, 0, model.length)) {
    if (f.start === g.start) modelParts.push(...lenField(7, graphParts));
    else modelParts.push(model.subarray(f.start, f.end));
  }
  return Buffer.concat(modelParts);
}
