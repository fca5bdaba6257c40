import { KeyRound, Trash2 } from 'lucide-react'
import { useEffect, useState } from 'react'
import { useNavigate, useParams } from 'react-router'
import type { Gateway } from '@/api/types'
import { Alert, errorMessage } from '@/components/ui/Alert'
import { Button } from '@/components/ui/Button'
import { Card, CardBody, CardHeader } from '@/components/ui/Card'
import { Dialog } from '@/components/ui/Dialog'
import { Field, Input } from '@/components/ui/Field'
import { useToast } from '@/components/ui/Toast'
import { formatDate, formatDateTime } from '@/lib/format'
import { useQueryClient } from '@tanstack/react-query'
import { analyticsKey } from '@/features/analytics/hooks'
import { providerKeysKey } from '@/features/keys/hooks'
import { logsKey } from '@/features/logs/hooks'
import { gatewayKey, useDeleteGateway, useGateway, useRenameGateway, useRotateSecret } from '../hooks'
import { FallbacksCard } from './FallbacksCard'
import { SecretDialog, type ShownSecret } from './SecretDialog'

function RenameCard({ gateway }: { gateway: Gateway }) {
  const rename = useRenameGateway(gateway.id)
  const toast = useToast()
  const [name, setName] = useState(gateway.name)
  useEffect(() => setName(gateway.name), [gateway.name])
  const trimmed = name.trim()
  return (
    <Card>
      <CardHeader title="Name" description="Shown in this dashboard only; clients never see it." />
      <CardBody>
        <form
          className="flex flex-col gap-3 sm:flex-row sm:items-start"
          onSubmit={(event) => {
            event.preventDefault()
            if (!trimmed || trimmed === gateway.name) return
            rename.mutate(trimmed, { onSuccess: () => toast.success('Gateway renamed') })
          }}
        >
          <Field label="Gateway name" className="flex-1" error={rename.isError ? errorMessage(rename.error) : null}>
            {(props) => (
              <Input {...props} name="gateway-name" maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
            )}
          </Field>
          <Button
            type="submit"
            variant="primary"
            className="sm:mt-6"
            loading={rename.isPending}
            disabled={!trimmed || trimmed === gateway.name}
          >
            Save
          </Button>
        </form>
      </CardBody>
    </Card>
  )
}

function RotateCard({ gateway }: { gateway: Gateway }) {
  const rotate = useRotateSecret(gateway.id)
  const navigate = useNavigate()
  const [confirming, setConfirming] = useState(false)
  const [shown, setShown] = useState<ShownSecret | null>(null)
  return (
    <Card>
      <CardHeader
        title="Secret"
        description="Rotating issues a new secret and stops the current one at once."
      />
      <CardBody className="flex flex-wrap items-center justify-between gap-3">
        <div className="text-[13px]">
          <span className="text-muted">Current secret: </span>
          <code className="rounded-md bg-subtle px-1.5 py-0.5 font-mono text-xs text-fg" data-testid="settings-secret-hint">
            {gateway.secret_hint}
          </code>
        </div>
        <Button icon={<KeyRound />} onClick={() => setConfirming(true)}>
          Rotate secret
        </Button>
      </CardBody>
      <Dialog
        open={confirming}
        onClose={() => setConfirming(false)}
        title="Rotate the secret?"
        description={
          <>
            Every app using <code className="font-mono">{gateway.secret_hint}</code> gets 401 errors until it switches to
            the new secret.
          </>
        }
        footer={
          <>
            <Button onClick={() => setConfirming(false)}>Cancel</Button>
            <Button
              variant="primary"
              loading={rotate.isPending}
              onClick={() =>
                rotate.mutate(undefined, {
                  onSuccess: (rotated) => {
                    setConfirming(false)
                    setShown({ gatewayId: gateway.id, gatewayName: gateway.name, secret: rotated.secret, reason: 'rotated' })
                  },
                })
              }
            >
              Rotate now
            </Button>
          </>
        }
      >
        {rotate.isError && <Alert>{errorMessage(rotate.error)}</Alert>}
      </Dialog>
      <SecretDialog
        shown={shown}
        onClose={(next) => {
          setShown(null)
          if (next) navigate(next)
        }}
      />
    </Card>
  )
}

