import { ArrowDown, ArrowUp, Pencil, Plus, Trash2, X } from 'lucide-react'
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react'
import { Link } from 'react-router'
import type { Fallbacks, Gateway, ModelInfo } from '@/api/types'
import { Alert, errorMessage } from '@/components/ui/Alert'
import { Button } from '@/components/ui/Button'
import { Card, CardBody, CardHeader } from '@/components/ui/Card'
import { Field, Input } from '@/components/ui/Field'
import { useToast } from '@/components/ui/Toast'
import { useModels } from '@/features/playground/hooks'
import { recallSecret } from '@/lib/secrets'
import { useSetFallbacks } from '../hooks'

// The server's limits, mirrored so the form stops before a certain 400; the
// server still checks them (and knows the catalog, which this page may not).
const MAX_FALLBACKS_PER_CHAIN = 5
const MAX_CHAINS = 50

interface Chain {
  model: string
  fallbacks: string[]
}

/** `chains` with `chain` in place of `replacing` (same position), or appended. */
function withChain(chains: Fallbacks, chain: Chain, replacing: string | null): Fallbacks {
  const entries = Object.entries(chains)
  const at = replacing === null ? -1 : entries.findIndex(([model]) => model === replacing)
  if (at === -1) return { ...chains, [chain.model]: chain.fallbacks }
  entries[at] = [chain.model, chain.fallbacks]
  return Object.fromEntries(entries)
}

function withoutChain(chains: Fallbacks, model: string): Fallbacks {
  return Object.fromEntries(Object.entries(chains).filter(([key]) => key !== model))
}

/** Ready models first: suggestions for the model fields. */
function ModelSuggestions({ id, models }: { id: string; models: ModelInfo[] }) {
  const sorted = [...models.filter((m) => m.available !== false), ...models.filter((m) => m.available === false)]
  return (
    <datalist id={id}>
      {sorted.map((m) => (
        <option key={m.id} value={m.id} label={m.available === false ? 'needs a provider key' : undefined} />
      ))}
    </datalist>
  )
}

function ChainView({
  chain,
  disabled,
  removing,
  onEdit,
  onRemove,
}: {
  chain: Chain
  disabled: boolean
  removing: boolean
  onEdit: () => void
  onRemove: () => void
}) {
  return (
    <li className="flex items-start justify-between gap-3 px-3 py-2.5" data-testid="fallback-chain">
      <div className="flex min-w-0 flex-wrap items-center gap-x-1.5 gap-y-1 pt-1 font-mono text-xs">
        <span className="font-medium break-all text-fg">{chain.model}</span>
        <ol aria-label={`Fallbacks of ${chain.model}`} className="flex min-w-0 flex-wrap items-center gap-x-1.5 gap-y-1">
          {chain.fallbacks.map((model) => (
            <li key={model} className="flex min-w-0 items-center gap-1.5 break-all text-muted">
              <span aria-hidden="true" className="text-faint">
                →
              </span>
              {model}
            </li>
          ))}
        </ol>
      </div>
      <div className="flex shrink-0 items-center gap-0.5">
        <Button variant="ghost" size="icon-sm" aria-label={`Edit the chain of ${chain.model}`} disabled={disabled} onClick={onEdit}>
          <Pencil />
        </Button>
        <Button
          variant="ghost"
          size="icon-sm"
          aria-label={`Remove the chain of ${chain.model}`}
          icon={<Trash2 />}
          disabled={disabled}
          loading={removing}
          onClick={onRemove}
        />
      </div>
    </li>
  )
}

