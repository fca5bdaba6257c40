import { Plus, Waypoints, X } from 'lucide-react'
import { useState } from 'react'
import { useLocation, useNavigate, useSearchParams } from 'react-router'
import { PageHeader } from '@/app/AppShell'
import { Alert, LoadErrorAlert } from '@/components/ui/Alert'
import { Button, ButtonLink } from '@/components/ui/Button'
import { EmptyState } from '@/components/ui/EmptyState'
import { Skeleton } from '@/components/ui/Skeleton'
import { useMe } from '@/features/auth/hooks'
import { useGateways } from '../hooks'
import { CreateGatewayDialog } from './CreateGatewayDialog'
import { GatewayCard } from './GatewayCard'
import { SecretDialog, type ShownSecret } from './SecretDialog'

const DISMISS_KEY = 'tollgate.password-nudge-dismissed.'

function PasswordNudge() {
  const { data: me } = useMe()
  const location = useLocation()
  const justJoined = (location.state as { joined?: boolean } | null)?.joined === true
  const [dismissed, setDismissed] = useState(false)
  if (!me || me.has_password || dismissed) return null
  if (!justJoined && localStorage.getItem(DISMISS_KEY + me.id)) return null
  return (
    <Alert
      tone="info"
      className="mt-6"
      title={
        justJoined ? (
          <>
            Welcome! You are signed in as <strong data-testid="welcome-username">{me.username}</strong>
          </>
        ) : (
          <>
            Your account <strong>{me.username}</strong> has no password yet
          </>
        )
      }
      actions={
        <>
          <ButtonLink to="/profile#password" size="sm" variant="secondary">
            Set a password
          </ButtonLink>
          <Button
            size="icon-sm"
            variant="ghost"
            aria-label="Dismiss"
            onClick={() => {
              localStorage.setItem(DISMISS_KEY + me.id, '1')
              setDismissed(true)
            }}
          >
            <X />
          </Button>
        </>
      }
    >
      This account lives only in this browser until you set a password. With one, you can sign in anywhere.
    </Alert>
  )
}

export function GatewayListPage() {
  const { data: gateways, isPending, isError, error, refetch } = useGateways()
  const [params, setParams] = useSearchParams()
  const navigate = useNavigate()
  const [shown, setShown] = useState<ShownSecret | null>(null)
  const creating = params.get('new') === '1'
  const setCreating = (open: boolean) =>
    setParams(
      (p) => {
        const next = new URLSearchParams(p)
        if (open) next.set('new', '1')
        else next.delete('new')
        return next
      },
      { replace: true, state: null },
    )

  return (
    <div className="mx-auto max-w-6xl px-4 py-8 sm:px-6">
      <PageHeader
        title="Gateways"
        description="Each gateway is an OpenAI-compatible endpoint with its own secret, analytics and logs."
        actions={
          gateways && gateways.length > 0 ? (
            <Button variant="primary" icon={<Plus />} onClick={() => setCreating(true)}>
              New gateway
            </Button>
          ) : null
        }
      />
      <PasswordNudge />

      <div className="mt-6">
        {isPending ? (
          <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
            {[0, 1, 2].map((i) => (
              <Skeleton key={i} className="h-32 rounded-xl" />
            ))}
          </div>
        ) : isError ? (
          <LoadErrorAlert title="Could not load your gateways" error={error} onRetry={() => refetch()} />
        ) : gateways.length === 0 ? (
          <div className="rounded-xl border border-dashed border-border-strong bg-surface">
            <EmptyState
              icon={<Waypoints />}
              title="Create your first gateway"
              actions={
                <Button variant="primary" icon={<Plus />} onClick={() => setCreating(true)}>
                  New gateway
                </Button>
              }
            >
              A gateway gives you a base URL and a secret for any OpenAI client. The built-in model{' '}
              <code className="rounded bg-subtle px-1 font-mono text-xs">mock/echo</code> works right away, no
              provider key needed.
            </EmptyState>
          </div>
        ) : (
          <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3" aria-label="Your gateways">
            {gateways.map((gateway) => (
              <li key={gateway.id}>
                <GatewayCard gateway={gateway} />
              </li>
            ))}
          </ul>
        )}
      </div>

      <CreateGatewayDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(created) => {
          setCreating(false)
          setShown({ gatewayId: created.id, gatewayName: created.name, secret: created.secret, reason: 'created' })
        }}
      />
      <SecretDialog
        shown={shown}
        onClose={(next) => {
          const id = shown?.gatewayId
          setShown(null)
          if (id) navigate(next ?? `/g/${id}`)
        }}
      />
    </div>
  )
}
