import { ArrowRight, ChartNoAxesCombined, Plug, ScrollText } from 'lucide-react'
import { useNavigate } from 'react-router'
import { Alert, errorMessage } from '@/components/ui/Alert'
import { Button, ButtonLink } from '@/components/ui/Button'
import { useJoin } from '../hooks'
import { AuthLayout } from './AuthLayout'

const features = [
  {
    icon: <Plug />,
    title: 'Drop-in OpenAI endpoint',
    text: 'Point any OpenAI SDK at your gateway’s base URL. One secret per project, rotate it any time.',
  },
  {
    icon: <ChartNoAxesCombined />,
    title: 'Cost and latency, per call',
    text: 'Tokens, dollars, p50/p95 latency and error rates per day and per model, for each gateway.',
  },
  {
    icon: <ScrollText />,
    title: 'Every request logged',
    text: 'Filter by status, model and time, inspect any call, export the lot as CSV or NDJSON.',
  },
]

const sample = `from openai import OpenAI

client = OpenAI(
    base_url="<your gateway>/v1",
    api_key="tg-…",
)
client.chat.completions.create(
    model="mock/echo",
    messages=[{"role": "user", "content": "Hello"}],
)`

/** Colours the sample's strings and keywords; the sample is fixed text, so a regex is enough. */
function Highlighted({ code }: { code: string }) {
  return code.split(/("[^"]*"|\b(?:from|import)\b)/).map((part, i) =>
    part.startsWith('"') ? (
      <span key={i} className="text-[var(--chart-2)]">
        {part}
      </span>
    ) : part === 'from' || part === 'import' ? (
      <span key={i} className="text-accent">
        {part}
      </span>
    ) : (
      part
    ),
  )
}

export function WelcomePage() {
  const join = useJoin()
  const navigate = useNavigate()

  return (
    <AuthLayout
      aside={
        <ButtonLink to="/login" variant="ghost" size="sm">
          Sign in
        </ButtonLink>
      }
    >
      <section className="mx-auto grid w-full max-w-6xl flex-1 items-center gap-12 px-5 py-10 sm:px-8 lg:grid-cols-[1.1fr_1fr] lg:py-16">
        <div>
          <p className="mb-4 inline-flex items-center gap-2 rounded-full border border-border bg-surface px-3 py-1 text-xs text-muted shadow-xs">
            <span className="size-1.5 rounded-full bg-success" aria-hidden />
            No email, no card — an account in one click
          </p>
          <h1 className="text-4xl font-semibold tracking-tight text-balance text-fg sm:text-5xl">
            One endpoint for every model.
            <span className="block text-muted">Every call metered.</span>
          </h1>
          <p className="mt-5 max-w-xl text-base leading-relaxed text-muted">
            Tollgate sits between your app and LLM providers. Create a gateway per project, keep your OpenAI client,
            and see what each call costs, how long it took and what went wrong.
          </p>
          {join.isError && (
            <Alert className="mt-6 max-w-xl" title="Could not create an account">
              {errorMessage(join.error)}
            </Alert>
          )}
          <div className="mt-8 flex flex-wrap items-center gap-3">
            <Button
              variant="primary"
              className="h-11 px-5 text-[15px]"
              loading={join.isPending}
              onClick={() =>
                // mutateAsync: this page unmounts as soon as the session exists,
                // and per-call callbacks of an unmounted mutation never run.
                join.mutateAsync().then(
                  () => navigate('/', { replace: true, state: { joined: true } }),
                  () => undefined,
                )
              }
            >
              Start in one click
              <ArrowRight />
            </Button>
            <ButtonLink to="/login" variant="secondary" className="h-11 px-5 text-[15px]">
              I have an account
            </ButtonLink>
          </div>
          <p className="mt-4 text-xs text-faint">
            You get a generated username. Set a password later to sign in from another browser.
          </p>
        </div>
        <div className="hidden overflow-hidden rounded-xl border border-border bg-surface shadow-sm lg:block" aria-hidden>
          <div className="flex items-center gap-1.5 border-b border-border px-4 py-3">
            <span className="size-2.5 rounded-full bg-border-strong" />
            <span className="size-2.5 rounded-full bg-border-strong" />
            <span className="size-2.5 rounded-full bg-border-strong" />
            <span className="ml-3 font-mono text-xs text-faint">app.py</span>
          </div>
          <pre className="overflow-x-auto p-5 font-mono text-[13px] leading-relaxed text-fg">
            <Highlighted code={sample} />
          </pre>
        </div>
      </section>
      <section className="mx-auto grid w-full max-w-6xl gap-4 px-5 pb-10 sm:grid-cols-3 sm:px-8">
        {features.map((feature) => (
          <div key={feature.title} className="rounded-xl border border-border bg-surface p-5 shadow-xs">
            <div className="mb-3 flex size-9 items-center justify-center rounded-lg bg-accent-soft text-accent [&_svg]:size-4.5">
              {feature.icon}
            </div>
            <h2 className="text-sm font-semibold text-fg">{feature.title}</h2>
            <p className="mt-1 text-[13px] leading-relaxed text-muted">{feature.text}</p>
          </div>
        ))}
      </section>
    </AuthLayout>
  )
}
