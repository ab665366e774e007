/** Charts as SVG text: line charts, heat maps, figures of several panels. */
export {
  lineChart, heatmap, sideBySide, writeSvg, chartLayout, niceTicks, niceStep, niceDomain, logTicks, formatTick, scale, colorOf, pathData, svgSize, escapeXml, PALETTE,
  type Series, type LineChartOptions, type Margin, type ChartLayout, type Matrix, type ColorMap, type HeatmapOptions, type SideBySideOptions, type Scale,
} from './svg.ts'
