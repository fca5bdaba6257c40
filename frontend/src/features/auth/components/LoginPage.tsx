import { useState } from 'react'
import { Navigate, useNavigate, useSearchParams } from 'react-router'
import { ApiError } from '@/api/client'
import { Alert, errorMessage } from '@/components/ui/Alert'
import { Button } from '@/components/ui/Button'
import { Field, Input } from '@/components/ui/Field'
import { useJoin, useLogin, useSession } from '../hooks'
import { isTooManyAttempts, tooManyAttemptsMessage } from '../tooManyAttempts'
import { AuthLayout } from './AuthLayout'

/** Only same-app paths are followed after sign-in. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/'
}

export function LoginPage() {
  const session = useSession()
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const login = useLogin()
  const join = useJoin()
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const next = safeNext(params.get('next'))
  const expired = params.get('expired') === '1'

  if (session && !login.isSuccess && !join.isSuccess) return <Navigate to={next} replace />

  // Refused because the account is flooded with attempts: said above the form, with when to retry.
  const flooded = isTooManyAttempts(login.error) ? tooManyAttemptsMessage(login.error) : null
  const loginError =
    flooded !== null
      ? null
      : login.error instanceof ApiError && login.error.status === 401
        ? 'That username and password do not match.'
        : login.error
          ? errorMessage(login.error)
          : null

  return (
    <AuthLayout>
      <div className="flex flex-1 items-start justify-center px-4 pt-10 pb-16 sm:items-center sm:pt-0">
        <div className="w-full max-w-sm">
          <h1 className="text-2xl font-semibold tracking-tight text-fg">Sign in to Tollgate</h1>
          <p className="mt-1.5 text-[13px] text-muted">Use the username you were given and the password you set.</p>

          {expired && !login.isPending && (
            <Alert tone="warning" className="mt-5" title="Your session expired, sign in again">
              For your security, sessions end after a while. Your gateways and logs are safe.
            </Alert>
          )}

          {flooded && !login.isPending && (
            <Alert tone="warning" className="mt-5" title="Too many sign-in attempts">
              {flooded.message}
              <span className="mt-1 block font-medium" data-testid="login-retry-after">
                {flooded.retry}
              </span>
            </Alert>
          )}

          <form
            className="mt-6 flex flex-col gap-4"
            onSubmit={(event) => {
              event.preventDefault()
              login.mutateAsync({ username: username.trim(), password }).then(
                () => navigate(next, { replace: true }),
                () => undefined,
              )
            }}
          >
            <Field label="Username">
              {(props) => (
                <Input
                  {...props}
                  name="username"
                  autoComplete="username"
                  placeholder="Brave_Fox"
                  required
                  value={username}
                  onChange={(e) => setUsername(e.target.value)}
                />
              )}
            </Field>
            <Field label="Password" error={loginError}>
              {(props) => (
                <Input
                  {...props}
                  name="password"
                  type="password"
                  autoComplete="current-password"
                  required
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                />
              )}
            </Field>
            <Button type="submit" variant="primary" loading={login.isPending} className="mt-1 h-10">
              Sign in
            </Button>
          </form>

          <div className="my-6 flex items-center gap-3 text-xs text-faint">
            <span className="h-px flex-1 bg-border" />
            or
            <span className="h-px flex-1 bg-border" />
          </div>
          {join.isError && <Alert className="mb-3">{errorMessage(join.error)}</Alert>}
          <Button
            className="h-10 w-full"
            loading={join.isPending}
            onClick={() =>
              join.mutateAsync().then(
                () => navigate('/', { replace: true, state: { joined: true } }),
                () => undefined,
              )
            }
          >
            Start a new account in one click
          </Button>
        </div>
      </div>
    </AuthLayout>
  )
}
