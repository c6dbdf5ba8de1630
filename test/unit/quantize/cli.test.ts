/**
 * @module test/unit/quantize/cli
 * `berth quantize` end to end (through runQuantize, no subprocess): the example models
 * quantize, load in onnxruntime-node and agree with FP32; --into-repository picks the next
 * version; the accuracy guard keeps the sensitive node in float; bad inputs fail with a code
 * and never leave an output file.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerQuantizeCommand, runQuantize, type QuantizeFlags } from '../../../src/cli/quantize.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../../../src/onnx/build.js';
import { readModel, sha256File, writeModel } from '../../../src/onnx/io.js';
import { DataType, entriesToMap } from '../../../src/onnx/types.js';
import { loadDataset } from '../../../src/quantize/data.js';
import { predictedClasses, percentEqual } from '../../../src/quantize/evaluate.js';
import { modelInputSpecs, type QuantizeReport } from '../../../src/quantize/quantize.js';
import { randomArray, runModel } from '../onnx/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-quant-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const AVX2_ONLY = { arch: 'x64', flags: new Set(['sse4_2', 'avx', 'fma', 'avx2']) };

/** Parses real CLI arguments with the registered command, then runs it with captured output. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const program = new Command('berth').exitOverride();
  let captured: { model: string; flags: QuantizeFlags } | undefined;
  registerQuantizeCommand(program);
  program.commands[0]!.action((model: string, flags: QuantizeFlags) => { captured = { model, flags }; });
  await program.parseAsync(['node', 'berth', 'quantize', ...args]);
  let out = '', err = '';
  // The CPU is fixed (AVX2 without VNNI: reduce-range on by default), so these checks do not
  // depend on the machine; test/unit/quantize/cpu.test.ts covers the choice for each CPU kind.
  const code = await runQuantize(captured!.model, captured!.flags, { out: (t) => { out += `${t}\n`; }, err: (t) => { err += `${t}\n`; } }, AVX2_ONLY);
  return { code, out, err };
}

const income = 'examples/models/income/1/model.onnx';
const incomeData = 'examples/data/adult/test-encoded.json';
const digits = 'examples/models/digits/1/model.onnx';
const digitsData = 'examples/data/digits/test-images.json';
const haveExamples = existsSync(income) && existsSync(incomeData) && existsSync(digits) && existsSync(digitsData);

async function agreement(fp32: string, quantized: string, data: string, limit: number): Promise<{ agree: number; maxDiff: number }> {
  const ds = loadDataset({ path: data, limit }, modelInputSpecs(readModel(fp32)));
  const a = await runModel(readModel(fp32), ds.inputs);
  const b = await runModel(readModel(quantized), ds.inputs);
  const p = a.probabilities!.data as Float32Array, q = b.probabilities!.data as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < p.length; i++) maxDiff = Math.max(maxDiff, Math.abs(p[i]! - q[i]!));
  return { agree: percentEqual(predictedClasses(a.probabilities!), predictedClasses(b.probabilities!)), maxDiff };
}

test('income (MLP): static, dynamic and fp16 models load in ORT and agree with FP32', { skip: !haveExamples && 'example models not present' }, async () => {
  for (const mode of ['static', 'dynamic', 'fp16']) {
    const out = join(dir, `income-${mode}.onnx`);
    const r = await cli([income, '-o', out, '--mode', mode, '--validation', incomeData, '--validation-limit', '3000', '--calibration-limit', '500', '--max-accuracy-drop', '0.5', '--no-latency']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, mode === 'static' ? /accuracy % at batch 32 \(2500 samples/ : /accuracy % at batch 32 \(3000 samples/);
    const { agree, maxDiff } = await agreement(income, out, incomeData, 3000);
    // ≥ 99% same predicted class. Probabilities: FP16 within 0.01; INT8 within 0.15 — static
    // mode requantizes the logits to uint8 (step ≈ range/255 ≈ 0.08 here) before Softmax,
    // which moves a two-class probability by up to about a quarter of the logit error times 2.
    assert.ok(agree >= 99 && maxDiff < (mode === 'fp16' ? 0.01 : 0.15), `${mode}: agreement ${agree}%, max diff ${maxDiff}`);
    const meta = entriesToMap(readModel(out).metadataProps);
    assert.equal(meta.get('berth.quantize.mode'), mode);
    assert.equal(meta.get('berth.quantize.source_sha256'), sha256File(income));
    assert.equal(meta.get('berth.dataset')?.startsWith('UCI Adult'), true, 'existing metadata is kept');
    const report = JSON.parse(readFileSync(join(dir, `income-${mode}.quantize.json`), 'utf8')) as QuantizeReport;
    assert.ok(report.accuracy!.drop <= 0.5);
  }
});

test('digits (CNN): static per-channel QDQ within 0.5 points, about 4× smaller', { skip: !haveExamples && 'example models not present' }, async () => {
  const out = join(dir, 'digits-int8.onnx');
  const r = await cli([digits, '-o', out, '--mode', 'static', '--per-channel', '--method', 'entropy', '--validation', digitsData, '--max-accuracy-drop', '0.5', '--latency-batches', '1', '--json']);
  assert.equal(r.code, 0, r.err);
  const report = JSON.parse(r.out) as QuantizeReport;
  // int8 weights are 0.25 of float32; int32 biases, per-channel scales and names add ~0.02.
  assert.ok(report.size.ratio < 0.28, `size ratio ${report.size.ratio}`);
  assert.ok(report.accuracy!.drop <= 0.5);
  assert.equal(report.latency.batches.length, 1);
  const { agree } = await agreement(digits, out, digitsData, 360);
  assert.ok(agree >= 98, `agreement ${agree}`);
});

test('--into-repository writes <repo>/<model>/<max+1>/model.onnx', { skip: !haveExamples && 'example models not present' }, async () => {
  const repo = join(dir, 'repo');
  mkdirSync(join(repo, 'income', '1'), { recursive: true });
  mkdirSync(join(repo, 'income', '7'), { recursive: true });
  copyFileSync(income, join(repo, 'income', '1', 'model.onnx'));
  const src = join(repo, 'income', '1', 'model.onnx');
  assert.equal((await cli([src, '--into-repository', repo, '--no-latency'])).code, 0);
  assert.ok(existsSync(join(repo, 'income', '8', 'model.onnx')));
  assert.ok(existsSync(join(repo, 'income', '8', 'quantize-report.json')));
  assert.equal((await cli([src, '--into-repository', join(repo, 'income-int8'), '--no-latency'])).code, 0);
  assert.ok(existsSync(join(repo, 'income-int8', '1', 'model.onnx')));
});

/** 16 → 32 → 4 MLP whose second layer has one 1000× outlier weight: per-tensor int8 wipes out the rest. */
function fragileModel(): string {
  const w1 = randomArray(32 * 16, 31, 0.25);
  const w2 = randomArray(4 * 32, 32, 0.2);
  w2[5] = 200;
  const graph = makeGraph('fragile', [
    makeNode('Gemm', ['x', 'w1', 'b1'], ['h'], { name: 'layer1', attributes: { transB: 1 } }),
    makeNode('Relu', ['h'], ['r'], { name: 'relu' }),
    makeNode('Gemm', ['r', 'w2', 'b2'], ['probabilities'], { name: 'layer2', attributes: { transB: 1 } }),
  ], [makeValueInfo('x', DataType.FLOAT, ['batch', 16])], [makeValueInfo('probabilities', DataType.FLOAT, ['batch', 4])], [
    makeTensor('w1', DataType.FLOAT, [32, 16], w1), makeTensor('b1', DataType.FLOAT, [32], new Float32Array(32)),
    makeTensor('w2', DataType.FLOAT, [4, 32], w2), makeTensor('b2', DataType.FLOAT, [4], randomArray(4, 33, 0.1)),
  ]);
  const path = join(dir, 'fragile.onnx');
  writeModel(path, makeModel(graph));
  return path;
}

