import type { ModelPricing, Usage } from '@/api/types'

/**
 * USD cost of one call from its usage and the model's prices per million
 * tokens. Cached prompt tokens are part of prompt_tokens and are billed at the
 * cached price when the model has one. Null when the model has no prices.
 */
export function computeCost(usage: Usage, pricing: ModelPricing | null | undefined): number | null {
  if (!pricing) return null
  const cached = Math.min(usage.prompt_tokens_details?.cached_tokens ?? 0, usage.prompt_tokens)
  const uncached = usage.prompt_tokens - cached
  const cachedPrice = pricing.cached_input_per_mtok ?? pricing.input_per_mtok
  return (
    (uncached * pricing.input_per_mtok + cached * cachedPrice + usage.completion_tokens * pricing.output_per_mtok) /
    1_000_000
  )
}

/** "$0.15 / $0.60 per 1M tokens" style description of a price. */
export function describePricing(pricing: ModelPricing | null | undefined): string | null {
  if (!pricing) return null
  const fmt = (n: number) => `$${Number(n.toFixed(4))}`
  return `${fmt(pricing.input_per_mtok)} in · ${fmt(pricing.output_per_mtok)} out per 1M tokens`
}
