// The signed-in user's session (JWT), kept in localStorage so it survives a
// reload, with a tiny subscribe API for useSyncExternalStore.

import type { AuthSession } from '@/api/types'

const STORAGE_KEY = 'tollgate.session'

export type SessionEndReason = 'signed_out' | 'expired'

type Listener = () => void

function isSession(value: unknown): value is AuthSession {
  if (!value || typeof value !== 'object') return false
  const v = value as Record<string, unknown>
  return typeof v.token === 'string' && typeof v.username === 'string' && typeof v.id === 'string'
}

function hasExpired(session: AuthSession, now: number): boolean {
  const expiresAt = Date.parse(session.expires_at)
  return Number.isFinite(expiresAt) && expiresAt <= now
}

export class SessionStore {
  private current: AuthSession | null = null
  private reason: SessionEndReason | null = null
  private listeners = new Set<Listener>()
  private storage: Storage | null

  constructor(storage: Storage | null) {
    this.storage = storage
    this.current = this.load()
  }

  private load(): AuthSession | null {
    let raw: string | null = null
    try {
      raw = this.storage?.getItem(STORAGE_KEY) ?? null
    } catch {
      return null
    }
    if (!raw) return null
    try {
      const parsed: unknown = JSON.parse(raw)
      if (!isSession(parsed)) throw new Error('not a session')
      if (hasExpired(parsed, Date.now())) {
        this.reason = 'expired'
        this.storage?.removeItem(STORAGE_KEY)
        return null
      }
      return parsed
    } catch {
      this.storage?.removeItem(STORAGE_KEY)
      return null
    }
  }

  get = (): AuthSession | null => this.current

  token = (): string | null => this.current?.token ?? null

  /** Why the last session ended, so sign-in can say "your session expired". */
  endReason = (): SessionEndReason | null => this.reason

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  set(session: AuthSession): void {
    this.current = session
    this.reason = null
    try {
      this.storage?.setItem(STORAGE_KEY, JSON.stringify(session))
    } catch {
      // Private mode or a full quota: the session still lives for this tab.
    }
    this.emit()
  }

  /** Updates the username kept with the session (after a /auth/me read). */
  rename(username: string): void {
    if (!this.current || this.current.username === username) return
    this.set({ ...this.current, username })
  }

  end(reason: SessionEndReason): void {
    if (!this.current && this.reason === reason) return
    this.current = null
    this.reason = reason
    try {
      this.storage?.removeItem(STORAGE_KEY)
    } catch {
      // Nothing stored to remove.
    }
    this.emit()
  }

  private emit(): void {
    for (const listener of this.listeners) listener()
  }
}

function browserStorage(): Storage | null {
  try {
    return typeof window === 'undefined' ? null : window.localStorage
  } catch {
    return null
  }
}

export const sessionStore = new SessionStore(browserStorage())
