import { describe, expect, it, vi } from 'vitest'
import { SessionStore } from './session'

function memoryStorage(initial: Record<string, string> = {}): Storage {
  const data = new Map(Object.entries(initial))
  return {
    get length() {
      return data.size
    },
    clear: () => data.clear(),
    getItem: (k) => data.get(k) ?? null,
    key: (i) => [...data.keys()][i] ?? null,
    removeItem: (k) => void data.delete(k),
    setItem: (k, v) => void data.set(k, v),
  }
}

const session = { id: 'u1', username: 'Brave_Fox', token: 'jwt', expires_at: '2999-01-01T00:00:00Z' }

describe('SessionStore', () => {
  it('persists and restores a session', () => {
    const storage = memoryStorage()
    new SessionStore(storage).set(session)
    expect(new SessionStore(storage).get()).toEqual(session)
  })

  it('drops an expired session on load and remembers why', () => {
    const storage = memoryStorage({
      'tollgate.session': JSON.stringify({ ...session, expires_at: '2000-01-01T00:00:00Z' }),
    })
    const store = new SessionStore(storage)
    expect(store.get()).toBeNull()
    expect(store.endReason()).toBe('expired')
    expect(storage.getItem('tollgate.session')).toBeNull()
  })

  it('ignores garbage in storage', () => {
    const store = new SessionStore(memoryStorage({ 'tollgate.session': '{not json' }))
    expect(store.get()).toBeNull()
    expect(store.endReason()).toBeNull()
  })

  it('notifies subscribers when the session ends', () => {
    const store = new SessionStore(memoryStorage())
    store.set(session)
    const listener = vi.fn()
    store.subscribe(listener)
    store.end('expired')
    expect(listener).toHaveBeenCalledTimes(1)
    expect(store.token()).toBeNull()
    expect(store.endReason()).toBe('expired')
    store.end('expired')
    expect(listener).toHaveBeenCalledTimes(1)
  })

  it('ends the session when the server refuses its token', () => {
    const storage = memoryStorage()
    const store = new SessionStore(storage)
    store.set(session)
    store.reject('jwt')
    expect(store.get()).toBeNull()
    expect(store.endReason()).toBe('expired')
    expect(storage.getItem('tollgate.session')).toBeNull()
  })

  it('ignores the refusal of a token it no longer uses (a password change answered meanwhile)', () => {
    const store = new SessionStore(memoryStorage())
    store.set(session)
    store.set({ ...session, token: 'jwt-after-password-change' })
    store.reject('jwt')
    expect(store.token()).toBe('jwt-after-password-change')
    expect(store.endReason()).toBeNull()
  })

  it('adopts the newer token another tab of the same account stored, instead of signing out', () => {
    const storage = memoryStorage()
    const thisTab = new SessionStore(storage)
    thisTab.set(session)
    // The other tab changed the password: its new token is in storage, this tab's token is dead.
    new SessionStore(storage).set({ ...session, token: 'jwt-2' })
    const listener = vi.fn()
    thisTab.subscribe(listener)
    thisTab.reject('jwt')
    expect(thisTab.token()).toBe('jwt-2')
    expect(listener).toHaveBeenCalledTimes(1)
  })

  it('never adopts another account’s session, and leaves it in storage when it ends its own', () => {
    const storage = memoryStorage()
    const thisTab = new SessionStore(storage)
    thisTab.set(session)
    const other = { id: 'u2', username: 'Calm_Owl', token: 'jwt-u2', expires_at: '2999-01-01T00:00:00Z' }
    new SessionStore(storage).set(other)
    thisTab.reject('jwt')
    expect(thisTab.get()).toBeNull()
    expect(JSON.parse(storage.getItem('tollgate.session')!)).toEqual(other)
  })
})
