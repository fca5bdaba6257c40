import { ChevronsUpDown, Check, Plus } from 'lucide-react'
import { useEffect, useRef, useState, type ReactNode } from 'react'
import { Link, NavLink, Outlet, useParams } from 'react-router'
import { Logo } from '@/components/ui/Logo'
import { ThemeToggle } from '@/components/ui/ThemeToggle'
import { cn } from '@/components/ui/cn'
import { useSession } from '@/features/auth/hooks'
import { useGateways } from '@/features/gateways/hooks'

function GatewaySwitcher({ currentId }: { currentId: string }) {
  const { data: gateways } = useGateways()
  const [open, setOpen] = useState(false)
  const rootRef = useRef<HTMLDivElement>(null)
  const current = gateways?.find((g) => g.id === currentId)

  useEffect(() => {
    if (!open) return
    const onPointer = (event: PointerEvent) => {
      if (!rootRef.current?.contains(event.target as Node)) setOpen(false)
    }
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') setOpen(false)
    }
    document.addEventListener('pointerdown', onPointer)
    document.addEventListener('keydown', onKey)
    return () => {
      document.removeEventListener('pointerdown', onPointer)
      document.removeEventListener('keydown', onKey)
    }
  }, [open])

  return (
    <div ref={rootRef} className="relative min-w-0 shrink">
      <button
        type="button"
        aria-haspopup="true"
        aria-expanded={open}
        aria-label={`Switch gateway (current: ${current?.name ?? 'loading'})`}
        onClick={() => setOpen((o) => !o)}
        className="flex max-w-full min-w-0 items-center gap-1.5 rounded-md px-2 py-1 text-sm font-medium text-fg hover:bg-hover"
      >
        <span className="truncate">{current?.name ?? 'Gateway'}</span>
        <ChevronsUpDown className="size-3.5 shrink-0 text-muted" />
      </button>
      {open && (
        <div className="absolute left-0 z-30 mt-1 w-64 overflow-hidden rounded-lg border border-border bg-surface p-1 shadow-lg">
          <p className="px-2 pt-1.5 pb-1 text-[11px] font-medium tracking-wide text-faint uppercase">Gateways</p>
          <ul className="max-h-72 overflow-y-auto">
            {gateways?.map((gateway) => (
              <li key={gateway.id}>
                <Link
                  to={`/g/${gateway.id}`}
                  onClick={() => setOpen(false)}
                  className="flex items-center justify-between gap-2 rounded-md px-2 py-1.5 text-[13px] text-fg hover:bg-hover"
                >
                  <span className="truncate">{gateway.name}</span>
                  {gateway.id === currentId && <Check className="size-3.5 text-accent" />}
                </Link>
              </li>
            ))}
          </ul>
          <div className="mt-1 border-t border-border pt-1">
            <Link
              to="/?new=1"
              onClick={() => setOpen(false)}
              className="flex items-center gap-2 rounded-md px-2 py-1.5 text-[13px] text-muted hover:bg-hover hover:text-fg"
            >
              <Plus className="size-3.5" /> New gateway
            </Link>
          </div>
        </div>
      )}
    </div>
  )
}

function UserLink() {
  const session = useSession()
  const name = session?.username ?? ''
  return (
    <NavLink
      to="/profile"
      aria-label={`Profile of ${name}`}
      className={({ isActive }) =>
        cn(
          'flex items-center gap-2 rounded-full py-1 pr-1 pl-1 text-[13px] font-medium text-fg hover:bg-hover sm:pr-3',
          isActive && 'bg-hover',
        )
      }
    >
      <span
        aria-hidden
        className="flex size-7 items-center justify-center rounded-full bg-accent-soft text-xs font-semibold text-accent uppercase"
      >
        {name.slice(0, 1)}
      </span>
      <span className="hidden max-w-40 truncate sm:inline" data-testid="header-username">
        {name}
      </span>
    </NavLink>
  )
}

export function AppShell({ children }: { children?: ReactNode }) {
  const { gatewayId } = useParams()
  return (
    <div className="flex min-h-dvh flex-col">
      <header className="sticky top-0 z-20 border-b border-border bg-bg/85 backdrop-blur supports-[backdrop-filter]:bg-bg/70">
        <div className="mx-auto flex h-14 max-w-6xl items-center gap-2 px-4 sm:px-6">
          <Logo compact={Boolean(gatewayId)} />
          {gatewayId && (
            <>
              <span className="text-lg text-border-strong select-none" aria-hidden>
                /
              </span>
              <GatewaySwitcher currentId={gatewayId} />
            </>
          )}
          <div className="ml-auto flex shrink-0 items-center gap-1">
            <ThemeToggle />
            <UserLink />
          </div>
        </div>
      </header>
      <main className="flex-1">{children ?? <Outlet />}</main>
    </div>
  )
}

/** Title row of a page: heading, optional description and actions. */
export function PageHeader({
  title,
  description,
  actions,
}: {
  title: ReactNode
  description?: ReactNode
  actions?: ReactNode
}) {
  return (
    <div className="flex flex-wrap items-end justify-between gap-4">
      <div className="min-w-0">
        <h1 className="text-2xl font-semibold tracking-tight text-fg">{title}</h1>
        {description && <p className="mt-1 text-[13px] text-muted">{description}</p>}
      </div>
      {actions && <div className="flex flex-wrap items-center gap-2">{actions}</div>}
    </div>
  )
}
