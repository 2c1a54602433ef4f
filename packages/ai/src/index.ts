export { dripLanguageModelMiddleware, meterModel } from './middleware';
export type {
  DripLanguageModelMiddleware,
  MeterableModel,
  MeteredCallParams,
  MeteredModelInfo,
} from './middleware';
export type { DripAiOptions, DripCallOptions, ModelPrice, TokenKind } from './recorder';
export type { TokenUsage } from './usage';
export { meterOpenAI } from './openai';
export { meterAnthropic } from './anthropic';
export { dripTelemetry } from './telemetry';
export type {
  DripTelemetry,
  DripTelemetryOptions,
  TelemetryModelCallEnd,
  TelemetryModelCallStart,
  TelemetryOperationStart,
  TelemetryToolEnd,
  TelemetryToolStart,
} from './telemetry';
