import { ChartNoAxesCombined, FlaskConical, Gauge, KeyRound, LayoutDashboard, ScrollText, Settings } from 'lucide-react'
import { NavLink, Outlet, useParams } from 'react-router'
import { ApiError } from '@/api/client'
import { LoadErrorAlert } from '@/components/ui/Alert'
import { ButtonLink } from '@/components/ui/Button'
import { EmptyState } from '@/components/ui/EmptyState'
import { Skeleton } from '@/components/ui/Skeleton'
import { cn } from '@/components/ui/cn'
import { useGateway } from '../hooks'

const tabs = [
  { to: '', label: 'Overview', icon: <LayoutDashboard />, end: true },
  { to: 'analytics', label: 'Analytics', icon: <ChartNoAxesCombined /> },
  { to: 'logs', label: 'Logs', icon: <ScrollText /> },
  { to: 'playground', label: 'Playground', icon: <FlaskConical /> },
  { to: 'keys', label: 'Keys', icon: <KeyRound /> },
  { to: 'limits', label: 'Limits', icon: <Gauge /> },
  { to: 'settings', label: 'Settings', icon: <Settings /> },
]

export function GatewayLayout() {
  const { gatewayId = '' } = useParams()
  const { data: gateway, isPending, isError, error, refetch } = useGateway(gatewayId)

  if (isError && error instanceof ApiError && error.status === 404) {
    return (
      <EmptyState
        className="py-24"
        title="Gateway not found"
        actions={
          <ButtonLink to="/" variant="primary">
            Back to your gateways
          </ButtonLink>
        }
      >
        It may have been deleted, or it belongs to another account.
      </EmptyState>
    )
  }

  return (
    <div>
      <div className="border-b border-border bg-surface/50">
        <div className="mx-auto max-w-6xl px-4 sm:px-6">
          <div className="flex flex-wrap items-center gap-x-3 gap-y-1 pt-6">
            {isPending ? (
              <Skeleton className="h-8 w-48" />
            ) : (
              <h1 className="min-w-0 truncate text-2xl font-semibold tracking-tight text-fg" data-testid="gateway-name">
                {gateway?.name}
              </h1>
            )}
            {gateway && (
              <span className="rounded-md border border-border bg-subtle px-1.5 py-0.5 font-mono text-xs text-muted" title="Secret hint">
                {gateway.secret_hint}
              </span>
            )}
          </div>
          <nav aria-label="Gateway sections" className="-mb-px mt-4 flex gap-1 overflow-x-auto">
            {tabs.map((tab) => (
              <NavLink
                key={tab.label}
                to={tab.to}
                end={tab.end}
                className={({ isActive }) =>
                  cn(
                    'flex items-center gap-1.5 border-b-2 px-2.5 pt-1 pb-2.5 text-[13px] font-medium whitespace-nowrap transition-colors [&_svg]:size-4',
                    isActive ? 'border-fg text-fg' : 'border-transparent text-muted hover:text-fg',
                  )
                }
              >
                {tab.icon}
                {tab.label}
              </NavLink>
            ))}
          </nav>
        </div>
      </div>
      <div className="mx-auto max-w-6xl px-4 py-6 sm:px-6">
        {isError && !gateway ? (
          <LoadErrorAlert title="Could not load this gateway" error={error} onRetry={() => refetch()} />
        ) : (
          <Outlet />
        )}
      </div>
    </div>
  )
}
