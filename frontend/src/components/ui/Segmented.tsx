import type { ReactNode } from 'react'
import { cn } from './cn'

interface SegmentedProps<T extends string> {
  label: string
  value: T | null
  options: { value: T; label: ReactNode; title?: string; ariaLabel?: string }[]
  onChange: (value: T) => void
  className?: string
  size?: 'sm' | 'md'
}

/** A row of mutually exclusive toggle buttons (a radio group). */
export function Segmented<T extends string>({ label, value, options, onChange, className, size = 'md' }: SegmentedProps<T>) {
  return (
    <div
      role="radiogroup"
      aria-label={label}
      className={cn('inline-flex max-w-full items-center gap-0.5 overflow-x-auto rounded-lg border border-border bg-subtle p-0.5', className)}
      onKeyDown={(event) => {
        if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return
        const index = options.findIndex((o) => o.value === value)
        const step = event.key === 'ArrowRight' ? 1 : -1
        const next = options[(index + step + options.length) % options.length]
        onChange(next.value)
        const buttons = event.currentTarget.querySelectorAll<HTMLButtonElement>('button')
        buttons[options.indexOf(next)]?.focus()
        event.preventDefault()
      }}
    >
      {options.map((option) => {
        const selected = option.value === value
        return (
          <button
            key={option.value}
            type="button"
            role="radio"
            aria-checked={selected}
            aria-label={option.ariaLabel}
            title={option.title}
            tabIndex={selected || (value === null && option === options[0]) ? 0 : -1}
            onClick={() => onChange(option.value)}
            className={cn(
              'inline-flex items-center justify-center gap-1.5 rounded-md font-medium whitespace-nowrap transition-colors [&_svg]:size-3.5',
              size === 'sm' ? 'h-7 px-2.5 text-xs' : 'h-8 px-3 text-[13px]',
              selected ? 'bg-surface text-fg shadow-sm ring-1 ring-border' : 'text-muted hover:text-fg',
            )}
          >
            {option.label}
          </button>
        )
      })}
    </div>
  )
}
