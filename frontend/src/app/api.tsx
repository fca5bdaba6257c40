import { createContext, useContext, type ReactNode } from 'react'
import type { ApiClient } from '@/api/client'

const ApiContext = createContext<ApiClient | null>(null)

export function ApiProvider({ client, children }: { client: ApiClient; children: ReactNode }) {
  return <ApiContext.Provider value={client}>{children}</ApiContext.Provider>
}

export function useApi(): ApiClient {
  const client = useContext(ApiContext)
  if (!client) throw new Error('useApi outside ApiProvider')
  return client
}

/** Where OpenAI clients should point: `<API base>/v1`. */
export function useOpenAiBaseUrl(): string {
  return useApi().openAiBaseUrl(window.location.origin)
}
