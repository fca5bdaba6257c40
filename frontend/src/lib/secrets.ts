// Gateway secrets that this tab has seen (just created, rotated or pasted into
// the playground). sessionStorage only: they vanish with the tab and never
// reach localStorage.

const PREFIX = 'tollgate.secret.'

function storage(): Storage | null {
  try {
    return typeof window === 'undefined' ? null : window.sessionStorage
  } catch {
    return null
  }
}

export function rememberSecret(gatewayId: string, secret: string): void {
  try {
    storage()?.setItem(PREFIX + gatewayId, secret)
  } catch {
    // Storage refused: the user can paste the secret again.
  }
}

export function recallSecret(gatewayId: string): string | null {
  try {
    return storage()?.getItem(PREFIX + gatewayId) ?? null
  } catch {
    return null
  }
}

export function forgetSecret(gatewayId: string): void {
  try {
    storage()?.removeItem(PREFIX + gatewayId)
  } catch {
    // Nothing to forget.
  }
}
