import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { RouterProvider } from 'react-router'
import { createApiClient } from '@/api/client'
import { sessionStore } from '@/lib/session'
import { applyTheme } from '@/lib/theme'
import { Providers } from '@/app/Providers'
import { createQueryClient } from '@/app/queryClient'
import { router } from '@/app/router'
import './index.css'

applyTheme()

const client = createApiClient({
  baseUrl: import.meta.env.VITE_API_BASE_URL ?? '',
  getToken: sessionStore.token,
  onUnauthorized: (token) => sessionStore.reject(token),
})

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Providers client={client} queryClient={createQueryClient()}>
      <RouterProvider router={router} />
    </Providers>
  </StrictMode>,
)
