import { FlaskConical, KeyRound } from 'lucide-react'
import { Alert } from '@/components/ui/Alert'
import { Button } from '@/components/ui/Button'
import { CodeTabs } from '@/components/ui/CodeTabs'
import { CopyButton } from '@/components/ui/CopyButton'
import { Dialog } from '@/components/ui/Dialog'
import { useOpenAiBaseUrl } from '@/app/api'
import { buildSnippets } from '../snippets'

export interface ShownSecret {
  gatewayId: string
  gatewayName: string
  secret: string
  reason: 'created' | 'rotated'
}

/** Shows a gateway secret once, with a copy button and ready-to-paste snippets. */
/** `onClose(next)`: hide the dialog, then go to `next` when the user picked a destination. */
export function SecretDialog({ shown, onClose }: { shown: ShownSecret | null; onClose: (next?: string) => void }) {
  const baseUrl = useOpenAiBaseUrl()
  const title = shown?.reason === 'rotated' ? 'New secret for ' : 'Gateway created: '
  return (
    <Dialog
      open={shown !== null}
      onClose={() => onClose()}
      dismissOnBackdrop={false}
      className="max-w-2xl"
      title={
        <span className="flex items-center gap-2">
          <KeyRound className="size-4 text-accent" />
          {title}
          {shown?.gatewayName}
        </span>
      }
      description={
        shown?.reason === 'rotated'
          ? 'The previous secret stopped working. Update your apps with this one.'
          : 'Point any OpenAI-compatible client at the base URL below, with this secret as its API key.'
      }
      footer={
        shown && (
          <>
            <Button
              variant="ghost"
              icon={<FlaskConical />}
              onClick={() => onClose(`/g/${shown.gatewayId}/playground`)}
            >
              Try it in the playground
            </Button>
            <Button variant="primary" onClick={() => onClose()}>
              I’ve saved it
            </Button>
          </>
        )
      }
    >
      {shown && (
        <div className="flex flex-col gap-4">
          <Alert tone="warning" title="Copy this secret now">
            It is shown only once. Tollgate keeps just a hash, so nobody can show it to you again — if you lose it,
            rotate it.
          </Alert>
          <div>
            <p className="mb-1.5 text-[13px] font-medium text-fg" id="secret-label">
              Gateway secret
            </p>
            <div className="flex items-center gap-2 rounded-lg border border-border bg-subtle py-1.5 pr-1.5 pl-3">
              <code
                aria-labelledby="secret-label"
                data-testid="secret-value"
                className="min-w-0 flex-1 font-mono text-[13px] break-all text-fg select-all"
              >
                {shown.secret}
              </code>
              <CopyButton value={shown.secret} label="Copy secret" variant="secondary">
                Copy
              </CopyButton>
            </div>
          </div>
          <div>
            <p className="mb-1.5 text-[13px] font-medium text-fg">Base URL</p>
            <div className="flex items-center gap-2 rounded-lg border border-border bg-subtle py-1.5 pr-1.5 pl-3">
              <code className="min-w-0 flex-1 truncate font-mono text-[13px] text-fg" data-testid="base-url">
                {baseUrl}
              </code>
              <CopyButton value={baseUrl} label="Copy base URL" />
            </div>
          </div>
          <div>
            <p className="mb-1.5 text-[13px] font-medium text-fg">Quick start</p>
            <CodeTabs samples={buildSnippets(baseUrl, shown.secret)} />
          </div>
        </div>
      )}
    </Dialog>
  )
}
