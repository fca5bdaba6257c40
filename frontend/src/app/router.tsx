import { createBrowserRouter, isRouteErrorResponse, Navigate, useRouteError, type RouteObject } from 'react-router'
import { ButtonLink } from '@/components/ui/Button'
import { EmptyState } from '@/components/ui/EmptyState'
import { PageSpinner } from '@/components/ui/Spinner'
import { RequireAuth, signInPath } from '@/features/auth/RequireAuth'
import { useSession } from '@/features/auth/hooks'
import { LoginPage } from '@/features/auth/components/LoginPage'
import { WelcomePage } from '@/features/auth/components/WelcomePage'
import { GatewayLayout } from '@/features/gateways/components/GatewayLayout'
import { GatewayListPage } from '@/features/gateways/components/GatewayListPage'
import { sessionStore } from '@/lib/session'
import { AppShell } from './AppShell'

/** `/`: the gateway list when signed in, the welcome page otherwise. */
function Home() {
  const session = useSession()
  if (session) {
    return (
      <AppShell>
        <GatewayListPage />
      </AppShell>
    )
  }
  if (sessionStore.endReason() === 'expired') return <Navigate to={signInPath()} replace />
  return <WelcomePage />
}

function NotFound() {
  return (
    <div className="flex min-h-dvh items-center justify-center">
      <EmptyState
        title="Page not found"
        actions={
          <ButtonLink to="/" variant="primary">
            Go to your gateways
          </ButtonLink>
        }
      >
        There is nothing at this address.
      </EmptyState>
    </div>
  )
}

function RouteError() {
  const error = useRouteError()
  const message = isRouteErrorResponse(error)
    ? `${error.status} ${error.statusText}`
    : error instanceof Error
      ? error.message
      : 'Unknown error'
  return (
    <div className="flex min-h-dvh items-center justify-center">
      <EmptyState
        title="Something went wrong"
        actions={
          <ButtonLink to="/" variant="primary" reloadDocument>
            Reload the app
          </ButtonLink>
        }
      >
        {message}
      </EmptyState>
    </div>
  )
}

// Pages behind a sign-in load on demand, so the welcome page does not wait
// for the charting library.
export const routes: RouteObject[] = [
  {
    path: '/',
    errorElement: <RouteError />,
    // Shown while the first page's code loads on a cold start.
    hydrateFallbackElement: (
      <div className="flex min-h-dvh items-center justify-center">
        <PageSpinner />
      </div>
    ),
    children: [
      { index: true, element: <Home /> },
      { path: 'login', element: <LoginPage /> },
      {
        element: (
          <RequireAuth>
            <AppShell />
          </RequireAuth>
        ),
        children: [
          {
            path: 'profile',
            lazy: () => import('@/features/profile/components/ProfilePage').then((m) => ({ Component: m.ProfilePage })),
          },
          {
            path: 'g/:gatewayId',
            element: <GatewayLayout />,
            children: [
              {
                index: true,
                lazy: () =>
                  import('@/features/gateways/components/GatewayOverviewPage').then((m) => ({
                    Component: m.GatewayOverviewPage,
                  })),
              },
              {
                path: 'analytics',
                lazy: () =>
                  import('@/features/analytics/components/AnalyticsPage').then((m) => ({ Component: m.AnalyticsPage })),
              },
              {
                path: 'logs',
                lazy: () => import('@/features/logs/components/LogsPage').then((m) => ({ Component: m.LogsPage })),
              },
              {
                path: 'playground',
                lazy: () =>
                  import('@/features/playground/components/PlaygroundPage').then((m) => ({ Component: m.PlaygroundPage })),
              },
              {
                path: 'keys',
                lazy: () => import('@/features/keys/components/KeysPage').then((m) => ({ Component: m.KeysPage })),
              },
              {
                path: 'limits',
                lazy: () => import('@/features/limits/components/LimitsPage').then((m) => ({ Component: m.LimitsPage })),
              },
              {
                path: 'settings',
                lazy: () =>
                  import('@/features/gateways/components/GatewaySettingsPage').then((m) => ({
                    Component: m.GatewaySettingsPage,
                  })),
              },
            ],
          },
        ],
      },
      { path: '*', element: <NotFound /> },
    ],
  },
]

export const router = createBrowserRouter(routes)
