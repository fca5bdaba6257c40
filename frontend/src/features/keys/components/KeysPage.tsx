import { KeyRound, Plus, Trash2 } from 'lucide-react'
import { useState } from 'react'
import { useParams } from 'react-router'
import { ApiError } from '@/api/client'
import type { ProviderKey, ProviderOption } from '@/api/types'
import { Alert, errorMessage, LoadErrorAlert } from '@/components/ui/Alert'
import { Badge } from '@/components/ui/Badge'
import { Button } from '@/components/ui/Button'
import { Card, CardBody, CardHeader } from '@/components/ui/Card'
import { Dialog } from '@/components/ui/Dialog'
import { EmptyState } from '@/components/ui/EmptyState'
import { Field, Input, Select } from '@/components/ui/Field'
import { Skeleton } from '@/components/ui/Skeleton'
import { useToast } from '@/components/ui/Toast'
import { formatDate, formatDateTime, formatRelative } from '@/lib/format'
import { useAddProviderKey, useDeleteProviderKey, useProviderKeys } from '../hooks'
import { providerName } from '../providers'

/** What happens to a call to `provider` when the gateway has no key of its own for it. */
export function withoutOwnKey({ name, operator_keys }: ProviderOption): string {
  return operator_keys
    ? `Without a key of your own, calls to ${providerName(name)} use the operator’s keys.`
    : `Without a key of your own, calls to ${providerName(name)} are refused: add a key.`
}

/** The form field a 400's code is about; null for the ones about the whole form. */
function fieldOf(error: unknown): 'provider' | 'api_key' | 'label' | null {
  if (!(error instanceof ApiError)) return null
  if (error.code === 'invalid_provider') return 'provider'
  if (error.code === 'invalid_api_key') return 'api_key'
  if (error.code === 'invalid_label') return 'label'
  return null
}

function AddKeyCard({ gatewayId, providers }: { gatewayId: string; providers: ProviderOption[] }) {
  const add = useAddProviderKey(gatewayId)
  const toast = useToast()
  const [provider, setProvider] = useState(providers[0]?.name ?? '')
  const [apiKey, setApiKey] = useState('')
  const [label, setLabel] = useState('')
  const selected = providers.find((p) => p.name === provider)
  const errorField = add.isError ? fieldOf(add.error) : null
  const errorFor = (field: 'provider' | 'api_key' | 'label') => (errorField === field ? errorMessage(add.error) : null)
  // A refusal is about what was sent: editing the form clears it.
  const edit = (set: (value: string) => void) => (value: string) => {
    if (add.isError) add.reset()
    set(value)
  }

  return (
    <Card>
      <CardHeader
        title="Add a key"
        description="Stored encrypted. After you add it, only its last characters are ever shown."
      />
      <CardBody>
        <form
          className="flex flex-col gap-4"
          onSubmit={(event) => {
            event.preventDefault()
            const key = apiKey.trim()
            if (!provider || !key) return
            add.mutate(
              { provider, api_key: key, label: label.trim() },
              {
                onSuccess: (added) => {
                  setApiKey('')
                  setLabel('')
                  toast.success(`${providerName(added.provider)} key added`)
                },
              },
            )
          }}
        >
          <div className="grid gap-4 sm:grid-cols-2">
            <Field
              label="Provider"
              hint={selected ? withoutOwnKey(selected) : undefined}
              error={errorFor('provider')}
            >
              {(props) => (
                <Select {...props} name="provider" value={provider} onChange={(e) => edit(setProvider)(e.target.value)}>
                  {providers.map((p) => (
                    <option key={p.name} value={p.name}>
                      {providerName(p.name)}
                    </option>
                  ))}
                </Select>
              )}
            </Field>
            <Field label="Label" hint="Optional: tells your keys apart, such as “production”." error={errorFor('label')}>
              {(props) => (
                <Input
                  {...props}
                  name="key-label"
                  autoComplete="off"
                  maxLength={100}
                  value={label}
                  onChange={(e) => edit(setLabel)(e.target.value)}
                />
              )}
            </Field>
          </div>
          <Field label="API key" error={errorFor('api_key')}>
            {(props) => (
              <Input
                {...props}
                type="password"
                name="api-key"
                autoComplete="off"
                spellCheck={false}
                placeholder="sk-…"
                className="font-mono text-xs"
                value={apiKey}
                onChange={(e) => edit(setApiKey)(e.target.value)}
              />
            )}
          </Field>
          {add.isError && !errorField && <Alert title="The key was not added">{errorMessage(add.error)}</Alert>}
          <div>
            <Button
              type="submit"
              variant="primary"
              icon={<Plus />}
              loading={add.isPending}
              disabled={!provider || !apiKey.trim()}
            >
              Add key
            </Button>
          </div>
        </form>
      </CardBody>
    </Card>
  )
}