/** Builds one chain: the requested model, then its fallbacks in order. */
function ChainEditor({
  initial,
  taken,
  suggestionsId,
  saving,
  error,
  onSave,
  onCancel,
}: {
  initial: Chain | null
  /** Requested models that already have another chain. */
  taken: string[]
  suggestionsId: string | undefined
  saving: boolean
  error: Error | null
  onSave: (chain: Chain) => void
  onCancel: () => void
}) {
  const [model, setModel] = useState(initial?.model ?? '')
  const [fallbacks, setFallbacks] = useState<string[]>(initial?.fallbacks ?? [])
  const [next, setNext] = useState('')
  const nextRef = useRef<HTMLInputElement>(null)
  const orderId = useId()
  const titleId = useId()

  const requested = model.trim()
  const candidate = next.trim()
  const full = fallbacks.length >= MAX_FALLBACKS_PER_CHAIN
  const modelError = !requested
    ? null
    : taken.includes(requested)
      ? `${requested} already has a chain: edit that one instead.`
      : fallbacks.includes(requested)
        ? `${requested} cannot fall back to itself: remove it from the fallbacks.`
        : null
  const nextError = !candidate
    ? null
    : candidate === requested
      ? 'A model cannot fall back to itself.'
      : fallbacks.includes(candidate)
        ? `${candidate} is in this chain already.`
        : null
  const canAdd = Boolean(candidate) && !nextError && !full
  const canSave = Boolean(requested) && !modelError && fallbacks.length > 0

  const add = () => {
    if (!canAdd) return
    setFallbacks((all) => [...all, candidate])
    setNext('')
    nextRef.current?.focus()
  }
  const move = (from: number, to: number) =>
    setFallbacks((all) => {
      const moved = [...all]
      ;[moved[from], moved[to]] = [moved[to], moved[from]]
      return moved
    })
  const onNextKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    // Enter adds the model to the chain rather than saving a half-built chain.
    if (event.key !== 'Enter') return
    event.preventDefault()
    add()
  }

  return (
    <form
      aria-labelledby={titleId}
      className="flex flex-col gap-4 rounded-lg border border-border bg-subtle/40 p-4"
      onSubmit={(event) => {
        event.preventDefault()
        if (canSave) onSave({ model: requested, fallbacks })
      }}
    >
      <h3 id={titleId} className="text-[13px] font-semibold text-fg">
        {initial ? `Edit the chain of ${initial.model}` : 'New fallback chain'}
      </h3>
      <Field label="Requested model" hint="The model clients ask for, such as gpt-4o." error={modelError}>
        {(props) => (
          <Input
            {...props}
            name="requested-model"
            list={suggestionsId}
            autoComplete="off"
            spellCheck={false}
            autoFocus
            placeholder="gpt-4o"
            className="font-mono text-xs"
            value={model}
            onChange={(e) => setModel(e.target.value)}
          />
        )}
      </Field>

      <div className="flex flex-col gap-1.5">
        <p className="text-[13px] font-medium text-fg" id={orderId}>
          Fallbacks, in the order they are tried
        </p>
        {fallbacks.length === 0 ? (
          <p className="text-xs text-muted">None yet: add at least one below.</p>
        ) : (
          <ol className="flex flex-col gap-1.5" aria-labelledby={orderId}>
            {fallbacks.map((fallback, index) => (
              <li
                key={fallback}
                className="flex items-center gap-2 rounded-md border border-border bg-surface py-1 pr-1 pl-2.5 shadow-xs"
              >
                <span className="w-4 shrink-0 text-xs text-faint tabular" aria-hidden="true">
                  {index + 1}
                </span>
                <span className="min-w-0 flex-1 truncate font-mono text-xs text-fg" title={fallback}>
                  {fallback}
                </span>
                <Button
                  variant="ghost"
                  size="icon-sm"
                  aria-label={`Move ${fallback} up`}
                  disabled={index === 0}
                  onClick={() => move(index, index - 1)}
                >
                  <ArrowUp />
                </Button>
                <Button
                  variant="ghost"
                  size="icon-sm"
                  aria-label={`Move ${fallback} down`}
                  disabled={index === fallbacks.length - 1}
                  onClick={() => move(index, index + 1)}
                >
                  <ArrowDown />
                </Button>
                <Button
                  variant="ghost"
                  size="icon-sm"
                  aria-label={`Remove ${fallback}`}
                  onClick={() => setFallbacks((all) => all.filter((m) => m !== fallback))}
                >
                  <X />
                </Button>
              </li>
            ))}
          </ol>
        )}
      </div>

      <div className="flex flex-col gap-3 sm:flex-row sm:items-start">
        <Field
          label="Fallback model"
          className="flex-1"
          hint={
            full
              ? `A chain holds at most ${MAX_FALLBACKS_PER_CHAIN} fallbacks.`
              : 'Tried when every key of the models before it fails.'
          }
          error={nextError}
        >
          {(props) => (
            <Input
              {...props}
              ref={nextRef}
              name="fallback-model"
              list={suggestionsId}
              autoComplete="off"
              spellCheck={false}
              placeholder="anthropic/claude-sonnet-4-5"
              className="font-mono text-xs"
              disabled={full}
              value={next}
              onChange={(e) => setNext(e.target.value)}
              onKeyDown={onNextKeyDown}
            />
          )}
        </Field>
        <Button icon={<Plus />} className="sm:mt-6" disabled={!canAdd} onClick={add}>
          Add fallback
        </Button>
      </div>

      {error && <Alert title="The chain was not saved">{errorMessage(error)}</Alert>}

      <div className="flex flex-wrap justify-end gap-2 border-t border-border pt-4">
        <Button onClick={onCancel}>Cancel</Button>
        <Button type="submit" variant="primary" disabled={!canSave} loading={saving}>
          Save chain
        </Button>
      </div>
    </form>
  )
}

