import { useSyncExternalStore } from 'react'
import { readThemePreference, resolveTheme, setThemePreference, subscribeTheme, type ThemePreference } from './theme'

function snapshot(): string {
  const preference = readThemePreference()
  return `${preference}:${resolveTheme(preference)}`
}

/** The theme preference, the theme in effect, and a setter. */
export function useTheme() {
  const value = useSyncExternalStore(subscribeTheme, snapshot, () => 'system:light')
  const [preference, resolved] = value.split(':') as [ThemePreference, 'light' | 'dark']
  return { preference, resolved, setPreference: setThemePreference }
}
