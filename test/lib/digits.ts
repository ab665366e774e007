/**
 * The tests' own reading of a window's digits (gpu/kernels/matmul.ts, gpu/lower/windows.ts), independent of the
 * code under test: index x written in digits (outermost first) is at the sum of each digit's value times its stride.
 */
import type { Digit } from '../../gpu/kernels/matmul.ts'

export function place(x: number, digits: readonly Digit[]): number {
  let at = 0
  for (let i = digits.length - 1; i >= 0; i--) {
    const [size, stride] = digits[i]
    at += (x % size) * stride
    x = Math.floor(x / size)
  }
  return at
}
