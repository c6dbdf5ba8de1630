/**
 * @module onnx/metadata
 * Reads a model's descriptive fields (doc_string, producer, model_version and the
 * metadata_props key/value pairs) by walking ModelProto's top-level protobuf fields and
 * skipping the graph, so even a multi-gigabyte model costs one file read and no decode of
 * its weights. Field numbers from onnx.proto: producer_name 2, producer_version 3,
 * domain 4, model_version 5, doc_string 6, graph 7, metadata_props 14 (StringStringEntryProto:
 * key 1, value 2).
 */
import { readFileSync } from 'node:fs';

export interface ModelMetadata {
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  /** metadata_props as a map (a later duplicate key wins). */
  props: Record<string, string>;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly end = buf.length) {}

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      // Multiplication, not <<, so values past 2^31 (lengths of large fields) stay exact.
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  }

  /** Skips a field's value of the given wire type. */
  skip(wireType: number): void {
    switch (wireType) {
      case 0: this.varint(); return;
      case 1: this.pos += 8; return;
      case 2: {
        const len = this.varint(); // read first: `pos += varint()` would add to the old pos
        this.pos += len;
        return;
      }
      case 5: this.pos += 4; return;
      default: throw new Error(`unsupported protobuf wire type ${wireType}`);
    }
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.end) throw new Error('truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
}

const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

export function parseModelMetadata(buf: Uint8Array): ModelMetadata {
  const out: ModelMetadata = { producerName: '', producerVersion: '', domain: '', modelVersion: 0, docString: '', props: {} };
  const r = new Reader(buf);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire !== 2 && !(field === 5 && wire === 0)) {
      r.skip(wire);
      continue;
    }
    switch (field) {
      case 2: out.producerName = text(r.bytes()); break;
      case 3: out.producerVersion = text(r.bytes()); break;
      case 4: out.domain = text(r.bytes()); break;
      case 5: out.modelVersion = r.varint(); break;
      case 6: out.docString = text(r.bytes()); break;
      case 14: {
        const entry = r.bytes();
        const e = new Reader(entry);
        let key = '';
        let value = '';
        while (e.pos < e.end) {
          const t = e.varint();
          if (t === (1 << 3 | 2)) key = text(e.bytes());
          else if (t === (2 << 3 | 2)) value = text(e.bytes());
          else e.skip(t % 8);
        }
        out.props[key] = value;
        break;
      }
      default: r.skip(wire);
    }
  }
  return out;
}

export function readModelMetadata(path: string): ModelMetadata {
  return parseModelMetadata(readFileSync(path));
}
