import { cleanup } from '@testing-library/react'
import { afterEach } from 'vitest'

afterEach(() => {
  // jsdom is shared by the tests of a file; each starts from an empty page.
  if (typeof document !== 'undefined') cleanup()
})
