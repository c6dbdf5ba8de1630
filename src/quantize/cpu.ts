/**
 * @module quantize/cpu
 * CPU-aware INT8 defaults. ONNX Runtime's x86 u8×s8 kernels without VNNI multiply with
 * vpmaddubsw, which adds two u8×s8 products into a saturating int16: 2 × 255 × 127 > 32767,
 * so full 8-bit weights can clip. 7-bit weights (`reduceRange`) cannot saturate
 * (2 × 255 × 64 < 32767). With VNNI (avx512_vnni or avx_vnni, vpdpbusd accumulates in int32)
 * or on non-x86 CPUs, full 8-bit weights are safe and more precise.
 * Pure functions: the CLI reads /proc/cpuinfo and passes the flags in.
 */

export interface CpuInfo {
  /** `process.arch` spelling: 'x64', 'ia32', 'arm64', … */
  arch: string;
  /** Lower-case feature flags (x86: the `flags` line of /proc/cpuinfo); undefined when unknown. */
  flags: ReadonlySet<string> | undefined;
  /** Human-readable CPU name, for the report (e.g. /proc/cpuinfo's `model name`). */
  model?: string;
}

export type CpuIsa = 'avx512_vnni' | 'avx_vnni' | 'avx2' | 'x86 without avx2' | 'non-x86' | 'unknown';

export interface ReduceRangeChoice {
  reduceRange: boolean;
  /** What decided it: the user's flag, or the CPU. */
  source: 'flag' | 'cpu';
  isa: CpuIsa;
  reason: string;
}

/** The `flags` and `model name` of the first processor in /proc/cpuinfo text. */
export function parseCpuinfo(text: string): { flags: Set<string> | undefined; model: string | undefined } {
  let flags: Set<string> | undefined;
  let model: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^([^:]+?)\s*:\s*(.*)$/.exec(line);
    if (m === null) continue;
    const key = m[1]!.trim().toLowerCase();
    if (flags === undefined && key === 'flags') flags = new Set(m[2]!.trim().toLowerCase().split(/\s+/).filter((f) => f !== ''));
    if (model === undefined && key === 'model name') model = m[2]!.trim();
    if (flags !== undefined && model !== undefined) break;
  }
  return { flags, model };
}

export function cpuIsa(cpu: CpuInfo): CpuIsa {
  if (cpu.arch !== 'x64' && cpu.arch !== 'ia32') return 'non-x86';
  if (cpu.flags === undefined) return 'unknown';
  if (cpu.flags.has('avx512_vnni')) return 'avx512_vnni';
  if (cpu.flags.has('avx_vnni')) return 'avx_vnni';
  if (cpu.flags.has('avx2')) return 'avx2';
  return 'x86 without avx2';
}

/** Chooses 7-bit weights or not: the explicit flag wins; otherwise on only for x86 without VNNI. */
export function chooseReduceRange(cpu: CpuInfo, explicit: boolean | undefined): ReduceRangeChoice {
  const isa = cpuIsa(cpu);
  if (explicit !== undefined) {
    return { reduceRange: explicit, source: 'flag', isa, reason: `${explicit ? '--reduce-range' : '--no-reduce-range'} given (CPU: ${isa})` };
  }
  switch (isa) {
    case 'avx512_vnni':
    case 'avx_vnni':
      return { reduceRange: false, source: 'cpu', isa, reason: `CPU has ${isa}: int8 products accumulate in int32, full 8-bit weights are safe` };
    case 'avx2':
    case 'x86 without avx2':
      return { reduceRange: true, source: 'cpu', isa, reason: `x86 CPU without VNNI (${isa}): ONNX Runtime's u8×s8 kernels add pairs of products in saturating int16, so weights use 7 bits (--reduce-range); --no-reduce-range to override` };
    case 'non-x86':
      return { reduceRange: false, source: 'cpu', isa, reason: `non-x86 CPU (${cpu.arch}): no int16 saturation in ONNX Runtime's kernels, full 8-bit weights` };
    default:
      return { reduceRange: false, source: 'cpu', isa, reason: 'x86 CPU flags unknown (no /proc/cpuinfo): full 8-bit weights; pass --reduce-range on a CPU without VNNI' };
  }
}

/** The x86 feature flags that decide which ONNX Runtime (MLAS) kernels run, as far as the CPU has them. */
const KERNEL_FLAGS = ['sse4_1', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_int8'];

/** The kernel-relevant flags this CPU reports, for the report's "measured on" label. */
export function kernelFlags(cpu: CpuInfo): string[] {
  return cpu.flags === undefined ? [] : KERNEL_FLAGS.filter((f) => cpu.flags!.has(f));
}
