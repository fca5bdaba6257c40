import { useState } from 'react'
import { useParams } from 'react-router'
import type { Limits, LimitsPatch, LimitsUsage } from '@/api/types'
import { Alert, errorMessage } from '@/components/ui/Alert'
import { Button } from '@/components/ui/Button'
import { Card, CardBody, CardHeader } from '@/components/ui/Card'
import { Field, Input } from '@/components/ui/Field'
import { Skeleton } from '@/components/ui/Skeleton'
import { useToast } from '@/components/ui/Toast'
import { cn } from '@/components/ui/cn'
import { USAGE_REFRESH_MS, useGatewayLimits, useSetLimits } from '../hooks'
import { formatLimitValue, LIMIT_SPECS, readDrafts, toDrafts, type Drafts, type LimitSpec } from '../limits'

function LimitsForm({
  saved,
  ceilings,
  saving,
  error,
  onEdit,
  onSave,
}: {
  saved: Limits
  ceilings: Limits | undefined
  saving: boolean
  error: Error | null
  onEdit: () => void
  onSave: (patch: LimitsPatch) => void
}) {
  const [drafts, setDrafts] = useState<Drafts>(() => toDrafts(saved))
  const { patch, errors } = readDrafts(drafts, saved, ceilings)
  const changed = Object.keys(patch).length > 0
  const valid = Object.keys(errors).length === 0
  const initial = toDrafts(saved)
  const edited = LIMIT_SPECS.some((spec) => drafts[spec.name] !== initial[spec.name])

  return (
    <form
      aria-label="Set limits"
      className="flex flex-col gap-4"
      onSubmit={(event) => {
        event.preventDefault()
        if (changed && valid) onSave(patch)
      }}
    >
      {LIMIT_SPECS.map((spec) => {
        const ceiling = ceilings?.[spec.name] ?? null
        return (
          <Field
            key={spec.name}
            label={spec.label}
            hint={ceiling === null ? undefined : `At most ${formatLimitValue(spec.kind, ceiling)} (the operator’s ceiling).`}
            error={errors[spec.name]}
          >
            {(props) => (
              <div className="relative">
                {spec.kind === 'usd' && (
                  <span aria-hidden className="pointer-events-none absolute top-1/2 left-3 -translate-y-1/2 text-sm text-muted">
                    $
                  </span>
                )}
                <Input
                  {...props}
                  name={spec.name}
                  inputMode={spec.kind === 'usd' ? 'decimal' : 'numeric'}
                  autoComplete="off"
                  placeholder="No limit"
                  className={cn('tabular', spec.kind === 'usd' && 'pl-6')}
                  value={drafts[spec.name]}
                  onChange={(e) => {
                    onEdit()
                    setDrafts((all) => ({ ...all, [spec.name]: e.target.value }))
                  }}
                />
              </div>
            )}
          </Field>
        )
      })}
      {error && <Alert title="The limits were not saved">{errorMessage(error)}</Alert>}
      <div className="flex flex-wrap items-center justify-end gap-2 border-t border-border pt-4">
        <Button
          disabled={!edited}
          onClick={() => {
            onEdit()
            setDrafts(initial)
          }}
        >
          Reset
        </Button>
        <Button type="submit" variant="primary" loading={saving} disabled={!changed || !valid}>
          Save limits
        </Button>
      </div>
    </form>
  )
}

function LimitsCard({ gatewayId, saved, ceilings }: { gatewayId: string; saved: Limits; ceilings: Limits | undefined }) {
  const setLimits = useSetLimits(gatewayId)
  const toast = useToast()
  return (
    <Card className="h-fit">
      <CardHeader
        title="Set limits"
        description="Calls over a limit are refused with 429 until it frees up. Leave a field empty for no limit."
      />
      <CardBody>
        <LimitsForm
          // A save (or a change from elsewhere) starts the form again from what is stored.
          key={JSON.stringify(saved)}
          saved={saved}
          ceilings={ceilings}
          saving={setLimits.isPending}
          error={setLimits.isError ? setLimits.error : null}
          onEdit={() => {
            if (setLimits.isError) setLimits.reset()
          }}
          onSave={(patch) => setLimits.mutate(patch, { onSuccess: () => toast.success('Limits saved') })}
        />
      </CardBody>
    </Card>
  )
}

