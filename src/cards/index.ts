// Model cards and regulatory documentation written from run records.
export { buildCard, writeCard } from './card.js';
export type { CardOptions, WrittenCard } from './card.js';
export { publishRun, publishRecord, LEDGER_FILE } from './publish.js';
export type { PublishOptions, PublishedRun } from './publish.js';
export { complianceMap, trainingFlops, STATUS_TEXT } from './compliance.js';
export type { ComplianceGroup, ComplianceItem, ItemStatus } from './compliance.js';
export { loadUserInfo, CARD_USER_SCHEMA, CARD_FILE, INTENDED_USE_FILE } from './user-info.js';
export type { CardUserInfo, DataStatement, LabellingStatement, LoadedUserInfo } from './user-info.js';
export { renderHtml, renderMarkdown, htmlEscape } from './document.js';
export type { Doc, Block, Cell } from './document.js';
export { lineChart } from './svg.js';
export type { Series } from './svg.js';
export {
  explanationsSection,
  explanationFigure,
  heatmapImage,
  pictureImage,
  imageGrid,
  tokensSvg,
  colourLegend,
  divergingColour,
} from './explanations.js';
export type { GridCell } from './explanations.js';
export { exportSpdx, exportCycloneDx, SPDX_CONTEXT } from './exports/index.js';
export type { ExportOptions } from './exports/index.js';
