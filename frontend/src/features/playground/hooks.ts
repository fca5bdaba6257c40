import { useQuery } from '@tanstack/react-query'
import { useApi } from '@/app/api'

/** The gateway's models (GET /v1/models), which needs the gateway secret. */
export function useModels(gatewayId: string, secret: string) {
  const api = useApi()
  return useQuery({
    queryKey: ['models', gatewayId, secret],
    queryFn: () => api.listModels(secret),
    enabled: secret.trim().length > 0,
    staleTime: 5 * 60_000,
    retry: false,
  })
}
