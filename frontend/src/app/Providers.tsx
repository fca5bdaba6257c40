import { QueryClientProvider, type QueryClient } from '@tanstack/react-query'
import { useEffect, type ReactNode } from 'react'
import type { ApiClient } from '@/api/client'
import { ToastProvider } from '@/components/ui/Toast'
import { sessionStore } from '@/lib/session'
import { ApiProvider } from './api'

export function Providers({
  client,
  queryClient,
  children,
}: {
  client: ApiClient
  queryClient: QueryClient
  children: ReactNode
}) {
  // Another user's cached data must never outlive the session that fetched it.
  useEffect(
    () =>
      sessionStore.subscribe(() => {
        if (!sessionStore.get()) queryClient.clear()
      }),
    [queryClient],
  )

  return (
    <ApiProvider client={client}>
      <QueryClientProvider client={queryClient}>
        <ToastProvider>{children}</ToastProvider>
      </QueryClientProvider>
    </ApiProvider>
  )
}
