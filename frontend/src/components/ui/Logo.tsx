import { Link } from 'react-router'

export function LogoMark({ className = 'size-6' }: { className?: string }) {
  return (
    <svg viewBox="0 0 32 32" className={className} aria-hidden>
      <rect width="32" height="32" rx="8" fill="var(--accent)" />
      <path d="M8 11h16M16 11v13M11 7h10" stroke="var(--accent-fg)" strokeWidth="3" strokeLinecap="round" fill="none" />
    </svg>
  )
}

/** The home link; `compact` hides the word on narrow screens to leave room beside it. */
export function Logo({ compact = false }: { compact?: boolean }) {
  return (
    <Link
      to="/"
      className="flex shrink-0 items-center gap-2 rounded-md font-semibold tracking-tight text-fg"
      aria-label="Tollgate home"
    >
      <LogoMark />
      <span className={compact ? 'hidden text-[15px] sm:inline' : 'text-[15px]'}>Tollgate</span>
    </Link>
  )
}
