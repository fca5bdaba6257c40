import type { LogEntry } from '@/api/types'
import { Badge } from '@/components/ui/Badge'

export function LogStatus({ log }: { log: Pick<LogEntry, 'ok' | 'status_code'> }) {
  return (
    <Badge tone={log.ok ? 'success' : 'danger'} className="tabular">
      <span className={`size-1.5 rounded-full ${log.ok ? 'bg-success' : 'bg-danger'}`} aria-hidden />
      {log.status_code}
      <span className="sr-only">{log.ok ? ' (ok)' : ' (error)'}</span>
    </Badge>
  )
}
