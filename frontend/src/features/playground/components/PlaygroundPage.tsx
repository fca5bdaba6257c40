import { useQueryClient } from '@tanstack/react-query'
import { Eye, EyeOff, KeyRound, MessageSquarePlus, Plus, Send, Square, Trash2 } from 'lucide-react'
import { useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react'
import { Link, useParams } from 'react-router'
import { ApiError } from '@/api/client'
import type { ChatMessage, ModelInfo } from '@/api/types'
import { useApi } from '@/app/api'
import { Alert, errorMessage } from '@/components/ui/Alert'
import { Button } from '@/components/ui/Button'
import { Card, CardBody } from '@/components/ui/Card'
import { CopyButton } from '@/components/ui/CopyButton'
import { Unpriced } from '@/components/ui/Cost'
import { Field, Input, Select } from '@/components/ui/Field'
import { Switch } from '@/components/ui/Switch'
import { cn } from '@/components/ui/cn'
import { analyticsKey } from '@/features/analytics/hooks'
import { useGateway } from '@/features/gateways/hooks'
import { logsKey } from '@/features/logs/hooks'
import { formatCompact, formatInteger, formatLatency, formatUsd } from '@/lib/format'
import { recallSecret, rememberSecret } from '@/lib/secrets'
import { computeCost, describePricing } from '../cost'
import { useModels } from '../hooks'
import { explainLimitError } from '../limitError'
import { runChat, type ChatResult } from '../runChat'
import { LimitRefusal } from './LimitRefusal'

type Turn = { id: number; role: 'user' | 'assistant'; content: string }

type Run =
  | { status: 'idle' }
  | { status: 'running'; content: string; stream: boolean }
  | { status: 'done'; result: ChatResult; cost: number | null; priced: boolean; stream: boolean }
  | { status: 'error'; error: unknown; content: string }

const PREFERRED_MODEL = 'mock/echo'

function pickDefaultModel(models: ModelInfo[]): string {
  return (
    models.find((m) => m.id === PREFERRED_MODEL)?.id ??
    models.find((m) => m.available !== false)?.id ??
    models[0]?.id ??
    ''
  )
}

/** Models that can answer now first, then the others by provider. */
function groupModels(models: ModelInfo[]): { label: string; models: ModelInfo[] }[] {
  const ready = models.filter((m) => m.available !== false)
  const byProvider = new Map<string, ModelInfo[]>()
  for (const model of models) {
    if (model.available !== false) continue
    const list = byProvider.get(model.owned_by) ?? []
    list.push(model)
    byProvider.set(model.owned_by, list)
  }
  return [
    ...(ready.length ? [{ label: 'Ready to use', models: ready }] : []),
    ...[...byProvider.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([provider, list]) => ({ label: `${provider} — needs a provider key`, models: list })),
  ]
}

function SecretField({ gatewayId, secret, onChange }: { gatewayId: string; secret: string; onChange: (s: string) => void }) {
  const [visible, setVisible] = useState(false)
  return (
    <Field
      label="Gateway secret"
      hint={
        <>
          Kept in this tab only.{' '}
          <Link to={`/g/${gatewayId}/settings`} className="text-accent hover:underline">
            Lost it? Rotate
          </Link>
        </>
      }
    >
      {(props) => (
        <div className="relative">
          <Input
            {...props}
            name="gateway-secret"
            type={visible ? 'text' : 'password'}
            autoComplete="off"
            spellCheck={false}
            placeholder="tg-…"
            className="pr-9 font-mono text-xs"
            value={secret}
            onChange={(e) => onChange(e.target.value.trim())}
          />
          <Button
            variant="ghost"
            size="icon-sm"
            className="absolute top-1 right-1"
            aria-label={visible ? 'Hide secret' : 'Show secret'}
            onClick={() => setVisible((v) => !v)}
          >
            {visible ? <EyeOff /> : <Eye />}
          </Button>
        </div>
      )}
    </Field>
  )
}

const messageTextareaClass =
  'block min-h-12 w-full resize-y bg-transparent px-3 pt-0.5 pb-2.5 text-sm leading-relaxed text-fg placeholder:text-faint focus:outline-none'

/** One chat message: its role on top, a borderless textarea below, one focus ring around both. */
function MessageBox({ header, children }: { header: ReactNode; children: ReactNode }) {
  return (
    <div className="rounded-lg border border-border bg-surface shadow-xs transition-colors focus-within:border-accent focus-within:ring-3 focus-within:ring-accent/20 hover:border-border-strong">
      <div className="flex h-8 items-center justify-between gap-2 px-3">{header}</div>
      {children}
    </div>
  )
}

function Metric({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs text-muted">{label}</dt>
      <dd className="mt-0.5 truncate text-sm font-semibold text-fg tabular" data-testid={testId}>
        {value}
      </dd>
    </div>
  )
}

export function PlaygroundPage() {
  const { gatewayId = '' } = useParams()
  const api = useApi()
  const queryClient = useQueryClient()
  // Its saved limits name the cap of a 429 that the headers do not carry.
  const { data: gateway } = useGateway(gatewayId)
  const [secret, setSecretState] = useState(() => recallSecret(gatewayId) ?? '')
  const models = useModels(gatewayId, secret)
  const [model, setModel] = useState('')
  const [stream, setStream] = useState(true)
  const [temperature, setTemperature] = useState('')
  const [maxTokens, setMaxTokens] = useState('')
  const [system, setSystem] = useState('You are a helpful assistant.')
  const nextId = useRef(2)
  const [turns, setTurns] = useState<Turn[]>([{ id: 1, role: 'user', content: '' }])
  const [run, setRun] = useState<Run>({ status: 'idle' })
  const abortRef = useRef<AbortController | null>(null)

  useEffect(() => () => abortRef.current?.abort(), [])

  const modelList = models.data?.data ?? []
  const selectedModel = modelList.find((m) => m.id === model)
  useEffect(() => {
    if (modelList.length > 0 && !modelList.some((m) => m.id === model)) setModel(pickDefaultModel(modelList))
  }, [modelList, model])

  const setSecret = (value: string) => {
    setSecretState(value)
    if (value) rememberSecret(gatewayId, value)
  }

  const hasUserMessage = turns.some((t) => t.role === 'user' && t.content.trim())
  const running = run.status === 'running'
  const canSend = Boolean(secret && model && hasUserMessage && !running)

  const send = async () => {
    if (!canSend) return
    const messages: ChatMessage[] = [
      ...(system.trim() ? [{ role: 'system' as const, content: system }] : []),
      ...turns.filter((t) => t.content.trim()).map((t) => ({ role: t.role, content: t.content })),
    ]
    const controller = new AbortController()
    abortRef.current = controller
    setRun({ status: 'running', content: '', stream })
    let content = ''
    try {
      const result = await runChat(
        api,
        secret,
        {
          model,
          messages,
          stream,
          ...(temperature.trim() ? { temperature: Number(temperature) } : {}),
          ...(maxTokens.trim() ? { max_tokens: Number(maxTokens) } : {}),
        },
        {
          signal: controller.signal,
          onDelta: (delta) => {
            content += delta
            setRun({ status: 'running', content, stream })
          },
        },
      )
      const priced = Boolean(selectedModel?.pricing)
      const cost = result.usage ? computeCost(result.usage, selectedModel?.pricing) : null
      setRun({ status: 'done', result, cost, priced, stream })
    } catch (error) {
      setRun({ status: 'error', error, content })
    } finally {
      abortRef.current = null
      // The call is in the analytics store within a flush interval.
      setTimeout(() => {
        void queryClient.invalidateQueries({ queryKey: logsKey(gatewayId) })
        void queryClient.invalidateQueries({ queryKey: analyticsKey(gatewayId) })
      }, 1500)
    }
  }

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && (event.metaKey || event.ctrlKey)) {
      event.preventDefault()
      void send()
    }
  }

  const updateTurn = (id: number, patch: Partial<Turn>) =>
    setTurns((all) => all.map((t) => (t.id === id ? { ...t, ...patch } : t)))

  const addTurn = (role: Turn['role'], content = '') => {
    const id = nextId.current++
    setTurns((all) => [...all, { id, role, content }])
  }

  const keepAnswer = () => {
    if (run.status !== 'done') return
    const answer = run.result.content
    setTurns((all) => [
      ...all,
      { id: nextId.current++, role: 'assistant', content: answer },
      { id: nextId.current++, role: 'user', content: '' },
    ])
    setRun({ status: 'idle' })
  }

  const secretRejected = models.error instanceof ApiError && models.error.status === 401
  const refusal = run.status === 'error' ? explainLimitError(run.error, gateway?.limits) : null
  const answer = run.status === 'running' ? run.content : run.status === 'done' ? run.result.content : run.status === 'error' ? run.content : ''

  return (
    <div className="flex flex-col gap-4">
      <div>
        <h2 className="text-lg font-semibold tracking-tight text-fg">Playground</h2>
        <p className="text-[13px] text-muted">
          Calls go through this gateway like any client’s, so they show up in analytics and logs.
        </p>
      </div>

      <div className="grid gap-4 lg:grid-cols-[20rem_1fr]">
        <Card className="h-fit">
          <CardBody className="flex flex-col gap-4">
            <SecretField gatewayId={gatewayId} secret={secret} onChange={setSecret} />
            {!secret && (
              <Alert tone="info">
                Paste the secret shown when you created the gateway (or rotated its secret).
              </Alert>
            )}
            {secretRejected && (
              <Alert title="Secret not accepted">
                It may be mistyped or rotated.{' '}
                <Link to={`/g/${gatewayId}/settings`} className="underline">
                  Rotate it
                </Link>{' '}
                to get a new one.
              </Alert>
            )}
            {models.isError && !secretRejected && <Alert title="Could not load models">{errorMessage(models.error)}</Alert>}
            <Field
              label="Model"
              hint={
                selectedModel
                  ? [
                      selectedModel.available === false ? 'Needs a provider key on the server' : null,
                      describePricing(selectedModel.pricing) ?? 'No price in the catalog',
                      selectedModel.context_window ? `${formatCompact(selectedModel.context_window)} context` : null,
                    ]
                      .filter(Boolean)
                      .join(' · ') || undefined
                  : undefined
              }
            >
              {(props) => (
                <Select
                  {...props}
                  name="model"
                  disabled={!models.data}
                  value={model}
                  onChange={(e) => setModel(e.target.value)}
                >
                  {!models.data && <option value="">{models.isFetching ? 'Loading models…' : 'Needs the secret'}</option>}
                  {groupModels(modelList).map((group) => (
                    <optgroup key={group.label} label={group.label}>
                      {group.models.map((m) => (
                        <option key={m.id} value={m.id}>
                          {m.id}
                        </option>
                      ))}
                    </optgroup>
                  ))}
                </Select>
              )}
            </Field>
            <Switch
              label="Stream the answer"
              description="Server-sent events, token by token."
              checked={stream}
              onChange={setStream}
            />
            <div className="grid grid-cols-2 gap-3">
              <Field label="Temperature">
                {(props) => (
                  <Input
                    {...props}
                    type="number"
                    inputMode="decimal"
                    min={0}
                    max={2}
                    step={0.1}
                    placeholder="default"
                    value={temperature}
                    onChange={(e) => setTemperature(e.target.value)}
                  />
                )}
              </Field>
              <Field label="Max tokens">
                {(props) => (
                  <Input
                    {...props}
                    type="number"
                    inputMode="numeric"
                    min={1}
                    step={1}
                    placeholder="default"
                    value={maxTokens}
                    onChange={(e) => setMaxTokens(e.target.value)}
                  />
                )}
              </Field>
            </div>
          </CardBody>
        </Card>

        <div className="flex min-w-0 flex-col gap-4">
          <Card>
            <CardBody className="flex flex-col gap-3">
              <MessageBox
                header={
                  <label htmlFor="system-message" className="text-[11px] font-semibold tracking-wide text-muted uppercase">
                    System
                  </label>
                }
              >
                <textarea
                  id="system-message"
                  name="system"
                  rows={2}
                  className={messageTextareaClass}
                  value={system}
                  onChange={(e) => setSystem(e.target.value)}
                  onKeyDown={onKeyDown}
                />
              </MessageBox>
              {turns.map((turn, index) => (
                <MessageBox
                  key={turn.id}
                  header={
                    <>
                      <label htmlFor={`turn-${turn.id}`} className="sr-only">
                        Message {index + 1} ({turn.role})
                      </label>
                      <select
                        aria-label={`Role of message ${index + 1}`}
                        className="select-chevron h-6 cursor-pointer appearance-none rounded bg-transparent pr-6 pl-0 text-[11px] font-semibold tracking-wide text-muted uppercase hover:text-fg focus:outline-none focus-visible:ring-2 focus-visible:ring-ring"
                        value={turn.role}
                        onChange={(e) => updateTurn(turn.id, { role: e.target.value as Turn['role'] })}
                      >
                        <option value="user">User</option>
                        <option value="assistant">Assistant</option>
                      </select>
                      {turns.length > 1 && (
                        <Button
                          variant="ghost"
                          size="icon-sm"
                          className="-mr-1.5 size-6"
                          aria-label={`Remove message ${index + 1}`}
                          onClick={() => setTurns((all) => all.filter((t) => t.id !== turn.id))}
                        >
                          <Trash2 />
                        </Button>
                      )}
                    </>
                  }
                >
                  <textarea
                    id={`turn-${turn.id}`}
                    name={`message-${index + 1}`}
                    rows={3}
                    className={messageTextareaClass}
                    placeholder={turn.role === 'user' ? 'Ask something…' : 'What the assistant said…'}
                    value={turn.content}
                    onChange={(e) => updateTurn(turn.id, { content: e.target.value })}
                    onKeyDown={onKeyDown}
                  />
                </MessageBox>
              ))}
              <div className="flex flex-wrap items-center justify-between gap-2 pt-1">
                <Button
                  size="sm"
                  variant="ghost"
                  icon={<Plus />}
                  onClick={() => addTurn(turns[turns.length - 1]?.role === 'user' ? 'assistant' : 'user')}
                >
                  Add message
                </Button>
                <div className="flex items-center gap-2">
                  <span className="hidden text-xs text-faint sm:inline">Ctrl + Enter</span>
                  {running ? (
                    <Button icon={<Square />} onClick={() => abortRef.current?.abort()}>
                      Stop
                    </Button>
                  ) : (
                    <Button variant="primary" icon={<Send />} disabled={!canSend} onClick={() => void send()}>
                      Send
                    </Button>
                  )}
                </div>
              </div>
            </CardBody>
          </Card>

          <Card aria-live="polite" aria-busy={running}>
            <div className="flex items-center justify-between gap-2 border-b border-border px-5 py-3">
              <h3 className="text-sm font-semibold text-fg">Response</h3>
              <div className="flex items-center gap-1">
                {run.status === 'done' && (
                  <>
                    <CopyButton value={run.result.content} label="Copy response" />
                    <Button size="sm" variant="ghost" icon={<MessageSquarePlus />} onClick={keepAnswer}>
                      Continue the chat
                    </Button>
                  </>
                )}
              </div>
            </div>
            <CardBody className="flex flex-col gap-4">
              {run.status === 'idle' ? (
                <p className="py-6 text-center text-[13px] text-muted">
                  {secret ? (
                    <>Write a message and press Send. Try <code className="font-mono text-xs">mock/echo</code>: it answers with your words.</>
                  ) : (
                    <span className="inline-flex items-center gap-1.5">
                      <KeyRound className="size-3.5" /> Add the gateway secret to start.
                    </span>
                  )}
                </p>
              ) : (
                <div
                  data-testid="playground-answer"
                  className={cn(
                    'min-h-16 text-sm leading-relaxed whitespace-pre-wrap break-words text-fg',
                    running && 'stream-caret',
                  )}
                >
                  {answer}
                </div>
              )}
              {run.status === 'error' && refusal && (
                <LimitRefusal
                  gatewayId={gatewayId}
                  explanation={refusal}
                  requestId={run.error instanceof ApiError ? run.error.requestId : null}
                />
              )}
              {run.status === 'error' && !refusal && (
                <Alert title={run.error instanceof DOMException && run.error.name === 'AbortError' ? 'Stopped' : 'The call failed'}>
                  {run.error instanceof DOMException && run.error.name === 'AbortError'
                    ? 'You stopped the request.'
                    : errorMessage(run.error)}
                  {run.error instanceof ApiError && run.error.requestId && (
                    <span className="mt-1 block font-mono text-xs">request {run.error.requestId}</span>
                  )}
                </Alert>
              )}
              {run.status === 'done' && (
                <dl
                  className="grid grid-cols-2 gap-4 border-t border-border pt-4 sm:grid-cols-5"
                  data-testid="playground-metrics"
                >
                  <Metric label="Latency" value={formatLatency(run.result.latencyMs)} testId="metric-latency" />
                  <Metric
                    label="Time to first token"
                    value={run.stream ? formatLatency(run.result.ttftMs) : 'not streamed'}
                    testId="metric-ttft"
                  />
                  <Metric
                    label="Tokens in → out"
                    value={
                      run.result.usage
                        ? `${formatInteger(run.result.usage.prompt_tokens)} → ${formatInteger(run.result.usage.completion_tokens)}`
                        : 'not reported'
                    }
                    testId="metric-tokens"
                  />
                  <Metric
                    label="Cost"
                    value={
                      !run.priced ? <Unpriced /> : run.cost === null ? 'not reported' : formatUsd(run.cost)
                    }
                    testId="metric-cost"
                  />
                  <div className="col-span-2 min-w-0 sm:col-span-1">
                    <dt className="text-xs text-muted">Request ID</dt>
                    <dd className="mt-0.5 flex items-center gap-1">
                      <span className="truncate font-mono text-xs text-fg" data-testid="metric-request-id">
                        {run.result.requestId ?? '—'}
                      </span>
                      {run.result.requestId && <CopyButton value={run.result.requestId} label="Copy request ID" />}
                    </dd>
                  </div>
                </dl>
              )}
            </CardBody>
          </Card>
        </div>
      </div>
    </div>
  )
}
