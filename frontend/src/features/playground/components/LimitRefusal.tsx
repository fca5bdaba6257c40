import { Gauge } from 'lucide-react'
import { Link } from 'react-router'
import { Alert } from '@/components/ui/Alert'
import type { LimitExplanation } from '../limitError'

/** A chat call refused with 429: which limit, the server's words, when to retry, where to change it. */
export function LimitRefusal({
  gatewayId,
  explanation,
  requestId,
}: {
  gatewayId: string
  explanation: LimitExplanation
  requestId: string | null
}) {
  return (
    <div data-testid="limit-explanation">
      <Alert tone="warning" title={explanation.title}>
        <p className="font-medium text-fg" data-testid="limit-summary">
          {explanation.summary}
        </p>
        <p className="mt-1">The gateway said: “{explanation.message}”</p>
        {explanation.window && <p className="mt-1">{explanation.window}</p>}
        <p className="mt-1" data-testid="limit-retry">
          {explanation.retry}
        </p>
        {explanation.limit && (
          <Link
            to={`/g/${gatewayId}/limits`}
            className="mt-2 inline-flex items-center gap-1 font-medium underline underline-offset-2"
          >
            <Gauge className="size-3.5" aria-hidden /> See this gateway’s limits
          </Link>
        )}
        {requestId && <span className="mt-1 block font-mono text-xs">request {requestId}</span>}
      </Alert>
    </div>
  )
}
