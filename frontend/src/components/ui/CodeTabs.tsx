import { useId, useState } from 'react'
import { CopyButton } from './CopyButton'
import { cn } from './cn'

export interface CodeSample {
  id: string
  label: string
  code: string
}

/** Code snippets in tabs, each with a copy button. */
export function CodeTabs({ samples, className }: { samples: CodeSample[]; className?: string }) {
  const [active, setActive] = useState(samples[0]?.id)
  const baseId = useId()
  const current = samples.find((s) => s.id === active) ?? samples[0]
  if (!current) return null
  return (
    <div className={cn('overflow-hidden rounded-lg border border-border bg-subtle', className)}>
      <div className="flex items-center justify-between gap-2 border-b border-border pr-1.5">
        <div role="tablist" aria-label="Code samples" className="flex min-w-0 overflow-x-auto">
          {samples.map((sample) => {
            const selected = sample.id === current.id
            return (
              <button
                key={sample.id}
                id={`${baseId}-tab-${sample.id}`}
                type="button"
                role="tab"
                aria-selected={selected}
                aria-controls={`${baseId}-panel`}
                onClick={() => setActive(sample.id)}
                className={cn(
                  '-mb-px border-b-2 px-3 py-2 text-xs font-medium whitespace-nowrap transition-colors',
                  selected ? 'border-accent text-fg' : 'border-transparent text-muted hover:text-fg',
                )}
              >
                {sample.label}
              </button>
            )
          })}
        </div>
        <CopyButton value={current.code} label={`Copy ${current.label} snippet`} />
      </div>
      <pre
        id={`${baseId}-panel`}
        role="tabpanel"
        aria-labelledby={`${baseId}-tab-${current.id}`}
        tabIndex={0}
        className="max-h-72 overflow-auto p-3.5 font-mono text-xs leading-relaxed text-fg"
      >
        <code>{current.code}</code>
      </pre>
    </div>
  )
}
