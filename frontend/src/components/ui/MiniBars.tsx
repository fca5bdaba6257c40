import { cn } from './cn'

/** A tiny bar chart of a series (e.g. requests per day) for cards; decorative next to its numbers. */
export function MiniBars({ values, className }: { values: number[]; className?: string }) {
  const max = Math.max(0, ...values)
  return (
    <svg viewBox={`0 0 ${values.length * 6} 24`} preserveAspectRatio="none" className={cn('h-6 w-full', className)} aria-hidden>
      {values.map((value, i) => {
        const height = max > 0 ? Math.max(value > 0 ? 2 : 1, (value / max) * 24) : 1
        return (
          <rect
            key={i}
            x={i * 6 + 0.5}
            y={24 - height}
            width={5}
            height={height}
            rx={1}
            fill={value > 0 ? 'var(--chart-1)' : 'var(--border)'}
          />
        )
      })}
    </svg>
  )
}
