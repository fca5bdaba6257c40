import { FlaskConical, ScrollText } from 'lucide-react'
import { useOpenAiBaseUrl } from '@/app/api'
import { ButtonLink } from '@/components/ui/Button'
import { CopyButton } from '@/components/ui/CopyButton'
import { EmptyState } from '@/components/ui/EmptyState'

/** What a gateway without traffic shows instead of empty charts. */
export function NoCallsYet({ gatewayId, inRange }: { gatewayId: string; inRange?: string }) {
  const baseUrl = useOpenAiBaseUrl()
  return (
    <div className="rounded-xl border border-dashed border-border-strong bg-surface" data-testid="no-calls">
      <EmptyState
        icon={<ScrollText />}
        title={inRange ? `No calls in ${inRange.toLowerCase()}` : 'No calls yet'}
        actions={
          <ButtonLink to={`/g/${gatewayId}/playground`} variant="primary" icon={<FlaskConical className="size-4" />}>
            Open the playground
          </ButtonLink>
        }
      >
        <p>
          {inRange ? 'Pick a longer range, try ' : 'Try '}
          the Playground, or point an OpenAI client at
        </p>
        <div className="mt-2 inline-flex items-center gap-1 rounded-md border border-border bg-subtle py-0.5 pr-0.5 pl-2">
          <code className="font-mono text-xs text-fg">{baseUrl}</code>
          <CopyButton value={baseUrl} label="Copy base URL" />
        </div>
        <p className="mt-2">with this gateway’s secret as the API key. Calls show up here within seconds.</p>
      </EmptyState>
    </div>
  )
}
