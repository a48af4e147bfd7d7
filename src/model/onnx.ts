// ONNX models through onnxruntime-node: the session factory both ONNX formats share, and the
// scikit-learn text pipelines converted by skl2onnx (format "onnx-sklearn").
//
// A skl2onnx text classifier takes a string tensor [N, 1] and returns `label` plus either
// `probabilities` (float [N, C], with the option zipmap=False) or ZipMap's sequence of {label: p} maps.
// onnxruntime-node cannot return non-tensor values, so for the ZipMap form we also expose the tensor
// the ZipMap consumes as a graph output and read that. Label names come from the graph (the ZipMap's
// or the classifier node's classlabels_*), in column order.
//
// onnxruntime-node is imported on first use only: a service serving our own format never loads it.
// Its `session.run` returns a promise but runs on the main thread, from a setImmediate (1.30,
// dist/backend.js): inference does not overlap other requests, it is only deferred to the next turn.
// Coalescing concurrent single-text requests into one run was tried and measured no faster per text
// for a TF-IDF graph (0.21 vs 0.22 ms per text, batch of 32 vs one by one): the cost is per row.

import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { editOnnxModel, type OnnxEdits, type OnnxFormatError, type OnnxGraph, readOnnxGraph } from './onnx-proto.ts';
import { genericTextStats, type TextStats } from './text-stats.ts';
import type { AsyncClassifier, Prediction } from './types.ts';

export const ONNX_SKLEARN_FORMAT = 'onnx-sklearn';

type Ort = typeof import('onnxruntime-node');
let ort: Promise<Ort> | undefined;

/** onnxruntime-node, loaded once, on the first ONNX model. */
export function loadOrt(): Promise<Ort> {
  ort ??= import('onnxruntime-node');
  return ort;
}

// One intra-op thread: on the TF-IDF graph a second one gave the same p50 and a worse p99 (measured
// before this work, see the issue), and extra threads compete with the event loop for the CPU.
export const SESSION_OPTIONS: InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  // Errors reach us as exceptions (and are logged by us); onnxruntime's own log lines would go to
  // stderr, bypassing the JSON logs: only fatal ones are let through.
  logSeverityLevel: 4,
};

export async function createSession(bytes: Uint8Array): Promise<InferenceSession> {
  const { InferenceSession } = await loadOrt();
  return InferenceSession.create(bytes, SESSION_OPTIONS);
}

export class OnnxModelError extends Error {
  override name = 'OnnxModelError';
}

/**
 * The StringNormalizer locale pitfall: skl2onnx leaves the locale empty, which onnxruntime reads as
 * en_US.UTF-8, a locale slim images (and many machines) do not have: session creation then fails,
 * whatever LANG says. C.UTF-8 is present in every glibc image and lower-cases Unicode the same way
 * (parity with scikit-learn is tested on non-ASCII text), so empty and en_US.UTF-8 locales are
 * rewritten to it. Other explicit locales are left as the model's author chose them.
 */
export const PORTABLE_LOCALE = 'C.UTF-8';
const REWRITTEN_LOCALES = new Set(['', 'en_US.UTF-8', 'en_US.utf8']);

export type SklearnOnnxPlan = {
  edits: OnnxEdits;
  labels: string[];
  /** The tensor to read: probabilities [N, C] in `labels` order. */
  probabilities: string;
  /** StringNormalizer locales that were rewritten to C.UTF-8 ("" = none was set). */
  localeRewrites: string[];
  /** L2 Normalizer nodes swapped for LpNormalization. */
  normalizersReplaced: number;
};

function classLabels(graph: OnnxGraph, preferred?: string): string[] | undefined {
  const nodes = preferred ? graph.nodes.filter((n) => n.opType === preferred) : graph.nodes;
  for (let i = nodes.length - 1; i >= 0; i--) {
    const a = nodes[i].attributes;
    const strings = a.get('classlabels_strings')?.strings;
    if (strings && strings.length > 0) return strings;
    const ints = a.get('classlabels_int64s')?.ints ?? a.get('classlabels_ints')?.ints;
    if (ints && ints.length > 0) return ints.map(String);
  }
  return undefined;
}

