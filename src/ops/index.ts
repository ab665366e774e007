/**
 * The `ops` namespace: the operations of src/ops.ts (construction,
 * broadcasting arithmetic, reductions, structure, products and indexing)
 * and the groups beside them: special functions and activations
 * (math.ts), statistics (statistics.ts) and orderings (sorting.ts).
 */
export * from '../ops.ts'
export * from './math.ts'
export * from './statistics.ts'
export * from './sorting.ts'
