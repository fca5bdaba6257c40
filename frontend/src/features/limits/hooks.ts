import { useMutation } from '@tanstack/react-query'
import { useApi } from '@/app/api'
import type { LimitsPatch } from '@/api/types'
import { useGateway, useStoreGateway } from '@/features/gateways/hooks'

/** How often the limits page reads the gateway's usage again. */
export const USAGE_REFRESH_MS = 5_000

/** The gateway with its limits, their ceilings and their use, kept fresh while shown. */
export function useGatewayLimits(gatewayId: string) {
  return useGateway(gatewayId, { refetchInterval: USAGE_REFRESH_MS })
}

export function useSetLimits(gatewayId: string) {
  const api = useApi()
  const store = useStoreGateway(gatewayId)
  return useMutation({
    mutationFn: (limits: LimitsPatch) => api.setLimits(gatewayId, limits),
    onSuccess: store,
  })
}
