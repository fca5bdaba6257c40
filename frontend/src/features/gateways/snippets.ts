import type { CodeSample } from '@/components/ui/CodeTabs'

export const DEFAULT_SNIPPET_MODEL = 'mock/echo'

/** Ready-to-paste calls of a gateway: curl, OpenAI Python and OpenAI Node. */
export function buildSnippets(baseUrl: string, secret: string, model: string = DEFAULT_SNIPPET_MODEL): CodeSample[] {
  const curl = `curl ${baseUrl}/chat/completions \\
  -H "Authorization: Bearer ${secret}" \\
  -H "Content-Type: application/json" \\
  -d '{
    "model": "${model}",
    "messages": [{"role": "user", "content": "Hello from Tollgate!"}]
  }'`

  const python = `from openai import OpenAI

client = OpenAI(
    base_url="${baseUrl}",
    api_key="${secret}",
)

response = client.chat.completions.create(
    model="${model}",
    messages=[{"role": "user", "content": "Hello from Tollgate!"}],
)
print(response.choices[0].message.content)`

  const node = `import OpenAI from "openai";

const client = new OpenAI({
  baseURL: "${baseUrl}",
  apiKey: "${secret}",
});

const response = await client.chat.completions.create({
  model: "${model}",
  messages: [{ role: "user", content: "Hello from Tollgate!" }],
});
console.log(response.choices[0].message.content);`

  return [
    { id: 'curl', label: 'curl', code: curl },
    { id: 'python', label: 'Python', code: python },
    { id: 'node', label: 'Node.js', code: node },
  ]
}
