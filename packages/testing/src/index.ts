export { createFakeClock } from './clock';
export type { FakeClock, FakeTimer } from './clock';
export type { Fault, FaultHandle, FaultRoute } from './faults';
export { createTestDrip } from './test-drip';
export type {
  AppliedRun,
  AppliedRunEvent,
  AppliedUsage,
  ReceivedRequest,
  RunEventMatcher,
  RunExpectation,
  TestDrip,
  TestDripOptions,
  TestEntitlementResult,
  UsageExpectation,
} from './test-drip';
