import type { CostBreakdown, LogEntry } from '@/api/types'

/** `provider/model`, unless the model already names its provider. */
export function qualifiedModel(provider: string | null, model: string): string {
  if (!provider || model.startsWith(`${provider}/`)) return model
  return `${provider}/${model}`
}

/**
 * Whether the final answer came from a fallback model rather than the one the
 * client asked for. The answering model is compared both with the asked id
 * (which may lack its provider, `gpt-4o`) and with the first attempt (which
 * was of the asked model, as the provider knows it), so a catalog id that
 * differs from the provider's own does not read as a fallback. Without failed
 * attempts the first attempt answered, which is never a fallback.
 */
export function answeredByFallback(log: LogEntry): boolean {
  const failed = log.failed_attempts ?? []
  if (failed.length === 0 || log.upstream_model === null) return false
  const answer = qualifiedModel(log.provider, log.upstream_model)
  const asked = qualifiedModel(log.provider, log.model)
  const first = qualifiedModel(failed[0].provider, failed[0].model)
  return answer !== asked && answer !== first
}

const COST_PARTS: { key: keyof CostBreakdown; label: string }[] = [
  { key: 'input', label: 'Input' },
  { key: 'cached_input', label: 'Cached input' },
  { key: 'cache_write', label: 'Cache write' },
  { key: 'output', label: 'Output' },
]

/** The parts of a cost that are not zero, in reading order. */
export function costParts(breakdown: CostBreakdown | null | undefined): { label: string; usd: number }[] {
  if (!breakdown) return []
  return COST_PARTS.map(({ key, label }) => ({ label, usd: breakdown[key] })).filter(({ usd }) => Number.isFinite(usd) && usd !== 0)
}
