/** Row-major strides: the flat offset of index i is Σ i_d · strides[d]. */
export const stridesOf = (shape: readonly number[]): number[] => {
  const strides = new Array<number>(shape.length)
  let s = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s
    s *= shape[i]
  }
  return strides
}
