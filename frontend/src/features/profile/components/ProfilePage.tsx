import { LogOut, Monitor, Moon, ShieldCheck, ShieldAlert, Sun } from 'lucide-react'
import { useEffect, useRef, useState } from 'react'
import { useLocation, useNavigate } from 'react-router'
import { ApiError } from '@/api/client'
import { PageHeader } from '@/app/AppShell'
import { Alert, errorMessage } from '@/components/ui/Alert'
import { Badge } from '@/components/ui/Badge'
import { Button } from '@/components/ui/Button'
import { Card, CardBody, CardHeader } from '@/components/ui/Card'
import { CopyButton } from '@/components/ui/CopyButton'
import { Field, Input } from '@/components/ui/Field'
import { Segmented } from '@/components/ui/Segmented'
import { Skeleton } from '@/components/ui/Skeleton'
import { useToast } from '@/components/ui/Toast'
import { useMe, useSignOut } from '@/features/auth/hooks'
import { isTooManyAttempts, tooManyAttemptsMessage } from '@/features/auth/tooManyAttempts'
import { formatDate } from '@/lib/format'
import type { ThemePreference } from '@/lib/theme'
import { useTheme } from '@/lib/useTheme'
import { MIN_PASSWORD_LENGTH, useSetPassword } from '../hooks'

function PasswordCard({ hasPassword }: { hasPassword: boolean }) {
  const setPassword = useSetPassword()
  const toast = useToast()
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [confirm, setConfirm] = useState('')
  const [touched, setTouched] = useState(false)
  const cardRef = useRef<HTMLDivElement>(null)
  const location = useLocation()

  useEffect(() => {
    if (location.hash === '#password') {
      cardRef.current?.scrollIntoView({ block: 'center' })
      cardRef.current?.querySelector<HTMLInputElement>('input')?.focus()
    }
  }, [location.hash])

  const tooShort = next.length > 0 && next.length < MIN_PASSWORD_LENGTH
  const mismatch = confirm.length > 0 && next !== confirm
  const flooded = isTooManyAttempts(setPassword.error) ? tooManyAttemptsMessage(setPassword.error) : null
  const serverError =
    setPassword.error instanceof ApiError && setPassword.error.code === 'invalid_current_password'
      ? 'The current password is not right.'
      : flooded
        ? `${flooded.message} ${flooded.retry}`
        : setPassword.error
          ? errorMessage(setPassword.error)
          : null

  return (
    <Card ref={cardRef} id="password">
      <CardHeader
        title={hasPassword ? 'Change password' : 'Set a password'}
        description={
          hasPassword
            ? 'Sign in on any browser with your username and this password. Changing it signs out your other sessions.'
            : 'Without a password this account only lives in this browser. Set one to sign in anywhere.'
        }
      />
      <CardBody>
        <form
          className="flex max-w-md flex-col gap-4"
          onSubmit={(event) => {
            event.preventDefault()
            setTouched(true)
            if (next.length < MIN_PASSWORD_LENGTH || next !== confirm) return
            setPassword.mutate(
              { new_password: next, ...(hasPassword ? { current_password: current } : {}) },
              {
                onSuccess: () => {
                  setCurrent('')
                  setNext('')
                  setConfirm('')
                  setTouched(false)
                  toast.success(
                    hasPassword
                      ? 'Password changed — your other sessions are signed out'
                      : 'Password set — you can now sign in anywhere',
                  )
                },
              },
            )
          }}
        >
          <input type="text" name="username" autoComplete="username" hidden readOnly />
          {hasPassword && (
            <Field label="Current password">
              {(props) => (
                <Input
                  {...props}
                  type="password"
                  name="current-password"
                  autoComplete="current-password"
                  required
                  value={current}
                  onChange={(e) => setCurrent(e.target.value)}
                />
              )}
            </Field>
          )}
          <Field
            label="New password"
            hint={`At least ${MIN_PASSWORD_LENGTH} characters.`}
            error={tooShort && touched ? `Use at least ${MIN_PASSWORD_LENGTH} characters.` : null}
          >
            {(props) => (
              <Input
                {...props}
                type="password"
                name="new-password"
                autoComplete="new-password"
                required
                minLength={MIN_PASSWORD_LENGTH}
                value={next}
                onChange={(e) => setNext(e.target.value)}
              />
            )}
          </Field>
          <Field label="Confirm new password" error={mismatch ? 'The passwords do not match.' : serverError}>
            {(props) => (
              <Input
                {...props}
                type="password"
                name="confirm-password"
                autoComplete="new-password"
                required
                value={confirm}
                onChange={(e) => setConfirm(e.target.value)}
              />
            )}
          </Field>
          <div>
            <Button
              type="submit"
              variant="primary"
              loading={setPassword.isPending}
              disabled={!next || !confirm || (hasPassword && !current)}
            >
              {hasPassword ? 'Change password' : 'Set password'}
            </Button>
          </div>
        </form>
      </CardBody>
    </Card>
  )
}