test('accuracy guard keeps the sensitive layer in float; --no-guard fails with exit 1 and writes no model', async () => {
  const path = fragileModel();
  const x = randomArray(400 * 16, 34);
  const ref = await runModel(readModel(path), { x: { type: 'float32', data: x, dims: [400, 16] } });
  const labels = predictedClasses(ref.probabilities!);
  writeFileSync(join(dir, 'val.json'), JSON.stringify({ x: Array.from(x), labels: Array.from(labels) }));
  const out = join(dir, 'fragile-int8.onnx');
  const guarded = await cli([path, '-o', out, '--validation', join(dir, 'val.json'), '--max-accuracy-drop', '0.5', '--no-latency', '--json']);
  assert.equal(guarded.code, 0, guarded.err);
  const report = JSON.parse(guarded.out) as QuantizeReport;
  assert.equal(report.guard.triggered, true);
  assert.equal(report.guard.keptFloat[0], 'layer2');
  assert.equal(report.guard.sensitivity[0]!.node, 'layer2');
  assert.ok(report.accuracy!.drop <= 0.5);
  assert.equal(report.nodes.find((n) => n.node === 'layer2')!.quantized, false);
  assert.equal(JSON.parse(entriesToMap(readModel(out).metadataProps).get('berth.quantize.float_nodes')!)[0], 'layer2');

  const failed = join(dir, 'fragile-noguard.onnx');
  const r = await cli([path, '-o', failed, '--validation', join(dir, 'val.json'), '--max-accuracy-drop', '0.5', '--no-guard', '--no-latency']);
  assert.equal(r.code, 1);
  assert.match(r.err, /BERTH_ERR_QUANTIZE_ACCURACY/);
  assert.equal(existsSync(failed), false);
  assert.ok(existsSync(join(dir, 'fragile-noguard.quantize.json')));
});

test('bad inputs fail with a code and leave no output file', async () => {
  const path = fragileModel();
  const cases: { args: string[]; code: string }[] = [
    { args: [path, '--op-types', 'LSTM'], code: 'BERTH_ERR_QUANTIZE_UNSUPPORTED_OP' },
    { args: [path, '--mode', 'static', '--calibration', join(dir, 'nope.npy')], code: 'BERTH_ERR_QUANTIZE_DATA' },
    { args: [path, '--mode', 'static'], code: 'BERTH_ERR_CLI_USAGE' },
  ];
  writeFileSync(join(dir, 'garbage.onnx'), 'definitely not onnx');
  cases.push({ args: [join(dir, 'garbage.onnx')], code: 'BERTH_ERR_ONNX_DECODE' });
  // A model whose only weights are int64 (no float weights at all).
  const noWeights = join(dir, 'noweights.onnx');
  writeModel(noWeights, makeModel(makeGraph('nw', [makeNode('Add', ['x', 'k'], ['y'])], [makeValueInfo('x', DataType.INT64, ['batch'])], [makeValueInfo('y', DataType.INT64, ['batch'])], [makeTensor('k', DataType.INT64, [1], [3])])));
  cases.push({ args: [noWeights], code: 'BERTH_ERR_QUANTIZE_NO_WEIGHTS' });
  for (const [i, c] of cases.entries()) {
    const out = join(dir, `bad-${i}.onnx`);
    const r = await cli([...c.args, '-o', out, '--no-latency']);
    assert.equal(r.code, 2, `${c.code}: exit ${r.code}\n${r.err}`);
    assert.match(r.err, new RegExp(`error \\[${c.code}\\]`));
    assert.equal(existsSync(out), false);
  }
});
