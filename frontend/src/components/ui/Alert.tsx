import { CircleAlert, Info, TriangleAlert } from 'lucide-react'
import type { ReactNode } from 'react'
import { Button } from './Button'
import { cn } from './cn'

type Tone = 'danger' | 'warning' | 'info'

const tones: Record<Tone, string> = {
  danger: 'border-danger/30 bg-danger-soft text-danger',
  warning: 'border-warning/30 bg-warning-soft text-warning',
  info: 'border-accent/25 bg-accent-soft text-fg',
}

const icons: Record<Tone, ReactNode> = {
  danger: <CircleAlert />,
  warning: <TriangleAlert />,
  info: <Info className="text-accent" />,
}

export function Alert({
  tone = 'danger',
  title,
  children,
  actions,
  className,
}: {
  tone?: Tone
  title?: ReactNode
  children?: ReactNode
  actions?: ReactNode
  className?: string
}) {
  return (
    <div
      role={tone === 'info' ? 'status' : 'alert'}
      className={cn('flex gap-2.5 rounded-lg border px-3.5 py-3 text-[13px] [&>svg]:mt-px [&>svg]:size-4 [&>svg]:shrink-0', tones[tone], className)}
    >
      {icons[tone]}
      <div className="flex min-w-0 flex-1 flex-col gap-3 sm:flex-row sm:items-start">
        <div className="min-w-0 flex-1">
          {title && <p className="font-medium">{title}</p>}
          {children && <div className={cn(title ? 'mt-0.5' : null, 'break-words opacity-90')}>{children}</div>}
        </div>
        {actions && <div className="-my-0.5 flex shrink-0 items-center gap-2">{actions}</div>}
      </div>
    </div>
  )
}

/** The message to show for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

/** A failed load, with its message and a button to try again. */
export function LoadErrorAlert({ title, error, onRetry }: { title: ReactNode; error: unknown; onRetry: () => void }) {
  return (
    <Alert
      title={title}
      actions={
        <Button size="sm" onClick={onRetry}>
          Retry
        </Button>
      }
    >
      {errorMessage(error)}
    </Alert>
  )
}
