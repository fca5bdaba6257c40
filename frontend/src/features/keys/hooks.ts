import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useApi } from '@/app/api'
import type { NewProviderKey, ProviderKeyList } from '@/api/types'

export const providerKeysKey = (gatewayId: string) => ['provider-keys', gatewayId] as const

/** The gateway's own provider keys (hints only) and the providers it may add one for. */
export function useProviderKeys(gatewayId: string) {
  const api = useApi()
  return useQuery({
    queryKey: providerKeysKey(gatewayId),
    queryFn: () => api.listProviderKeys(gatewayId),
    // A key turns invalid when a provider refuses it during a call.
    refetchInterval: 30_000,
  })
}

/** Which models can answer depends on the keys: the playground's list must follow. */
function useKeysChanged(gatewayId: string) {
  const queryClient = useQueryClient()
  return () => {
    void queryClient.invalidateQueries({ queryKey: providerKeysKey(gatewayId) })
    void queryClient.invalidateQueries({ queryKey: ['models', gatewayId] })
  }
}

export function useAddProviderKey(gatewayId: string) {
  const api = useApi()
  const queryClient = useQueryClient()
  const changed = useKeysChanged(gatewayId)
  return useMutation({
    mutationFn: (key: NewProviderKey) => api.addProviderKey(gatewayId, key),
    onSuccess: (added) => {
      queryClient.setQueryData<ProviderKeyList>(providerKeysKey(gatewayId), (list) =>
        list ? { ...list, keys: [...list.keys, added] } : list,
      )
      changed()
    },
  })
}

export function useDeleteProviderKey(gatewayId: string) {
  const api = useApi()
  const queryClient = useQueryClient()
  const changed = useKeysChanged(gatewayId)
  return useMutation({
    mutationFn: (keyId: string) => api.deleteProviderKey(gatewayId, keyId),
    onSuccess: (_, keyId) => {
      queryClient.setQueryData<ProviderKeyList>(providerKeysKey(gatewayId), (list) =>
        list ? { ...list, keys: list.keys.filter((key) => key.id !== keyId) } : list,
      )
      changed()
    },
  })
}
