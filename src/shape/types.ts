/**
 * Type-level shapes. A `Dim` is a number literal (`784`) or a named symbolic
 * dimension (`'B'`); a `Shape` is a tuple of them. The shape functions here
 * compute result shapes at compile time, or a `ShapeError` naming the
 * dimensions that disagree.
 */
export type Dim = number | string
export type Shape = readonly Dim[]

/** The run-time shape of a typed shape: named dimensions become numbers. */
export type RuntimeShape<S extends Shape> = { readonly [K in keyof S]: S[K] extends number ? S[K] : number }

export type Broadcast<A extends Shape, B extends Shape> = Shape
export type MatMul<A extends Shape, B extends Shape> = Shape
