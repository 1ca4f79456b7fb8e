import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { attr, attrInt, attrInts, makeAttr, OnnxGraph, prune, removeNodes, setAttr, weightNodes, type Graph, type Node } from '../../engine/onnx/graph';
import { encodeModel } from '../../engine/onnx/model-proto';
import { BFLOAT16, DOUBLE, FLOAT, FLOAT16, INT64, readFloats, tensorValues, writeFloats } from '../../engine/onnx/tensor-data';

const vi = (name: string) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: 2 }] } } } });
const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

/**
 * y = (x + w) * c; a dead branch d = Neg(x) → e = Abs(d) nothing reads; `unused` is read by no one;
 * `wh` is an fp16 weight read through a Cast (fp16 storage, fp32 compute).
 */
function sample(): Graph {
  return {
    name: 'g',
    input: [vi('x')],
    output: [vi('y')],
    initializer: [
      { name: 'w', dims: [2], dataType: FLOAT, rawData: f32(1, 2) },
      { name: 'c', dims: [2], dataType: FLOAT, floatData: [10, 100] },
      { name: 'unused', dims: [1], dataType: FLOAT, rawData: f32(7) },
      { name: 'wh', dims: [2], dataType: FLOAT16, rawData: new Uint8Array(Float16Array.of(0.5, -4).buffer) },
    ],
    node: [
      { name: '/m/blk/Add', opType: 'Add', input: ['x', 'w'], output: ['s'] },
      { name: '/m/dead/Neg', opType: 'Neg', input: ['x'], output: ['d'] },
      { name: '/m/dead/Abs', opType: 'Abs', input: ['d'], output: ['e'] },
      { name: '/m/blk/Mul', opType: 'Mul', input: ['s', 'c'], output: ['y'] },
      { name: '/m/half/Cast', opType: 'Cast', input: ['wh'], output: ['wh32'], attribute: [makeAttr('to', { i: FLOAT })] },
      { name: '/m/proj/MatMul', opType: 'MatMul', input: ['x', 'wh32'], output: ['p'] },
    ],
    valueInfo: [vi('s'), vi('d')],
  };
}
const names = (nodes: Node[] | null | undefined) => (nodes ?? []).map((n) => n.name);

async function run(g: Graph, x: number[]): Promise<number[]> {
  const s = await ort.InferenceSession.create(encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: g }), { logSeverityLevel: 3 });
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from(x), [2]) });
  await s.release();
  return [...(out.y!.data as Float32Array)];
}

describe('graph helper: structure (OnnxModel-style)', () => {
  it('producers, consumers, parents and initializers, looking through the Cast of an fp16 weight', () => {
    const g = new OnnxGraph(sample());
    expect(g.producer('s')?.name).toBe('/m/blk/Add');
    expect(g.producer('x')).toBeUndefined();
    expect(names(g.consumers('x'))).toEqual(['/m/blk/Add', '/m/dead/Neg', '/m/proj/MatMul']);
    expect(g.consumers('y')).toEqual([]);
    const mul = g.producer('y')!;
    expect(g.parent(mul, 0, 'Add')?.name).toBe('/m/blk/Add');
    expect(g.parent(mul, 0, 'Sub')).toBeUndefined();
    expect(g.parent(mul, 1)).toBeUndefined(); // an initializer, not a node
    expect(g.initializer('c')?.floatData).toEqual([10, 100]);
    expect(g.initializer('wh32')).toBeUndefined();
    expect(g.weight('wh32')?.name).toBe('wh');
    expect(g.weight('s')).toBeUndefined();
  });

  it('attributes: typed reads, set replaces or adds, the type follows the field given', () => {
    const n: Node = { opType: 'Transpose', attribute: [makeAttr('perm', { ints: [0, 2, 1, 3] })] };
    expect(attrInts(n, 'perm')).toEqual([0, 2, 1, 3]);
    expect(attrInt(n, 'axis')).toBeUndefined();
    setAttr(n, 'axis', { i: 3 });
    setAttr(n, 'perm', { ints: [1, 0] });
    expect(attrInt(n, 'axis')).toBe(3);
    expect(attrInts(n, 'perm')).toEqual([1, 0]);
    expect(n.attribute!.length).toBe(2);
    expect([attr(n, 'perm')!.type, attr(n, 'axis')!.type, makeAttr('scale', { f: 0.5 }).type, makeAttr('value', { t: {} }).type]).toEqual([7, 2, 1, 4]);
  });

  it('prune keeps what the outputs need, in order, and drops dead nodes, unused initializers and value infos', async () => {
    const g = prune(sample());
    expect(names(g.node)).toEqual(['/m/blk/Add', '/m/blk/Mul']);
    expect(g.initializer!.map((t) => t.name)).toEqual(['w', 'c']);
    expect(g.valueInfo!.map((v) => v.name)).toEqual(['s']);
    expect(g.input!.map((i) => i.name)).toEqual(['x']);
    // the pruned graph is a valid model that computes the same thing
    expect(await run(g, [1, 1])).toEqual(await run(sample(), [1, 1]));
    expect(await run(g, [1, 1])).toEqual([20, 300]);
  });

  it('prune at a cut point: the cut tensor becomes fed, what produced it goes', () => {
    const g = prune(sample(), ['s']);
    expect(names(g.node)).toEqual(['/m/blk/Mul']);
    expect(g.initializer!.map((t) => t.name)).toEqual(['c']);
    expect(g.valueInfo!.map((v) => v.name)).toEqual([]);
  });

  it('prune keeps the producers of tensors read only inside a subgraph (If/Loop bodies)', () => {
    const body: Graph = { node: [{ name: 'inner', opType: 'Identity', input: ['d'], output: ['o'] }], output: [vi('o')] };
    const g = sample();
    g.node!.push({ name: '/m/if/If', opType: 'If', input: ['cond'], output: ['y2'], attribute: [makeAttr('then_branch', { g: body }), makeAttr('else_branch', { g: body })] });
    g.output!.push(vi('y2'));
    expect(names(prune(g).node)).toEqual(['/m/blk/Add', '/m/dead/Neg', '/m/blk/Mul', '/m/if/If']);
  });

  it('removeNodes drops the nodes and whatever only they needed', () => {
    const g = sample();
    g.output!.push(vi('e'));
    expect(names(prune(g).node)).toEqual(['/m/blk/Add', '/m/dead/Neg', '/m/dead/Abs', '/m/blk/Mul']);
    // Abs goes, and Neg with it (only Abs read it); rewiring `e` is the caller's business
    const out = removeNodes(g, [g.node!.find((n) => n.opType === 'Abs')!]);
    expect(names(out.node)).toEqual(['/m/blk/Add', '/m/blk/Mul']);
  });

  it('weightNodes finds MatMul weights by module path, through an fp16 Cast, with the export prefix', () => {
    const w = weightNodes(sample());
    expect([...w.keys()]).toEqual(['m.proj']);
    expect(w.get('m.proj')).toMatchObject({ op: 'MatMul', transposed: true, tensor: { name: 'wh' } });
  });
});

