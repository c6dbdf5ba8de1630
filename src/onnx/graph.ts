/**
 * @module onnx/graph
 * Small helpers for editing a GraphProto in place: who produces and who consumes a value,
 * attribute access, unique names, renaming, and a stable topological sort that also sees
 * the outer values a subgraph (If/Loop/Scan body) reads.
 */
import { BerthError } from '../errors.js';
import { toNumber, type AttributeProto, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto } from './types.js';

export const AttributeType = {
  UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8,
  TENSORS: 9, GRAPHS: 10, SPARSE_TENSOR: 11, SPARSE_TENSORS: 12, TYPE_PROTO: 13, TYPE_PROTOS: 14,
} as const;

export function nodeLabel(node: NodeProto): string {
  return node.name !== undefined && node.name !== '' ? `${node.opType ?? '?'} '${node.name}'` : `${node.opType ?? '?'} node → '${node.output?.[0] ?? ''}'`;
}

/** Value name → the node that produces it. */
export function producerMap(graph: GraphProto): Map<string, NodeProto> {
  const out = new Map<string, NodeProto>();
  for (const node of graph.node ?? []) for (const o of node.output ?? []) if (o !== '') out.set(o, node);
  return out;
}

/** Value name → nodes that read it (a node reading a value twice appears once). */
export function consumerMap(graph: GraphProto): Map<string, NodeProto[]> {
  const out = new Map<string, NodeProto[]>();
  for (const node of graph.node ?? []) {
    for (const i of new Set(nodeInputsDeep(node))) {
      if (i === '') continue;
      let list = out.get(i);
      if (list === undefined) out.set(i, (list = []));
      list.push(node);
    }
  }
  return out;
}

export function initializerMap(graph: GraphProto): Map<string, TensorProto> {
  const out = new Map<string, TensorProto>();
  for (const t of graph.initializer ?? []) out.set(t.name ?? '', t);
  return out;
}

/** The node's inputs plus outer-scope values read by its subgraphs. */
export function nodeInputsDeep(node: NodeProto): string[] {
  const inputs = [...(node.input ?? [])];
  for (const a of node.attribute ?? []) {
    for (const g of [a.g, ...(a.graphs ?? [])]) if (g) inputs.push(...outerReads(g));
  }
  return inputs;
}

function outerReads(g: GraphProto): string[] {
  const defined = new Set<string>([
    ...(g.input ?? []).map((v) => v.name ?? ''),
    ...(g.initializer ?? []).map((t) => t.name ?? ''),
  ]);
  for (const n of g.node ?? []) for (const o of n.output ?? []) defined.add(o);
  const reads: string[] = [];
  for (const n of g.node ?? []) for (const i of nodeInputsDeep(n)) if (i !== '' && !defined.has(i)) reads.push(i);
  return reads;
}

/**
 * Sorts graph.node topologically in place, keeping the existing order wherever it is
 * already valid. Throws BERTH_ERR_ONNX_UNSUPPORTED on a cycle or an undefined input.
 */
export function topologicalSort(graph: GraphProto): void {
  const nodes = graph.node ?? [];
  const available = new Set<string>(['']);
  for (const v of graph.input ?? []) available.add(v.name ?? '');
  for (const t of graph.initializer ?? []) available.add(t.name ?? '');
  for (const t of graph.sparseInitializer ?? []) available.add(t.values?.name ?? '');
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => { for (const o of n.output ?? []) producer.set(o, i); });
  const deps = nodes.map((n) => nodeInputsDeep(n).filter((i) => !available.has(i)));
  const waiting = new Map<string, number[]>();
  const missing = new Array<number>(nodes.length).fill(0);
  deps.forEach((d, i) => {
    const uniq = new Set(d);
    for (const name of uniq) {
      if (!producer.has(name)) {
        throw new BerthError('BERTH_ERR_ONNX_UNSUPPORTED', `${nodeLabel(nodes[i]!)} reads '${name}', which no node, input or initializer defines`);
      }
      let w = waiting.get(name);
      if (w === undefined) waiting.set(name, (w = []));
      w.push(i);
    }
    missing[i] = uniq.size;
  });
  // A min-heap on original index keeps the order stable.
  const ready: number[] = [];
  const push = (i: number): void => {
    ready.push(i);
    let k = ready.length - 1;
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (ready[p]! <= ready[k]!) break;
      [ready[p], ready[k]] = [ready[k]!, ready[p]!];
      k = p;
    }
  };
  const pop = (): number => {
    const top = ready[0]!;
    const last = ready.pop()!;
    if (ready.length > 0) {
      ready[0] = last;
      let k = 0;
      for (;;) {
        const l = 2 * k + 1, r = l + 1;
        let m = k;
        if (l < ready.length && ready[l]! < ready[m]!) m = l;
        if (r < ready.length && ready[r]! < ready[m]!) m = r;
        if (m === k) break;
        [ready[m], ready[k]] = [ready[k]!, ready[m]!];
        k = m;
      }
    }
    return top;
  };
  missing.forEach((m, i) => { if (m === 0) push(i); });
  const order: NodeProto[] = [];
  while (ready.length > 0) {
    const i = pop();
    const node = nodes[i]!;
    order.push(node);
    for (const o of node.output ?? []) {
      for (const j of waiting.get(o) ?? []) {
        missing[j]!--;
        if (missing[j] === 0) push(j);
      }
      waiting.delete(o);
    }
  }
  if (order.length !== nodes.length) {
    throw new BerthError('BERTH_ERR_ONNX_UNSUPPORTED', `the graph has a cycle (${nodes.length - order.length} nodes never become ready)`);
  }
  graph.node = order;
}