function KeyStatus({ status }: { status: ProviderKey['status'] }) {
  const active = status === 'active'
  return (
    <span data-testid="key-status">
      <Badge tone={active ? 'success' : 'danger'}>
        <span className={`size-1.5 rounded-full ${active ? 'bg-success' : 'bg-danger'}`} aria-hidden />
        {active ? 'Active' : 'Invalid'}
      </Badge>
    </span>
  )
}

function KeyRow({ providerKey, onDelete }: { providerKey: ProviderKey; onDelete: () => void }) {
  const name = providerName(providerKey.provider)
  return (
    <li className="flex items-start gap-3 px-4 py-3" data-testid="provider-key">
      <div className="min-w-0 flex-1">
        <div className="flex flex-wrap items-center gap-x-2 gap-y-1 text-[13px]">
          <span className="font-medium text-fg">{name}</span>
          {providerKey.label && (
            <span className="min-w-0 break-all text-muted" data-testid="key-label">
              {providerKey.label}
            </span>
          )}
          <code className="rounded-md bg-subtle px-1.5 py-0.5 font-mono text-xs text-fg" data-testid="key-hint">
            {providerKey.key_hint}
          </code>
          <KeyStatus status={providerKey.status} />
        </div>
        <p className="mt-1 text-xs text-muted tabular">
          Last used{' '}
          {providerKey.last_used_at ? (
            <time dateTime={providerKey.last_used_at} title={formatDateTime(providerKey.last_used_at)} data-testid="key-last-used">
              {formatRelative(providerKey.last_used_at)}
            </time>
          ) : (
            <span data-testid="key-last-used">never</span>
          )}
          {' · '}Added{' '}
          <time dateTime={providerKey.created_at} title={formatDateTime(providerKey.created_at)}>
            {formatDate(providerKey.created_at)}
          </time>
        </p>
        {providerKey.status === 'invalid' && (
          <p className="mt-1 text-xs text-danger" data-testid="key-invalid-reason">
            {name} refused this key (401 or 403) when a call used it. Check it in your {name} account, or add a
            working key and delete this one.
          </p>
        )}
      </div>
      <Button
        variant="ghost"
        size="icon-sm"
        aria-label={`Delete the ${name} key ${providerKey.label || providerKey.key_hint}`}
        icon={<Trash2 />}
        onClick={onDelete}
      />
    </li>
  )
}

function DeleteKeyDialog({
  gatewayId,
  providerKey,
  keys,
  providers,
  onClose,
}: {
  gatewayId: string
  providerKey: ProviderKey | null
  keys: ProviderKey[]
  providers: ProviderOption[]
  onClose: () => void
}) {
  const remove = useDeleteProviderKey(gatewayId)
  const toast = useToast()
  const close = () => {
    remove.reset()
    onClose()
  }
  const name = providerKey ? providerName(providerKey.provider) : ''
  const option = providers.find((p) => p.name === providerKey?.provider)
  const last = providerKey !== null && !keys.some((k) => k.provider === providerKey.provider && k.id !== providerKey.id)
  return (
    <Dialog
      open={providerKey !== null}
      onClose={close}
      title={`Delete this ${name} key?`}
      description={
        providerKey && (
          <>
            Calls stop using <code className="font-mono">{providerKey.key_hint}</code>
            {providerKey.label && <> ({providerKey.label})</>} at once; to use it again, add it again.
            {last && option && <> It is your last {name} key. {withoutOwnKey(option)}</>}
          </>
        )
      }
      footer={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button
            variant="danger"
            loading={remove.isPending}
            onClick={() => {
              if (!providerKey) return
              remove.mutate(providerKey.id, {
                onSuccess: () => {
                  toast.success(`${name} key deleted`)
                  close()
                },
              })
            }}
          >
            Delete key
          </Button>
        </>
      }
    >
      {remove.isError && <Alert>{errorMessage(remove.error)}</Alert>}
    </Dialog>
  )
}

