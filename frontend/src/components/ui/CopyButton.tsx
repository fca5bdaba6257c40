import { Check, Copy } from 'lucide-react'
import { useEffect, useState } from 'react'
import { copyText } from '@/lib/clipboard'
import { Button, type ButtonSize, type ButtonVariant } from './Button'

interface CopyButtonProps {
  value: string
  /** Accessible name, e.g. "Copy secret". */
  label: string
  /** Visible text; icon-only when omitted. */
  children?: string
  variant?: ButtonVariant
  size?: ButtonSize
  className?: string
  onCopied?: () => void
}

export function CopyButton({ value, label, children, variant = 'ghost', size, className, onCopied }: CopyButtonProps) {
  const [copied, setCopied] = useState(false)

  useEffect(() => {
    if (!copied) return
    const timer = setTimeout(() => setCopied(false), 1800)
    return () => clearTimeout(timer)
  }, [copied])

  return (
    <Button
      variant={variant}
      size={size ?? (children ? 'sm' : 'icon-sm')}
      className={className}
      aria-label={label}
      title={label}
      onClick={async () => {
        if (await copyText(value)) {
          setCopied(true)
          onCopied?.()
        }
      }}
    >
      {copied ? <Check className="text-success" /> : <Copy />}
      {children && (copied ? 'Copied' : children)}
      <span className="sr-only" aria-live="polite">
        {copied ? 'Copied to clipboard' : ''}
      </span>
    </Button>
  )
}
