/** Element types. Floats are differentiable; `i32` and `bool` carry indices and masks. */
export type DType = 'f32' | 'f64' | 'i32' | 'bool'
/** The floating-point dtypes, the only ones that carry derivatives. */
export type FloatDType = 'f32' | 'f64'

/** The arrays a tensor's data comes back in: Float32Array, Float64Array, Int32Array, or Uint8Array (bool). */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array

export const isFloat = (d: DType): d is FloatDType => d === 'f32' || d === 'f64'

export function allocate(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(n)
    case 'f64':
      return new Float64Array(n)
    case 'i32':
      return new Int32Array(n)
    case 'bool':
      return new Uint8Array(n)
    default:
      return dtype satisfies never
  }
}

export function fromNumbers(dtype: DType, xs: ArrayLike<number>): TypedArray {
  const out = allocate(dtype, xs.length)
  if (dtype === 'i32') for (let i = 0; i < xs.length; i++) out[i] = Math.trunc(xs[i])
  else if (dtype === 'bool') for (let i = 0; i < xs.length; i++) out[i] = xs[i] ? 1 : 0
  else out.set(xs)
  return out
}