/**
 * The gateway's fallback chains. Each change (a chain saved or removed) is
 * sent at once as the whole map, which is what PATCH expects.
 */
export function FallbacksCard({ gateway }: { gateway: Gateway }) {
  const saveChain = useSetFallbacks(gateway.id)
  const removeChain = useSetFallbacks(gateway.id)
  const toast = useToast()
  const chains = gateway.fallbacks ?? {}
  const entries = Object.entries(chains)
  // null: closed; { replacing: null }: a new chain; otherwise the chain being edited.
  const [editing, setEditing] = useState<{ replacing: string | null } | null>(null)
  const [removing, setRemoving] = useState<string | null>(null)
  const newChainRef = useRef<HTMLButtonElement>(null)
  const wasEditing = useRef(false)
  const suggestionsId = useId()

  // Suggestions need the gateway secret; this tab may have seen it.
  const models = useModels(gateway.id, recallSecret(gateway.id) ?? '')
  const suggestions = models.data?.data ?? []

  useEffect(() => {
    // Once the editor closes, its focused control is gone: keep the keyboard in the card.
    if (wasEditing.current && editing === null) newChainRef.current?.focus()
    wasEditing.current = editing !== null
  }, [editing])

  const open = (replacing: string | null) => {
    saveChain.reset()
    // A removal still on its way keeps its state, so it can settle.
    if (!removeChain.isPending) removeChain.reset()
    setEditing({ replacing })
  }

  const save = (chain: Chain) => {
    if (!editing) return
    const replacing = editing.replacing
    saveChain.mutate(withChain(chains, chain, replacing), {
      onSuccess: () => {
        setEditing(null)
        toast.success(replacing === null ? `Fallbacks of ${chain.model} added` : `Fallbacks of ${chain.model} saved`)
      },
    })
  }

  const remove = (model: string) => {
    setRemoving(model)
    removeChain.mutate(withoutChain(chains, model), {
      onSuccess: () => {
        toast.success(`Fallbacks of ${model} removed`)
        newChainRef.current?.focus()
      },
      onSettled: () => setRemoving(null),
    })
  }

  const editingChain = editing?.replacing ? { model: editing.replacing, fallbacks: chains[editing.replacing] ?? [] } : null

  return (
    <Card>
      <CardHeader
        title="Fallbacks"
        description="When every key of a model fails (rate limit, server error, timeout, unreachable), the gateway tries its fallbacks in order."
      />
      <CardBody className="flex flex-col gap-4">
        {entries.length === 0 ? (
          <p className="text-[13px] text-muted" data-testid="no-fallbacks">
            No fallbacks yet: a call fails when every key of its model fails.
          </p>
        ) : (
          <ul aria-label="Fallback chains" className="divide-y divide-border rounded-lg border border-border">
            {entries.map(([model, fallbacks]) => (
              <ChainView
                key={model}
                chain={{ model, fallbacks }}
                disabled={editing !== null || removing !== null}
                removing={removing === model}
                onEdit={() => open(model)}
                onRemove={() => remove(model)}
              />
            ))}
          </ul>
        )}

        {removeChain.isError && <Alert title="The chain was not removed">{errorMessage(removeChain.error)}</Alert>}

        {models.data && <ModelSuggestions id={suggestionsId} models={suggestions} />}

        {editing ? (
          <>
            {!models.data && (
              <p className="text-xs text-muted" data-testid="fallback-models-hint">
                Type model ids, such as <code className="font-mono">openai/gpt-4o</code>. To pick from this gateway’s models,
                paste its secret in the{' '}
                <Link to={`/g/${gateway.id}/playground`} className="text-accent hover:underline">
                  Playground
                </Link>{' '}
                first.
              </p>
            )}
            <ChainEditor
              key={editing.replacing ?? ''}
              initial={editingChain}
              taken={entries.map(([model]) => model).filter((model) => model !== editing.replacing)}
              suggestionsId={models.data ? suggestionsId : undefined}
              saving={saveChain.isPending}
              error={saveChain.isError ? saveChain.error : null}
              onSave={save}
              onCancel={() => setEditing(null)}
            />
          </>
        ) : (
          <div className="flex flex-wrap items-center gap-3">
            <Button
              ref={newChainRef}
              icon={<Plus />}
              disabled={entries.length >= MAX_CHAINS}
              onClick={() => open(null)}
            >
              New fallback chain
            </Button>
            {entries.length >= MAX_CHAINS && (
              <span className="text-xs text-muted">A gateway holds at most {MAX_CHAINS} chains.</span>
            )}
          </div>
        )}
      </CardBody>
    </Card>
  )
}
