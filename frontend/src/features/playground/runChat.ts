import type { ApiClient } from '@/api/client'
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage } from '@/api/types'
import { readOpenAiStream } from '@/lib/sse'

export interface ChatResult {
  content: string
  usage: Usage | null
  /** From sending the request to the end of the answer, measured here. */
  latencyMs: number
  /** Time to the first content token; streaming only. */
  ttftMs: number | null
  requestId: string | null
  model: string | null
  finishReason: string | null
}

export interface RunChatOptions {
  signal?: AbortSignal
  /** Called with each streamed piece of the answer. */
  onDelta?: (text: string) => void
  now?: () => number
}

/**
 * Sends a chat completion through the gateway and reads the answer, streamed
 * (SSE, with `stream_options.include_usage` so the last chunk carries usage)
 * or not.
 */
export async function runChat(
  api: Pick<ApiClient, 'chatCompletion'>,
  secret: string,
  request: ChatCompletionRequest,
  { signal, onDelta, now = () => performance.now() }: RunChatOptions = {},
): Promise<ChatResult> {
  const body: ChatCompletionRequest = request.stream
    ? { ...request, stream: true, stream_options: { include_usage: true } }
    : { ...request, stream: false }
  const started = now()
  const response = await api.chatCompletion(secret, body, signal)
  const requestId = response.headers.get('x-request-id')

  if (!body.stream || !response.body) {
    const completion = (await response.json()) as ChatCompletion
    const choice = completion.choices?.[0]
    const content = choice?.message?.content ?? ''
    if (content) onDelta?.(content)
    return {
      content,
      usage: completion.usage ?? null,
      latencyMs: now() - started,
      ttftMs: null,
      requestId,
      model: completion.model ?? null,
      finishReason: choice?.finish_reason ?? null,
    }
  }

  let content = ''
  let usage: Usage | null = null
  let ttftMs: number | null = null
  let model: string | null = null
  let finishReason: string | null = null
  for await (const chunk of readOpenAiStream<ChatCompletionChunk>(response.body, signal)) {
    model ??= chunk.model ?? null
    if (chunk.usage) usage = chunk.usage
    for (const choice of chunk.choices ?? []) {
      if (choice.index !== 0 && choice.index !== undefined) continue
      const delta = choice.delta?.content
      if (delta) {
        ttftMs ??= now() - started
        content += delta
        onDelta?.(delta)
      }
      if (choice.finish_reason) finishReason = choice.finish_reason
    }
  }
  return { content, usage, latencyMs: now() - started, ttftMs, requestId, model, finishReason }
}
