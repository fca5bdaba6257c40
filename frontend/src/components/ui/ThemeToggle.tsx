import { Moon, Sun } from 'lucide-react'
import { useTheme } from '@/lib/useTheme'
import { Button } from './Button'

/** Switches between light and dark (an explicit, remembered choice). */
export function ThemeToggle() {
  const { resolved, setPreference } = useTheme()
  const next = resolved === 'dark' ? 'light' : 'dark'
  return (
    <Button
      variant="ghost"
      size="icon"
      aria-label={`Switch to ${next} theme`}
      title={`Switch to ${next} theme`}
      data-testid="theme-toggle"
      onClick={() => setPreference(next)}
    >
      {resolved === 'dark' ? <Sun /> : <Moon />}
    </Button>
  )
}
