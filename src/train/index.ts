/** Training loops: batches, early stopping, metrics, `fit`, and progress reporting. */
export {
  fit, epochBatches, takeRows, sliceRows, datasetSize, splitValidation, accuracy, mean, meanOverBatches,
  earlyStoppingInit, earlyStoppingUpdate, improves, historySeries,
  type FitOptions, type FitResult, type FitHistory, type StepFn, type BatchOptions, type ValidationSplitOptions,
  type EarlyStoppingOptions, type EarlyStoppingState,
} from './loop.ts'
export {
  progressReporter, silentProgress, formatProgressLine, formatSummary, formatDuration, formatCount, formatValue, progressBar, etaSeconds, fitToWidth,
  type ProgressReporter, type ProgressStatus, type ProgressView, type ProgressStream, type ProgressOptions,
} from './progress.ts'
