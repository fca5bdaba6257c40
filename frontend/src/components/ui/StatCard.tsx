import type { ReactNode } from 'react'
import { Skeleton } from './Skeleton'
import { cn } from './cn'

export function StatCard({
  label,
  value,
  detail,
  icon,
  loading,
  tone,
}: {
  label: string
  value: ReactNode
  detail?: ReactNode
  icon?: ReactNode
  loading?: boolean
  tone?: 'danger'
}) {
  return (
    <div className="rounded-xl border border-border bg-surface px-4 py-3.5 shadow-xs" role="group" aria-label={label}>
      <div className="flex items-center justify-between gap-2 text-[13px] text-muted [&_svg]:size-4 [&_svg]:text-faint">
        <span className="truncate">{label}</span>
        {icon}
      </div>
      {loading ? (
        <Skeleton className="mt-2 h-7 w-24" />
      ) : (
        <div
          className={cn('mt-1.5 truncate text-xl font-semibold tracking-tight tabular sm:text-2xl', tone === 'danger' ? 'text-danger' : 'text-fg')}
          data-testid={`stat-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`}
        >
          {value}
        </div>
      )}
      {detail && !loading && <div className="mt-0.5 truncate text-xs text-muted tabular">{detail}</div>}
    </div>
  )
}
