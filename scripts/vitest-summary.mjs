// Reads vitest JSON reports and prints the counts the test command ends with:
//   node scripts/vitest-summary.mjs <step> <seconds> <report.json>  -> "<step>: N passed, N failed, N skipped (Ns)"
//   node scripts/vitest-summary.mjs --total <report.json>...       -> "N passed, N failed, N skipped" (read by CI)
// A report that is missing or unreadable (vitest crashed) counts as one failure, so it cannot pass silently.
import { existsSync, readFileSync } from 'node:fs';

/** @param {string} file */
function counts(file) {
  if (!existsSync(file)) return { passed: 0, failed: 1, skipped: 0 };
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    return {
      passed: r.numPassedTests,
      // A file that failed to load has no failed test but is a failure all the same.
      failed: r.numFailedTests + (r.numFailedTestSuites > 0 && r.numFailedTests === 0 ? 1 : 0),
      skipped: r.numPendingTests + r.numTodoTests,
    };
  } catch {
    return { passed: 0, failed: 1, skipped: 0 };
  }
}

/** @param {{ passed: number; failed: number; skipped: number }} c */
const line = (c) => `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;

const args = process.argv.slice(2);
if (args[0] === '--total') {
  const total = { passed: 0, failed: 0, skipped: 0 };
  for (const file of args.slice(1)) {
    const c = counts(file);
    total.passed += c.passed;
    total.failed += c.failed;
    total.skipped += c.skipped;
  }
  console.log(line(total));
} else {
  const [step, seconds, file] = args;
  console.log(`${step}: ${line(counts(file ?? ''))} (${seconds}s)`);
}
