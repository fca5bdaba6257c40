import { useSyncExternalStore } from 'react'

const QUERY = '(prefers-reduced-motion: reduce)'

function subscribe(listener: () => void): () => void {
  const media = window.matchMedia?.(QUERY)
  media?.addEventListener?.('change', listener)
  return () => media?.removeEventListener?.('change', listener)
}

/** Whether the user asked the OS for less motion (charts then skip their animations). */
export function useReducedMotion(): boolean {
  return useSyncExternalStore(
    subscribe,
    () => window.matchMedia?.(QUERY).matches ?? false,
    () => false,
  )
}