function KeysCard({ gatewayId, keys, providers }: { gatewayId: string; keys: ProviderKey[]; providers: ProviderOption[] }) {
  const [deleting, setDeleting] = useState<ProviderKey | null>(null)
  return (
    <Card>
      <CardHeader title="Your keys" description="A call to a provider uses this gateway’s keys before the operator’s." />
      <CardBody>
        {keys.length === 0 ? (
          <EmptyState icon={<KeyRound />} title="No keys yet" className="py-8">
            <span data-testid="no-keys">
              Calls go to providers with the operator’s keys where it offers them. Add a key of your own to use your
              account, its models and its quota.
            </span>
          </EmptyState>
        ) : (
          <ul aria-label="Provider keys" className="divide-y divide-border rounded-lg border border-border">
            {keys.map((key) => (
              <KeyRow key={key.id} providerKey={key} onDelete={() => setDeleting(key)} />
            ))}
          </ul>
        )}
      </CardBody>
      <DeleteKeyDialog
        gatewayId={gatewayId}
        providerKey={deleting}
        keys={keys}
        providers={providers}
        onClose={() => setDeleting(null)}
      />
    </Card>
  )
}

function CoverageCard({ keys, providers }: { keys: ProviderKey[]; providers: ProviderOption[] }) {
  return (
    <Card>
      <CardHeader title="Providers" description="Where this gateway’s calls go for a key." />
      <CardBody>
        <ul aria-label="Provider coverage" className="flex flex-col gap-2.5">
          {providers.map((provider) => {
            const own = keys.filter((k) => k.provider === provider.name).length
            return (
              <li
                key={provider.name}
                className="flex flex-col gap-0.5 text-[13px] sm:flex-row sm:items-baseline sm:gap-3"
                data-testid="provider-coverage"
              >
                <span className="flex w-40 shrink-0 items-center gap-2">
                  <span className="font-medium text-fg">{providerName(provider.name)}</span>
                  {own > 0 && <Badge tone="accent">{own === 1 ? '1 key' : `${own} keys`}</Badge>}
                </span>
                <span className={own === 0 && !provider.operator_keys ? 'text-warning' : 'text-muted'}>
                  {withoutOwnKey(provider)}
                </span>
              </li>
            )
          })}
        </ul>
      </CardBody>
    </Card>
  )
}

export function KeysPage() {
  const { gatewayId = '' } = useParams()
  const { data, isPending, isError, error, refetch } = useProviderKeys(gatewayId)
  return (
    <div className="flex max-w-3xl flex-col gap-4">
      <div>
        <h2 className="text-lg font-semibold tracking-tight text-fg">Provider keys</h2>
        <p className="text-[13px] text-muted">Your own API keys for the providers this gateway calls.</p>
      </div>
      {isError && !data ? (
        <LoadErrorAlert title="Could not load the keys" error={error} onRetry={() => refetch()} />
      ) : isPending ? (
        <>
          <Skeleton className="h-56 rounded-xl" />
          <Skeleton className="h-32 rounded-xl" />
        </>
      ) : (
        <>
          <AddKeyCard gatewayId={gatewayId} providers={data.providers} />
          <KeysCard gatewayId={gatewayId} keys={data.keys} providers={data.providers} />
          <CoverageCard keys={data.keys} providers={data.providers} />
        </>
      )}
    </div>
  )
}
