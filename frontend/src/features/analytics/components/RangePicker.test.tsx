import { fireEvent, render, screen } from '@testing-library/react'
import { describe, expect, it, vi } from 'vitest'
import { analyticsRangeParams } from '@/lib/range'
import { RangePicker } from './RangePicker'

describe('RangePicker', () => {
  it('emits presets, which become query parameters', () => {
    const onChange = vi.fn()
    render(<RangePicker value={{ kind: 'preset', preset: '7d' }} onChange={onChange} />)
    expect(screen.getByRole('radio', { name: '7 days' }).getAttribute('aria-checked')).toBe('true')
    fireEvent.click(screen.getByRole('radio', { name: '30 days' }))
    expect(onChange).toHaveBeenLastCalledWith({ kind: 'preset', preset: '30d' })
    expect(analyticsRangeParams(onChange.mock.lastCall![0])).toEqual({ days: '30' })
  })

  it('applies a custom range only when it is valid', () => {
    const onChange = vi.fn()
    render(<RangePicker value={{ kind: 'preset', preset: '7d' }} onChange={onChange} />)
    fireEvent.click(screen.getByRole('radio', { name: 'Custom' }))
    const from = screen.getByLabelText('From') as HTMLInputElement
    const to = screen.getByLabelText('To') as HTMLInputElement
    fireEvent.change(from, { target: { value: '2025-03-09' } })
    fireEvent.change(to, { target: { value: '2025-03-01' } })
    const apply = screen.getByRole('button', { name: 'Apply' }) as HTMLButtonElement
    expect(apply.disabled).toBe(true)
    fireEvent.change(to, { target: { value: '2025-03-10' } })
    fireEvent.click(apply)
    expect(onChange).toHaveBeenLastCalledWith({ kind: 'custom', from: '2025-03-09', to: '2025-03-10' })
    expect(analyticsRangeParams(onChange.mock.lastCall![0])).toEqual({ from: '2025-03-09', to: '2025-03-10' })
  })

  it('offers all time for the logs', () => {
    const onChange = vi.fn()
    render(<RangePicker allowAll value={{ kind: 'preset', preset: '24h' }} onChange={onChange} />)
    fireEvent.click(screen.getByRole('radio', { name: 'All' }))
    expect(onChange).toHaveBeenLastCalledWith(null)
  })

  it('moves between options with the arrow keys', () => {
    const onChange = vi.fn()
    render(<RangePicker value={{ kind: 'preset', preset: '7d' }} onChange={onChange} />)
    fireEvent.keyDown(screen.getByRole('radio', { name: '7 days' }), { key: 'ArrowRight' })
    expect(onChange).toHaveBeenLastCalledWith({ kind: 'preset', preset: '30d' })
  })
})
