// Light/dark theme: an explicit choice is remembered in localStorage; without
// one the OS preference decides. index.html applies it before first paint.

export type ThemePreference = 'light' | 'dark' | 'system'
export type ResolvedTheme = 'light' | 'dark'

export const THEME_STORAGE_KEY = 'tollgate.theme'

type Listener = () => void
const listeners = new Set<Listener>()

export function readThemePreference(): ThemePreference {
  try {
    const value = window.localStorage.getItem(THEME_STORAGE_KEY)
    return value === 'light' || value === 'dark' ? value : 'system'
  } catch {
    return 'system'
  }
}

function systemTheme(): ResolvedTheme {
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
}

export function resolveTheme(preference: ThemePreference): ResolvedTheme {
  return preference === 'system' ? systemTheme() : preference
}

export function applyTheme(preference: ThemePreference = readThemePreference()): void {
  const theme = resolveTheme(preference)
  const root = document.documentElement
  root.classList.toggle('dark', theme === 'dark')
  root.style.colorScheme = theme
}

export function setThemePreference(preference: ThemePreference): void {
  try {
    if (preference === 'system') window.localStorage.removeItem(THEME_STORAGE_KEY)
    else window.localStorage.setItem(THEME_STORAGE_KEY, preference)
  } catch {
    // Not remembered, but still applied for this page.
  }
  applyTheme(preference)
  for (const listener of listeners) listener()
}

export function subscribeTheme(listener: Listener): () => void {
  listeners.add(listener)
  const media = window.matchMedia?.('(prefers-color-scheme: dark)')
  const onSystemChange = () => {
    if (readThemePreference() === 'system') {
      applyTheme('system')
      listener()
    }
  }
  media?.addEventListener?.('change', onSystemChange)
  return () => {
    listeners.delete(listener)
    media?.removeEventListener?.('change', onSystemChange)
  }
}
