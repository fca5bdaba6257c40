import { keepPreviousData, useInfiniteQuery, useMutation, useQuery } from '@tanstack/react-query'
import { useApi } from '@/app/api'
import type { ExportFormat, LogFilters } from '@/api/types'
import { saveBlob } from '@/lib/download'

export const PAGE_SIZE = 50

export const logsKey = (gatewayId: string) => ['logs', gatewayId] as const

/** Newest-first calls, one page per "Load more". */
export function useLogs(gatewayId: string, filters: LogFilters) {
  const api = useApi()
  return useInfiniteQuery({
    queryKey: [...logsKey(gatewayId), filters],
    queryFn: ({ pageParam }) => api.logs(gatewayId, { ...filters, limit: PAGE_SIZE, before: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  })
}

export function useRecentLogs(gatewayId: string, limit = 5) {
  const api = useApi()
  return useQuery({
    queryKey: [...logsKey(gatewayId), 'recent', limit],
    queryFn: () => api.logs(gatewayId, { limit }),
    refetchInterval: 30_000,
  })
}

export function useExportLogs(gatewayId: string) {
  const api = useApi()
  return useMutation({
    mutationFn: async ({ format, filters }: { format: ExportFormat; filters: LogFilters }) => {
      const { blob, filename } = await api.exportLogs(gatewayId, format, filters)
      saveBlob(blob, filename)
      return filename
    },
  })
}