function DeleteCard({ gateway }: { gateway: Gateway }) {
  const remove = useDeleteGateway(gateway.id)
  const queryClient = useQueryClient()
  const navigate = useNavigate()
  const toast = useToast()
  const [open, setOpen] = useState(false)
  const [typed, setTyped] = useState('')
  const matches = typed === gateway.name
  const close = () => {
    setOpen(false)
    setTyped('')
    remove.reset()
  }
  return (
    <Card className="border-danger/30">
      <CardHeader
        title="Delete gateway"
        description="Its secret stops working immediately. Its logs and analytics are no longer reachable here."
      />
      <CardBody>
        <Button variant="danger" icon={<Trash2 />} onClick={() => setOpen(true)}>
          Delete gateway
        </Button>
      </CardBody>
      <Dialog
        open={open}
        onClose={close}
        title={`Delete ${gateway.name}?`}
        description="This cannot be undone. Apps calling this gateway will get 401 errors."
      >
        <form
          className="flex flex-col gap-4"
          onSubmit={(event) => {
            event.preventDefault()
            if (!matches) return
            remove.mutateAsync().then(
              () => {
                toast.success(`Deleted ${gateway.name}`)
                navigate('/', { replace: true })
                for (const key of [
                  gatewayKey(gateway.id),
                  logsKey(gateway.id),
                  analyticsKey(gateway.id),
                  providerKeysKey(gateway.id),
                ]) {
                  queryClient.removeQueries({ queryKey: key })
                }
              },
              () => undefined,
            )
          }}
        >
          <Field
            label={
              <>
                Type <strong className="font-mono">{gateway.name}</strong> to confirm
              </>
            }
            error={remove.isError ? errorMessage(remove.error) : null}
          >
            {(props) => (
              <Input
                {...props}
                name="confirm-name"
                autoComplete="off"
                spellCheck={false}
                autoFocus
                value={typed}
                onChange={(e) => setTyped(e.target.value)}
              />
            )}
          </Field>
          <div className="flex justify-end gap-2">
            <Button onClick={close}>Cancel</Button>
            <Button type="submit" variant="danger" disabled={!matches} loading={remove.isPending}>
              Delete forever
            </Button>
          </div>
        </form>
      </Dialog>
    </Card>
  )
}

export function GatewaySettingsPage() {
  const { gatewayId = '' } = useParams()
  const { data: gateway } = useGateway(gatewayId)
  if (!gateway) return null
  return (
    <div className="flex max-w-3xl flex-col gap-4">
      <h2 className="text-lg font-semibold tracking-tight text-fg">Settings</h2>
      <RenameCard gateway={gateway} />
      <FallbacksCard gateway={gateway} />
      <RotateCard gateway={gateway} />
      <Card>
        <CardHeader title="Details" />
        <CardBody>
          <dl className="grid gap-x-4 gap-y-2 text-[13px] sm:grid-cols-[8rem_1fr]">
            <dt className="text-muted">Gateway ID</dt>
            <dd className="font-mono text-xs break-all text-fg">{gateway.id}</dd>
            <dt className="text-muted">Created</dt>
            <dd className="text-fg" title={formatDateTime(gateway.created_at)}>{formatDate(gateway.created_at)}</dd>
            <dt className="text-muted">Last updated</dt>
            <dd className="text-fg" title={formatDateTime(gateway.updated_at)}>{formatDate(gateway.updated_at)}</dd>
          </dl>
        </CardBody>
      </Card>
      <DeleteCard gateway={gateway} />
    </div>
  )
}
