/**
 * @module onnx/generate-descriptor
 * Regenerates `descriptor.ts` (the protobufjs JSON descriptor Berth decodes ONNX with) from
 * `onnx.proto`. Run after editing the schema: `npx tsx src/onnx/generate-descriptor.ts`.
 * The descriptor is checked into the repo so nothing parses .proto text at run time and the
 * compiled `dist/` needs no extra files; test/unit/onnx/schema.test.ts keeps the two equal.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** Parses ONNX schema text into the JSON descriptor form (field names in camelCase). */
export function descriptorFromProto(protoText: string): protobuf.INamespace {
  const parsed = protobuf.parse(protoText, { keepCase: false });
  return parsed.root.toJSON();
}

function main(): void {
  const protoPath = fileURLToPath(new URL('./onnx.proto', import.meta.url));
  const outPath = fileURLToPath(new URL('./descriptor.ts', import.meta.url));
  const json = descriptorFromProto(readFileSync(protoPath, 'utf8'));
  const text = [
    '/**',
    ' * @module onnx/descriptor',
    ' * GENERATED from onnx.proto by generate-descriptor.ts — do not edit by hand.',
    ' * The protobufjs JSON descriptor of the ONNX schema (IR version 10).',
    ' */',
    '',
    '/** protobufjs JSON descriptor (Root.fromJSON input). */',
    `export const ONNX_DESCRIPTOR: Record<string, unknown> = ${JSON.stringify(json, null, 2)};`,
    '',
  ].join('\n');
  writeFileSync(outPath, text);
  console.log(`wrote ${outPath}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
