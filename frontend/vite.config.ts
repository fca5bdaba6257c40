/// <reference types="vitest/config" />
import { fileURLToPath } from 'node:url'
import react from '@vitejs/plugin-react'
import tailwindcss from '@tailwindcss/vite'
import { defineConfig } from 'vite'

// Paths the Rust backend owns; the dev server forwards them so the SPA talks to
// the real API exactly as it does when the backend serves frontend/dist.
const backendPaths = [
  '/auth',
  '/gateways',
  '/v1',
  '/models',
  '/chat',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
]
const backend = process.env.TOLLGATE_DEV_BACKEND ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [react(), tailwindcss()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: {
    proxy: Object.fromEntries(backendPaths.map((path) => [path, { target: backend, changeOrigin: false }])),
  },
  build: {
    outDir: 'dist',
    sourcemap: true,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
  },
})
