import { useState } from 'react'
import type { CreatedGateway } from '@/api/types'
import { errorMessage } from '@/components/ui/Alert'
import { Button } from '@/components/ui/Button'
import { Dialog } from '@/components/ui/Dialog'
import { Field, Input } from '@/components/ui/Field'
import { useCreateGateway } from '../hooks'

export function CreateGatewayDialog({
  open,
  onClose,
  onCreated,
}: {
  open: boolean
  onClose: () => void
  onCreated: (gateway: CreatedGateway) => void
}) {
  const create = useCreateGateway()
  const [name, setName] = useState('')
  const close = () => {
    setName('')
    create.reset()
    onClose()
  }
  return (
    <Dialog
      open={open}
      onClose={close}
      title="New gateway"
      description="One gateway per project or environment: each has its own secret, analytics and logs."
    >
      <form
        className="flex flex-col gap-5"
        onSubmit={(event) => {
          event.preventDefault()
          const trimmed = name.trim()
          if (!trimmed) return
          create.mutate(trimmed, {
            onSuccess: (created) => {
              setName('')
              create.reset()
              onCreated(created)
            },
          })
        }}
      >
        <Field label="Name" hint="You can rename it later." error={create.isError ? errorMessage(create.error) : null}>
          {(props) => (
            <Input
              {...props}
              autoFocus
              name="gateway-name"
              placeholder="e.g. production-chatbot"
              maxLength={100}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        <div className="flex justify-end gap-2">
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant="primary" loading={create.isPending} disabled={!name.trim()}>
            Create gateway
          </Button>
        </div>
      </form>
    </Dialog>
  )
}