/** Hands out names not yet used anywhere in a graph. */
export class NameAllocator {
  private readonly taken = new Set<string>();

  constructor(graph?: GraphProto) {
    if (graph) this.addGraph(graph);
  }

  addGraph(graph: GraphProto): void {
    for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) this.taken.add(v.name ?? '');
    for (const t of graph.initializer ?? []) this.taken.add(t.name ?? '');
    for (const n of graph.node ?? []) {
      this.taken.add(n.name ?? '');
      for (const x of [...(n.input ?? []), ...(n.output ?? [])]) this.taken.add(x);
      for (const a of n.attribute ?? []) for (const g of [a.g, ...(a.graphs ?? [])]) if (g) this.addGraph(g);
    }
  }

  has(name: string): boolean {
    return this.taken.has(name);
  }

  /** `base` itself if free, else `base_1`, `base_2`, … */
  next(base: string): string {
    let name = base;
    for (let i = 1; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }
}

// --- attributes --------------------------------------------------------------------------

export function getAttribute(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  return a === undefined ? fallback : toNumber(a.i);
}

export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  return a === undefined ? fallback : a.f ?? fallback;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = getAttribute(node, name);
  return a === undefined ? undefined : (a.ints ?? []).map(toNumber);
}

export function attrString(node: NodeProto, name: string): string | undefined {
  const a = getAttribute(node, name);
  return a?.s === undefined ? undefined : Buffer.from(a.s).toString('utf8');
}

export type AttributeValue = number | string | number[] | TensorProto | GraphProto | { float: number } | { floats: number[] };

/** Builds an AttributeProto. Numbers become INT; wrap as {float} / {floats} for floats. */
export function makeAttribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: Buffer.from(value, 'utf8') };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  if ('node' in value || 'output' in value) return { name, type: AttributeType.GRAPH, g: value as GraphProto };
  return { name, type: AttributeType.TENSOR, t: value as TensorProto };
}

export function setAttribute(node: NodeProto, attr: AttributeProto): void {
  const list = (node.attribute ??= []);
  const i = list.findIndex((a) => a.name === attr.name);
  if (i >= 0) list[i] = attr;
  else list.push(attr);
}

export function removeAttribute(node: NodeProto, name: string): void {
  if (node.attribute) node.attribute = node.attribute.filter((a) => a.name !== name);
}

// --- values ------------------------------------------------------------------------------

/** Replaces every read of `from` by `to` in the given nodes. */
export function replaceInput(nodes: Iterable<NodeProto>, from: string, to: string): void {
  for (const n of nodes) {
    const inputs = n.input ?? [];
    for (let i = 0; i < inputs.length; i++) if (inputs[i] === from) inputs[i] = to;
  }
}

export function findValueInfo(graph: GraphProto, name: string): ValueInfoProto | undefined {
  for (const list of [graph.input, graph.output, graph.valueInfo]) {
    const v = (list ?? []).find((x) => x.name === name);
    if (v) return v;
  }
  return undefined;
}

/** Graph-level shape of a value as numbers (-1 for symbolic/unknown), or undefined. */
export function valueShape(v: ValueInfoProto | undefined): number[] | undefined {
  const dims = v?.type?.tensorType?.shape?.dim;
  if (dims === undefined || v?.type?.tensorType?.shape === null || v?.type?.tensorType?.shape === undefined) return undefined;
  return dims.map((d) => (d.dimValue !== undefined && Object.hasOwn(d, 'dimValue') ? toNumber(d.dimValue) : -1));
}

export function valueElemType(v: ValueInfoProto | undefined): number | undefined {
  const t = v?.type?.tensorType?.elemType;
  return t === undefined || t === 0 ? undefined : t;
}