describe('graph helper: one reader of tensor values', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tensor-data-'));

  it('fp32 from raw_data and float_data, fp16 from raw_data and int32_data, bf16 — all as fp32', () => {
    expect([...readFloats({ dataType: FLOAT, rawData: f32(1.5, -2) }, '')]).toEqual([1.5, -2]);
    expect([...readFloats({ dataType: FLOAT, floatData: [3, 4] }, '')]).toEqual([3, 4]);
    expect([...readFloats({ dataType: FLOAT16, rawData: new Uint8Array(Uint16Array.of(0x3c00, 0xc400).buffer) }, '')]).toEqual([1, -4]);
    expect([...readFloats({ dataType: FLOAT16, int32Data: [0x3800, 0x7bff] }, '')]).toEqual([0.5, 65504]);
    expect([...readFloats({ dataType: BFLOAT16, rawData: new Uint8Array(Uint16Array.of(0x3f80, 0xc0a0).buffer) }, '')]).toEqual([1, -5]);
    expect(() => readFloats({ name: 'ids', dataType: INT64, int64Data: [1] }, 'm.onnx')).toThrow(/m\.onnx: tensor ids is not float32\/float16\/bfloat16 \(type 7\)/);
  });

  it('integers and doubles keep their values (shape constants, scales)', () => {
    expect(tensorValues({ dataType: INT64, rawData: new Uint8Array(BigInt64Array.of(-1n, 4096n).buffer) })).toEqual([-1, 4096]);
    expect(tensorValues({ dataType: INT64, int64Data: [2, 77] })).toEqual([2, 77]);
    expect([...tensorValues({ dataType: DOUBLE, doubleData: [0.1] })]).toEqual([0.1]);
    expect(() => tensorValues({ name: 'flags', dataType: 9 })).toThrow(/tensor flags has element type 9/);
  });

  it('external data beside the model: read at its offset; bounds and missing files named', () => {
    writeFileSync(join(dir, 'weights.bin'), Buffer.concat([Buffer.alloc(8), Buffer.from(f32(5, 6))]));
    const ext = (offset: number, length: number, location = 'weights.bin') => ({
      name: 'w', dims: [2], dataType: FLOAT, dataLocation: 1,
      externalData: [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(length) }],
    });
    const model = join(dir, 'model.onnx');
    expect([...readFloats(ext(8, 8), model)]).toEqual([5, 6]);
    expect(() => readFloats(ext(12, 8), model)).toThrow(/weights\.bin: initializer w needs 8 bytes at offset 12, the file has 4 there/);
    expect(() => readFloats(ext(8, 12), model)).toThrow(/model\.onnx: initializer w declares 12 external bytes but \[2\] needs 8/);
    expect(() => readFloats(ext(0, 8, 'gone.bin'), model)).toThrow(/model\.onnx: initializer w lives in .*gone\.bin, which cannot be read/);
    expect(() => readFloats(ext(8, 8), '')).toThrow(/tensor w is stored as external data, and no model path says where/);
  });

  it('writeFloats stores values inline in the tensor\'s own type, external references dropped', () => {
    const t = { name: 'w', dims: [2], dataType: FLOAT16, dataLocation: 1, externalData: [{ key: 'location', value: 'x' }] };
    writeFloats(t, Float32Array.of(0.25, 3));
    expect([t.dataLocation, t.externalData]).toEqual([0, []]);
    expect([...readFloats(t, '')]).toEqual([0.25, 3]);
    const d = { name: 'd', dataType: DOUBLE };
    expect(() => writeFloats(d, Float32Array.of(1))).toThrow(/tensor d: only float32\/float16 values are written back/);
  });
});
