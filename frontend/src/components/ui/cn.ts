import { twMerge } from 'tailwind-merge'

/**
 * Joins class names, skipping falsy ones; a later Tailwind utility wins over
 * an earlier one of the same property (so `className="w-auto"` beats a
 * component's default `w-full`).
 */
export function cn(...classes: (string | false | null | undefined)[]): string {
  return twMerge(classes.filter(Boolean).join(' '))
}
