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

  /**
   * The server refused `token`. The session ends, unless it has moved on:
   * this tab holds another token already (a password change answered while
   * the refused call was in flight), or another tab of the same account has
   * stored a newer one (a password change there ended this tab's token), which
   * this tab then adopts.
   */
  reject(token: string): void {
    if (!this.current || this.current.token !== token) return
    const stored = this.readStored()
    if (stored && stored.token !== token && stored.id === this.current.id && !hasExpired(stored, Date.now())) {
      this.current = stored
      this.emit()
      return
    }
    this.end('expired')
  }

  end(reason: SessionEndReason): void {
    if (!this.current && this.reason === reason) return
    const ending = this.current
    this.current = null
    this.reason = reason
    // Another tab may have stored a newer session since (a password change):
    // only the one that is ending is removed.
    const stored = this.readStored()
    if (!stored || !ending || stored.token === ending.token) {
      try {
        this.storage?.removeItem(STORAGE_KEY)
      } catch {
        // Nothing stored to remove.
      }
    }
    this.emit()
  }

  /** The session in storage as it is now (another tab may have written it). */
  private readStored(): AuthSession | null {
    try {
      const raw = this.storage?.getItem(STORAGE_KEY)
      if (!raw) return null
      const parsed: unknown = JSON.parse(raw)
      return isSession(parsed) ? parsed : null
    } catch {
      return null
    }
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
