/**
 * @module test/unit/quantize/cpu
 * CPU-aware INT8 defaults (issue 8 item 6): the reduce-range choice for both kinds of x86
 * CPU as a pure function over a flags set, /proc/cpuinfo parsing, and that the choice
 * reaches the weights, the metadata and the printed report — whatever CPU runs the test.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerQuantizeCommand, runQuantize, type QuantizeFlags } from '../../../src/cli/quantize.js';
import { decodeModel } from '../../../src/onnx/codec.js';
import { writeModel } from '../../../src/onnx/io.js';
import { entriesToMap } from '../../../src/onnx/types.js';
import { chooseReduceRange, cpuIsa, parseCpuinfo, type CpuInfo } from '../../../src/quantize/cpu.js';
import { quantize } from '../../../src/quantize/quantize.js';
import { matmulModel } from '../onnx/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-quant-cpu-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Flag lines as Linux prints them (abridged): an AVX2-only AMD EPYC (Zen 2) and an AVX-512 VNNI one.
const AVX2_FLAGS = 'fpu vme de pse tsc msr sse sse2 ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand bmi1 avx2 smep bmi2';
const VNNI_FLAGS = `${AVX2_FLAGS} avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 avx512vbmi avx512_vnni avx512_bitalg`;
const cpu = (flags: string, arch = 'x64'): CpuInfo => ({ arch, flags: new Set(flags.split(' ')) });

test('reduce-range default: on for x86 without VNNI, off with avx512_vnni or avx_vnni, off elsewhere', () => {
  assert.deepEqual([chooseReduceRange(cpu(AVX2_FLAGS), undefined).reduceRange, cpuIsa(cpu(AVX2_FLAGS))], [true, 'avx2']);
  assert.deepEqual([chooseReduceRange(cpu(VNNI_FLAGS), undefined).reduceRange, cpuIsa(cpu(VNNI_FLAGS))], [false, 'avx512_vnni']);
  assert.equal(chooseReduceRange(cpu(`${AVX2_FLAGS} avx_vnni`), undefined).reduceRange, false); // Alder Lake style AVX-VNNI
  assert.equal(chooseReduceRange(cpu('fpu sse sse2 sse4_1'), undefined).reduceRange, true);
  assert.equal(chooseReduceRange(cpu('fp asimd asimddp', 'arm64'), undefined).reduceRange, false);
  assert.equal(chooseReduceRange({ arch: 'x64', flags: undefined }, undefined).reduceRange, false);
  // An explicit flag always wins, and the reason says so.
  const forcedOff = chooseReduceRange(cpu(AVX2_FLAGS), false);
  assert.deepEqual([forcedOff.reduceRange, forcedOff.source], [false, 'flag']);
  assert.match(forcedOff.reason, /--no-reduce-range given \(CPU: avx2\)/);
  assert.equal(chooseReduceRange(cpu(VNNI_FLAGS), true).reduceRange, true);
  assert.match(chooseReduceRange(cpu(AVX2_FLAGS), undefined).reason, /without VNNI \(avx2\).*7 bits/);
});

test('/proc/cpuinfo: the first processor\'s flags and model name', () => {
  const text = `processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B12\nflags\t\t: ${AVX2_FLAGS}\n\nprocessor\t: 1\nmodel name\t: other\nflags\t\t: fpu\n`;
  const p = parseCpuinfo(text);
  assert.equal(p.model, 'AMD EPYC 7B12');
  assert.ok(p.flags!.has('avx2') && !p.flags!.has('avx512_vnni') && p.flags!.size === AVX2_FLAGS.split(' ').length);
  assert.equal(parseCpuinfo('Processor\t: ARMv8\nFeatures\t: fp asimd\n').flags, undefined);
});

test('the CPU choice reaches the weights (7-bit on AVX2, 8-bit on VNNI), the metadata and the printed table', async () => {
  const path = join(dir, 'mm.onnx');
  writeModel(path, matmulModel(32, 8));
  const maxAbsWeight = (bytes: Uint8Array): number => {
    const w = decodeModel(bytes).graph!.initializer!.find((t) => t.name === 'w_quantized')!;
    return Math.max(...new Int8Array(w.rawData!.buffer, w.rawData!.byteOffset, w.rawData!.byteLength).map(Math.abs));
  };
  const avx2 = await quantize(path, { mode: 'dynamic', cpu: cpu(AVX2_FLAGS), latencyBatches: [], threads: 1 });
  assert.equal(maxAbsWeight(avx2.bytes), 64); // symmetric 7-bit: [-64, 64]
  assert.equal(entriesToMap(decodeModel(avx2.bytes).metadataProps).get('berth.quantize.reduce_range'), 'true');
  assert.deepEqual([avx2.report.reduceRange!.reduceRange, avx2.report.reduceRange!.source, avx2.report.cpu!.isa], [true, 'cpu', 'avx2']);
  const vnni = await quantize(path, { mode: 'dynamic', cpu: cpu(VNNI_FLAGS), latencyBatches: [], threads: 1 });
  assert.equal(maxAbsWeight(vnni.bytes), 127);
  assert.equal(entriesToMap(decodeModel(vnni.bytes).metadataProps).get('berth.quantize.reduce_range'), 'false');

  // Through the CLI: the table names the CPU and says what was chosen and why; --no-reduce-range overrides.
  const run = async (args: string[], c: CpuInfo): Promise<{ code: number; out: string }> => {
    const program = new Command('berth').exitOverride();
    registerQuantizeCommand(program);
    let captured: { model: string; flags: QuantizeFlags } | undefined;
    program.commands[0]!.action((model: string, flags: QuantizeFlags) => { captured = { model, flags }; });
    await program.parseAsync(['node', 'berth', 'quantize', path, ...args]);
    let out = '';
    const code = await runQuantize(captured!.model, captured!.flags, { out: (t) => { out += t; }, err: () => {} }, c);
    return { code, out };
  };
  const printed = await run(['-o', join(dir, 'a.onnx'), '--no-latency'], { ...cpu(AVX2_FLAGS), model: 'AMD EPYC 7B12' });
  assert.equal(printed.code, 0);
  assert.match(printed.out, /cpu {5}AMD EPYC 7B12 \(avx2; sse4_1 avx avx2 fma f16c\)/);
  assert.match(printed.out, /weights 7-bit \(reduce-range\): x86 CPU without VNNI/);
  const overridden = await run(['-o', join(dir, 'b.onnx'), '--no-latency', '--no-reduce-range'], cpu(AVX2_FLAGS));
  assert.match(overridden.out, /weights 8-bit: --no-reduce-range given/);
  assert.equal(maxAbsWeight(readFileSync(join(dir, 'b.onnx'))), 127);
});