/** Reads the graph and decides the edits, the labels and which output holds the probabilities. */
export function planSklearnOnnx(bytes: Uint8Array): SklearnOnnxPlan {
  let graph: OnnxGraph;
  try {
    graph = readOnnxGraph(bytes);
  } catch (err) {
    throw new OnnxModelError(
      `not a readable ONNX model (${(err as OnnxFormatError).message}); export it with skl2onnx or torch.onnx`,
    );
  }
  const edits: Required<OnnxEdits> = { setStringAttribute: [], addOutputs: [], replaceOperator: [] };
  const localeRewrites: string[] = [];
  let normalizers = 0;
  for (const n of graph.nodes) {
    if (n.opType !== 'StringNormalizer') continue;
    const locale = n.attributes.get('locale')?.s ?? '';
    if (REWRITTEN_LOCALES.has(locale)) {
      edits.setStringAttribute.push({ node: n.index, name: 'locale', value: PORTABLE_LOCALE });
      localeRewrites.push(locale);
    }
  }
  // ai.onnx.ml's Normalizer is slow in onnxruntime: at a 31k-word vocabulary it was 417 of the 468 µs
  // a single text took (onnxruntime's profiler, 1 thread). An L2 Normalizer is exactly the standard
  // LpNormalization (p = 2 over the last axis; a zero row stays zero in both), which is vectorised:
  // the node is swapped in place (same inputs and outputs). Parity with scikit-learn is tested.
  for (const n of graph.nodes) {
    const l2 = n.opType === 'Normalizer' && n.domain === 'ai.onnx.ml' && n.attributes.get('norm')?.s === 'L2';
    if (l2 && graph.opsets.has('')) {
      edits.replaceOperator.push({
        node: n.index,
        opType: 'LpNormalization',
        domain: '',
        intAttributes: { axis: -1, p: 2 },
      });
      normalizers++;
    }
  }
  const zipmap = graph.nodes.find((n) => n.opType === 'ZipMap' && graph.outputs.includes(n.outputs[0]));
  let probabilities: string;
  let labels: string[] | undefined;
  if (zipmap) {
    probabilities = zipmap.inputs[0];
    labels = classLabels(graph, 'ZipMap');
    if (!graph.outputs.includes(probabilities)) edits.addOutputs.push(probabilities);
  } else {
    const named = graph.outputs.find((o) => o === 'probabilities' || o === 'output_probability');
    // A skl2onnx classifier's outputs are [label, probabilities].
    probabilities = named ?? graph.outputs[1] ?? '';
    labels = classLabels(graph);
  }
  if (!probabilities) {
    throw new OnnxModelError(
      `the ONNX graph has no probabilities output (outputs: ${graph.outputs.join(', ') || 'none'}); convert a classifier with skl2onnx (options zipmap=False)`,
    );
  }
  if (!labels) {
    throw new OnnxModelError(
      'the ONNX graph names no class labels (no ZipMap or classifier node with classlabels_*); convert the whole scikit-learn pipeline, classifier included, with skl2onnx',
    );
  }
  return { edits, labels, probabilities, localeRewrites, normalizersReplaced: normalizers };
}

export type SklearnOnnxClassifier = AsyncClassifier & {
  textStats(text: string, out?: TextStats): TextStats;
  readonly plan: SklearnOnnxPlan;
};

/** Loads a skl2onnx text classifier from its bytes. */
export async function loadSklearnOnnx(
  bytes: Uint8Array,
  options: { positiveLabel?: string } = {},
): Promise<SklearnOnnxClassifier> {
  const plan = planSklearnOnnx(bytes);
  const edited =
    plan.edits.setStringAttribute?.length || plan.edits.addOutputs?.length || plan.edits.replaceOperator?.length
      ? editOnnxModel(bytes, plan.edits)
      : bytes;
  const { Tensor } = await loadOrt();
  const session = await createSession(edited).catch((err: Error) => {
    throw new OnnxModelError(`onnxruntime cannot load the model: ${err.message.split('\n')[0]}`);
  });
  const input = session.inputMetadata[0];
  if (session.inputNames.length !== 1 || !input?.isTensor || input.type !== 'string') {
    await session.release();
    throw new OnnxModelError(
      `expected one string input (skl2onnx: initial_types=[("input", StringTensorType([None, 1]))]), found ${session.inputMetadata
        .map((m) => `${m.name}: ${m.isTensor ? m.type : 'non-tensor'}`)
        .join(', ')}`,
    );
  }
  const rank = input.shape.length;
  const labels = plan.labels;
  const positiveLabel = options.positiveLabel ?? labels[1] ?? labels[0];
  if (!labels.includes(positiveLabel)) {
    await session.release();
    throw new OnnxModelError(
      `positive label ${JSON.stringify(positiveLabel)} is not one of the model's labels: ${labels.join(', ')}`,
    );
  }
  const inputName = input.name;
  const fetches = [plan.probabilities];
  const c = labels.length;
  const textStats = genericTextStats();
  return {
    async: true,
    labels: Object.freeze([...labels]),
    positiveLabel,
    plan,
    textStats,
    async predictBatch(texts) {
      const n = texts.length;
      const tensor = new Tensor('string', texts as string[], rank === 1 ? [n] : [n, 1]);
      const out = await session.run({ [inputName]: tensor }, fetches);
      return rowsToPredictions(out[plan.probabilities], n, labels, c);
    },
    dispose: () => session.release(),
  };
}

/** Rows of probabilities [n, C] → predictions (label = the most probable column). */
export function rowsToPredictions(t: Tensor, n: number, labels: readonly string[], c: number): Prediction[] {
  if (t.dims.length !== 2 || t.dims[0] !== n || t.dims[1] !== c) {
    throw new OnnxModelError(
      `the model returned probabilities of shape [${t.dims.join(', ')}] for ${n} texts, expected [${n}, ${c}] (one column per label: ${labels.join(', ')})`,
    );
  }
  const data = t.data as Float32Array;
  const out = new Array<Prediction>(n);
  for (let i = 0; i < n; i++) {
    const probabilities: Record<string, number> = {};
    let best = 0;
    for (let j = 0; j < c; j++) {
      const p = data[i * c + j];
      probabilities[labels[j]] = p;
      if (p > data[i * c + best]) best = j;
    }
    out[i] = { label: labels[best], proba: data[i * c + best], probabilities };
  }
  return out;
}
