/**
 * @module repository/version-policy
 * Which of a model's available versions to serve: the latest N (default 1), all, or a
 * specific list (Triton's version_policy).
 */
import type { VersionPolicy } from './model-config.js';

export function selectVersions(policy: VersionPolicy, available: readonly number[]): number[] {
  const sorted = [...available].sort((a, b) => b - a);
  if ('latest' in policy) return sorted.slice(0, policy.latest.numVersions);
  if ('all' in policy) return sorted;
  const wanted = new Set(policy.specific.versions);
  return sorted.filter((v) => wanted.has(v));
}
