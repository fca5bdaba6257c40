import { Select } from '@/components/ui/Field'

interface ModelSelectProps {
  id: string
  /** The chosen model, or '' for all models. */
  value: string
  /** Models to offer; the chosen one is offered too, even when it is not among them. */
  models: string[]
  onChange: (model: string) => void
}

/** The "Model" filter: all models or a single one. */
export function ModelSelect({ id, value, models, onChange }: ModelSelectProps) {
  const options = [...models].sort()
  if (value && !options.includes(value)) options.unshift(value)
  return (
    <>
      <label className="sr-only" htmlFor={id}>
        Model
      </label>
      <Select id={id} className="h-8 w-auto min-w-32 text-[13px]" value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">All models</option>
        {options.map((m) => (
          <option key={m} value={m}>
            {m}
          </option>
        ))}
      </Select>
    </>
  )
}
