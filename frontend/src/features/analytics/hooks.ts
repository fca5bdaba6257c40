import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { useApi } from '@/app/api'
import { analyticsRangeParams, rangeKey, type TimeRange } from '@/lib/range'

export const analyticsKey = (gatewayId: string) => ['analytics', gatewayId] as const

export function useAnalytics(gatewayId: string, range: TimeRange, model?: string) {
  const api = useApi()
  return useQuery({
    queryKey: [...analyticsKey(gatewayId), rangeKey(range), model ?? ''],
    // "Last 24 h" is relative to now, so its instants are computed per fetch.
    queryFn: () => api.analytics(gatewayId, { ...analyticsRangeParams(range), model: model || undefined }),
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  })
}
