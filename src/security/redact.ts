/**
 * @module security/redact
 * What goes out in HTTP answers says what failed, not where: model paths lose the repository
 * root (`income/1/model.onnx`), and ONNX Runtime's C++ source locations
 * (`/onnxruntime_src/onnxruntime/core/…/reshape_helper.h:91 onnxruntime::ReshapeHelper::…(…)`)
 * are dropped. The server log keeps the full text.
 */
import { realpathSync } from 'node:fs';
import { resolve, sep } from 'node:path';

/**
 * An ONNX Runtime source file with its line, and the C++ function signature that follows it
 * in ORT_ENFORCE messages (`[return type] onnxruntime::Class::method(args) [const]`).
 */
const ORT_SOURCE = /(?:\/[\w.+-]+)*\/onnxruntime\/[\w./+-]+\.(?:cc|cpp|cxx|c|h|hpp|cu|inc):\d+(?: (?:[\w:<>,*&~]+ )*?[\w:<>~]*onnxruntime::[\w:<>~]+\([^()]*\)(?: const)?)? ?/g;

export class Redactor {
  readonly #roots: string[];

  /** `roots`: directories whose absolute paths are cut to relative ones (the model repository). */
  constructor(roots: readonly string[]) {
    const all = new Set<string>();
    for (const r of roots) {
      all.add(stripSep(r));
      all.add(stripSep(resolve(r)));
      try {
        all.add(stripSep(realpathSync(r)));
      } catch {
        // Not there (yet): the given and resolved spellings are enough.
      }
    }
    // Longest first, so /srv/models/x is not cut at /srv/models's parent spelled shorter.
    this.#roots = [...all].filter((r) => r.length > 1 && r.startsWith(sep)).sort((a, b) => b.length - a.length);
  }

  /** Whether `text` has anything to strip (cheap; most answers have not). */
  applies(text: string): boolean {
    return this.#roots.some((r) => text.includes(r)) || text.includes('/onnxruntime/');
  }

  redact(text: string): string {
    let out = text;
    for (const r of this.#roots) {
      if (!out.includes(r)) continue;
      out = out.split(`${r}${sep}`).join('').replace(new RegExp(`${escapeRegExp(r)}(?![\\w.-])`, 'g'), '<repository>');
    }
    if (out.includes('/onnxruntime/')) out = out.replace(ORT_SOURCE, '');
    return out;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function stripSep(p: string): string {
  return p.length > 1 && p.endsWith(sep) ? p.slice(0, -1) : p;
}
