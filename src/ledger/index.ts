// The accountability layer: metering on the dispatch point, energy and CO2e, dataset fingerprints, the
// run record and its recording, classification and fairness reports, and the hash-chained ledger.
export {
  PHASES,
  TRAINING_PHASES,
  withPhase,
  withLayerPath,
  currentPhase,
  currentLayerPath,
  LOSS_SCOPE,
  OPTIMIZER_SCOPE,
  METRICS_SCOPE,
  DATA_SCOPE,
} from '../autograd/annotations.js';
export type { Phase } from '../autograd/annotations.js';
export { Meter, processKernelMs, formatProfile, profileLines, opFamily, siNumber, summarize } from './meter.js';
export type { MeterSnapshot, MeterRow, Totals, ProfileOptions, ProfileGroup, ProfileSort } from './meter.js';
export { layerFlops, formatLayerFlops } from './layer-flops.js';
export type { LayerFlops } from './layer-flops.js';
export {
  EnergyMeter,
  apportionEnergy,
  RaplCounter,
  probeRapl,
  counterDeltaUj,
  estimateEnergy,
  cpuPower,
  lookupCpu,
  normalizeCpuModel,
  readCpuInfo,
  CPU_TABLE,
  DEFAULT_TDP_WATTS,
  CODECARBON_TDP_FRACTION,
  DRAM_WATTS_PER_GIB,
  DATA_CENTRE_PUE,
  ESTIMATE_UNCERTAINTY_FACTOR,
  RAPL_RELATIVE_UNCERTAINTY,
  vcpuPowerRange,
  estimateVmEnergy,
} from './energy.js';
export type { VcpuWatts, VcpuPowerRange, VcpuEstimate, VmEstimateInput } from './energy.js';
export { detectPlatform, cgroupCpuQuota } from './platform.js';
export { StageClock, STAGE_SCHEMA } from './stages.js';
export type { StageCost, StageMark } from './stages.js';
export { writeEmissionsCsv, emissionsRow, CODECARBON_COLUMNS, EMISSIONS_CSV_FILE } from './emissions-csv.js';
export type { Platform } from './platform.js';
export { VCPU_POWER_TABLE, VCPU_POWER_AVERAGE, cpuGeneration, cpuVendor } from './cpu-power-table.js';
export type { VcpuPower, CpuGeneration, CpuVendor, CpuIdentity } from './cpu-power-table.js';
export type {
  EnergyOptions,
  EnergyReport,
  EnergyAttribution,
  EnergyMethod,
  RaplDomain,
  CpuSpec,
  CpuInfo,
  CpuPower,
  Estimate,
  EstimateInput,
} from './energy.js';
export { gridIntensity, co2eGrams, GRID_INTENSITY, WORLD_AVERAGE } from './carbon.js';
export type { GridIntensity, GridOptions } from './carbon.js';
export { canonicalJson, hashJson, sha256Hex, jsonSafe } from './canonical.js';
export type { JsonValue } from './canonical.js';
export { fingerprintTensor, fingerprintDataset, labelDistribution, classIds } from './fingerprint.js';
export type { TensorFingerprint, DatasetFingerprint } from './fingerprint.js';
export { sameData, markSameData, FINGERPRINT_DOMAIN } from './fingerprint.js';
export type {
  DatasetFingerprintOptions,
  FingerprintOptions,
  FingerprintKeyLike,
  DatasetSource,
} from './fingerprint.js';
export { classificationReport, evaluateClassifier } from './evaluation.js';
export type {
  ClassificationReport,
  ClassMetrics,
  GroupMetrics,
  FairnessReport,
  Disparity,
  ReportOptions,
  Predictor,
} from './evaluation.js';
export { fairnessReport, FAIRNESS_MEASURES } from './fairness.js';
export type {
  Calibration,
  CalibrationBin,
  FairnessIntervals,
  FairnessMeasure,
  FairnessOptions,
  BootstrapOptions,
} from './fairness.js';
export { JsonSchemaValidator } from './json-schema.js';
export type { Schema } from './json-schema.js';
export { RUN_RECORD_SCHEMA } from './run-record-schema.js';
export { inNewRun, currentRun } from './run-context.js';
export type { Run } from './run-context.js';
export { RunRecording } from './recording.js';
export type { RunRecorderOptions, RunFacts, DataSpec } from './recording.js';
export type { RunProgress } from './recording.js';
export {
  readRunRecord,
  writeRunRecord,
  validateRunRecord,
  recordHash,
  describeModel,
  environmentInfo,
  candorVersion,
  RUN_RECORD_FILE,
  RUN_RECORD_FORMAT,
  RUN_RECORD_VERSION,
} from './record.js';
export type { RunRecord, ModelFacts, ComputeAttribution, EvaluationRecord, EmissionsRecord } from './record.js';
export type { PrivacyRecord, DpSgdRecord, NoPrivacyRecord, MembershipAuditRecord } from './privacy.js';
export {
  summarizeAttributions,
  storedAttributionMap,
  type ExplanationRecord,
  type AttributionSummary,
  type StoredAttribution,
} from './explanation.js';
export type { CompressionRecord, CompressionLayerRecord, ModelMeasurement } from './compression.js';
export {
  appendToLedger,
  verifyLedger,
  verifyLedgerText,
  readLedger,
  makeEntry,
  entryLine,
  entryHashOf,
  generateSigningKeys,
  GENESIS_HASH,
  repairLedger,
  SIGNATURE_SCHEME,
  signedMessage,
  keyIdOf,
} from './ledger.js';
export type {
  LedgerEntry,
  AppendOptions,
  VerifyOptions,
  VerifyResult,
  BadEntry,
  Tampering,
  KeyInput,
  RepairResult,
} from './ledger.js';
export { verifyRun, RUN_CHECKS } from './verify-run.js';
export type { RunCheck, RunCheckName, RunVerification, VerifyRunOptions } from './verify-run.js';
export { userSigningKey, trustedKeys, trustKeys, trustedKeysPath, candorConfigDir } from './user-keys.js';
export type { SigningKey, TrustedKey } from './user-keys.js';
export type { FileHash, FileHashes, CardHashes } from './file-hashes.js';
export { withFileLock, lockOwner, LOCK_STALE_MS } from './lock.js';
export type { LockOwner, LockOptions } from './lock.js';
export { SchemaError, RecordError, LedgerError, CanonicalJsonError } from './errors.js';
