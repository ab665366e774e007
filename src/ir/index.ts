/** The IR, as data: Programs of equations over the primitives, and how they print. */
export * from './program.ts'
