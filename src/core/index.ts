/** The core, as the backends see it: the primitives (their parameters and kinds) and the backend interface. */
export * from './backend.ts'
export * from './primitive.ts'