function ThemeCard() {
  const { preference, setPreference } = useTheme()
  return (
    <Card>
      <CardHeader title="Theme" description="System follows your device’s light or dark setting." />
      <CardBody>
        <Segmented<ThemePreference>
          label="Theme"
          value={preference}
          onChange={setPreference}
          options={[
            { value: 'system', label: <><Monitor /> System</> },
            { value: 'light', label: <><Sun /> Light</> },
            { value: 'dark', label: <><Moon /> Dark</> },
          ]}
        />
      </CardBody>
    </Card>
  )
}

export function ProfilePage() {
  const { data: me, isPending, isError, error } = useMe()
  const signOut = useSignOut()
  const navigate = useNavigate()

  return (
    <div className="mx-auto flex max-w-3xl flex-col gap-4 px-4 py-8 sm:px-6">
      <PageHeader title="Profile" />
      {isError && <Alert title="Could not load your profile">{errorMessage(error)}</Alert>}
      <Card>
        <CardHeader title="Account" />
        <CardBody>
          {isPending ? (
            <Skeleton className="h-16" />
          ) : me ? (
            <div className="flex flex-wrap items-center gap-4">
              <span
                aria-hidden
                className="flex size-12 items-center justify-center rounded-full bg-accent-soft text-lg font-semibold text-accent uppercase"
              >
                {me.username.slice(0, 1)}
              </span>
              <div className="min-w-0 flex-1">
                <div className="flex items-center gap-1">
                  <span className="truncate text-base font-semibold text-fg" data-testid="profile-username">
                    {me.username}
                  </span>
                  <CopyButton value={me.username} label="Copy username" />
                </div>
                <p className="text-xs text-muted">Member since {formatDate(me.created_at)}</p>
              </div>
              {me.has_password ? (
                <Badge tone="success">
                  <ShieldCheck className="size-3.5" /> Password set
                </Badge>
              ) : (
                <Badge tone="warning">
                  <ShieldAlert className="size-3.5" /> No password
                </Badge>
              )}
            </div>
          ) : null}
        </CardBody>
      </Card>
      {me && <PasswordCard hasPassword={me.has_password} />}
      <ThemeCard />
      <Card>
        <CardHeader
          title="Sign out"
          description={
            me && !me.has_password
              ? 'Set a password first, or you will not be able to come back to this account.'
              : 'You can sign in again with your username and password.'
          }
        />
        <CardBody>
          <Button
            variant={me && !me.has_password ? 'danger' : 'secondary'}
            icon={<LogOut />}
            loading={signOut.isPending}
            onClick={() => signOut.mutate(undefined, { onSettled: () => navigate('/', { replace: true }) })}
          >
            Sign out
          </Button>
        </CardBody>
      </Card>
    </div>
  )
}