function UsageMeter({ spec, used, cap }: { spec: LimitSpec; used: number; cap: number | null }) {
  const usedText = formatLimitValue(spec.kind, used)
  if (cap === null) {
    return (
      <div className="flex flex-col gap-1.5" data-testid={`usage-${spec.name}`}>
        <div className="flex items-baseline justify-between gap-3 text-[13px]">
          <span className="text-fg">{spec.usageLabel}</span>
          <span className="text-muted tabular">
            <span className="font-medium text-fg">{usedText}</span> · no limit
          </span>
        </div>
      </div>
    )
  }
  const fraction = cap > 0 ? Math.min(1, used / cap) : 1
  const tone = fraction >= 1 ? 'bg-danger' : fraction >= 0.8 ? 'bg-warning' : 'bg-accent'
  const text = `${usedText} of ${formatLimitValue(spec.kind, cap)}`
  return (
    <div className="flex flex-col gap-1.5" data-testid={`usage-${spec.name}`}>
      <div className="flex items-baseline justify-between gap-3 text-[13px]">
        <span className="text-fg">{spec.usageLabel}</span>
        <span className="text-muted tabular">
          <span className="font-medium text-fg">{usedText}</span> of {formatLimitValue(spec.kind, cap)}
        </span>
      </div>
      <div
        role="meter"
        aria-label={spec.usageLabel}
        aria-valuemin={0}
        aria-valuemax={cap}
        aria-valuenow={Math.min(used, cap)}
        aria-valuetext={text}
        className="h-2 overflow-hidden rounded-full bg-subtle"
      >
        <div className={cn('h-full rounded-full transition-[width]', tone)} style={{ width: `${fraction * 100}%` }} />
      </div>
    </div>
  )
}

function UsageCard({ limits, usage }: { limits: Limits; usage: LimitsUsage }) {
  return (
    <Card className="h-fit">
      <CardHeader title="Current use" description={`Against the saved limits; refreshed every ${USAGE_REFRESH_MS / 1000} seconds.`} />
      <CardBody className="flex flex-col gap-4">
        {LIMIT_SPECS.map((spec) => (
          <UsageMeter key={spec.name} spec={spec} used={usage[spec.usage]} cap={limits[spec.name]} />
        ))}
      </CardBody>
    </Card>
  )
}

export function LimitsPage() {
  const { gatewayId = '' } = useParams()
  const { data: gateway, isPlaceholderData } = useGatewayLimits(gatewayId)
  return (
    <div className="flex flex-col gap-4">
      <div>
        <h2 className="text-lg font-semibold tracking-tight text-fg">Limits</h2>
        <p className="text-[13px] text-muted">
          Caps on this gateway’s traffic and spend, checked on every call before it reaches a provider.
        </p>
      </div>
      {!gateway || isPlaceholderData ? (
        <div className="grid gap-4 lg:grid-cols-2">
          <Skeleton className="h-96 rounded-xl" />
          <Skeleton className="h-72 rounded-xl" />
        </div>
      ) : !gateway.limits || !gateway.usage ? (
        <Alert tone="warning" title="Limits are not available">
          This server does not report limits for its gateways.
        </Alert>
      ) : (
        <div className="grid items-start gap-4 lg:grid-cols-2">
          <LimitsCard gatewayId={gatewayId} saved={gateway.limits} ceilings={gateway.limit_ceilings} />
          <UsageCard limits={gateway.limits} usage={gateway.usage} />
        </div>
      )}
    </div>
  )
}
