import { makeAttr } from './graph';
import type { ModelProto } from './model-proto';
import { FLOAT, FLOAT16 } from './tensor-data';

/** A graph input or output of element type float16 (not an initializer listed as an input). */
export function halfIoNames(model: ModelProto, keep: ReadonlySet<string> = new Set()): { inputs: string[]; outputs: string[] } {
  const g = model.graph!;
  const weights = new Set((g.initializer ?? []).map((t) => t.name));
  const half = (v: { name?: string | null; type?: { tensorType?: { elemType?: number | null } | null } | null }) => v.type?.tensorType?.elemType === FLOAT16 && !keep.has(v.name!) && !weights.has(v.name!);
  return { inputs: (g.input ?? []).filter(half).map((v) => v.name!), outputs: (g.output ?? []).filter(half).map((v) => v.name!) };
}

/**
 * float32 inputs and outputs for a graph that takes and gives float16 (an fp16 export): a Cast after
 * each such input and before each such output, so the provider converts on the device rather than the
 * engine on the host at every step. `keep`: tensors left in half (a fed-back feature kept as its bits).
 * Rewrites `model` in place; the weights are not touched.
 */
export function floatIo(model: ModelProto, keep: ReadonlySet<string> = new Set()): { inputs: string[]; outputs: string[] } {
  const g = model.graph!, names = halfIoNames(model, keep);
  // node and tensor names the graph already has (an fp16 export may carry Casts of its own)
  const taken = new Set([...(g.node ?? []).flatMap((n) => [n.name ?? '', ...(n.input ?? []), ...(n.output ?? [])]), ...(g.initializer ?? []).map((t) => t.name ?? '')]);
  const fresh = (base: string) => {
    let name = base;
    for (let k = 2; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  const rename = (from: string, to: string) => {
    for (const n of g.node ?? []) {
      n.input = (n.input ?? []).map((x) => (x === from ? to : x));
      n.output = (n.output ?? []).map((x) => (x === from ? to : x));
    }
    for (const v of g.valueInfo ?? []) if (v.name === from) v.name = to;
  };
  const head = names.inputs.map((name) => {
    const inner = fresh(`${name}/float_io_fp16`);
    rename(name, inner);
    return { name: fresh(`${name}/float_io_cast`), opType: 'Cast', input: [name], output: [inner], attribute: [makeAttr('to', { i: FLOAT16 })] };
  });
  const tail = names.outputs.map((name) => {
    const inner = fresh(`${name}/float_io_fp16`);
    rename(name, inner);
    return { name: fresh(`${name}/float_io_cast`), opType: 'Cast', input: [inner], output: [name], attribute: [makeAttr('to', { i: FLOAT })] };
  });
  const wrapped = new Set([...names.inputs, ...names.outputs]);
  for (const v of [...(g.input ?? []), ...(g.output ?? [])]) if (wrapped.has(v.name!)) v.type!.tensorType!.elemType = FLOAT;
  g.node = [...head, ...(g.node ?? []), ...tail];
  return names;
}
