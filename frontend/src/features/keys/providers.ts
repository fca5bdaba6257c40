// How providers are named on screen; an unknown one keeps its API name.
const names: Record<string, string> = {
  openai: 'OpenAI',
  anthropic: 'Anthropic',
  mistral: 'Mistral',
  groq: 'Groq',
  deepseek: 'DeepSeek',
  openrouter: 'OpenRouter',
  together: 'Together',
  xai: 'xAI',
  gemini: 'Gemini',
  ollama: 'Ollama',
  vllm: 'vLLM',
}

export function providerName(provider: string): string {
  return names[provider] ?? provider
}
