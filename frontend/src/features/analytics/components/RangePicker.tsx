import { CalendarRange } from 'lucide-react'
import { useState, type ReactNode } from 'react'
import { Button } from '@/components/ui/Button'
import { Input } from '@/components/ui/Field'
import { Segmented } from '@/components/ui/Segmented'
import { customRangeError, RANGE_PRESETS, utcDay, type RangePreset, type TimeRange } from '@/lib/range'

type Choice = RangePreset | 'custom' | 'all'

interface RangePickerProps {
  value: TimeRange | null
  onChange: (range: TimeRange | null) => void
  /** Offers "All time" (null), for the logs. */
  allowAll?: boolean
}

function daysAgo(days: number): string {
  return utcDay(new Date(Date.now() - days * 24 * 60 * 60 * 1000))
}

/** A labelled UTC day (YYYY-MM-DD), optionally bounded by other days. */
function DayInput({
  label,
  value,
  min,
  max,
  onChange,
}: {
  label: string
  value: string
  min?: string
  max?: string
  onChange: (day: string) => void
}) {
  return (
    <label className="flex items-center gap-1.5 text-xs text-muted">
      {label}
      <Input
        type="date"
        className="h-8 w-[9.5rem] px-2 text-[13px]"
        value={value}
        min={min || undefined}
        max={max || undefined}
        onChange={(e) => onChange(e.target.value)}
      />
    </label>
  )
}

export function RangePicker({ value, onChange, allowAll = false }: RangePickerProps) {
  const [editingCustom, setEditingCustom] = useState(value?.kind === 'custom')
  const [from, setFrom] = useState(value?.kind === 'custom' ? value.from : daysAgo(13))
  const [to, setTo] = useState(value?.kind === 'custom' ? value.to : utcDay(new Date()))
  const error = customRangeError(from, to)

  const choice: Choice = editingCustom ? 'custom' : value === null ? 'all' : value.kind === 'custom' ? 'custom' : value.preset
  const options: { value: Choice; label: ReactNode; ariaLabel?: string }[] = [
    ...(allowAll ? [{ value: 'all' as const, label: 'All' }] : []),
    ...RANGE_PRESETS.map((p) => ({
      value: p.value,
      ariaLabel: p.label,
      label: (
        <>
          <span className="sm:hidden">{p.short}</span>
          <span className="hidden sm:inline">{p.label}</span>
        </>
      ),
    })),
    { value: 'custom', label: 'Custom' },
  ]

  return (
    <div className="flex flex-wrap items-center gap-2">
      <Segmented<Choice>
        label="Time range"
        size="sm"
        value={choice}
        options={options}
        onChange={(next) => {
          if (next === 'custom') {
            setEditingCustom(true)
            return
          }
          setEditingCustom(false)
          onChange(next === 'all' ? null : { kind: 'preset', preset: next })
        }}
      />
      {editingCustom && (
        <form
          className="flex flex-wrap items-center gap-2"
          aria-label="Custom date range"
          onSubmit={(event) => {
            event.preventDefault()
            if (!error) onChange({ kind: 'custom', from, to })
          }}
        >
          <DayInput label="From" value={from} max={to} onChange={setFrom} />
          <DayInput label="To" value={to} min={from} onChange={setTo} />
          <Button type="submit" size="sm" icon={<CalendarRange />} disabled={error !== null} title={error ?? undefined}>
            Apply
          </Button>
        </form>
      )}
    </div>
  )
}
