// Reads vitest JSON reports and prints the counts the test command ends with:
//   node scripts/vitest-summary.mjs <step> <seconds> <report.json>  -> "<step>: N passed, N failed, N skipped (Ns)"
//   node scripts/vitest-summary.mjs --total <report.json>...       -> "N passed, N failed, N skipped" (read by CI),
//     after one line per failed test (report, file, test name and the first lines of its error), so the end of
//     the output names what failed even when only the end of it is kept.
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

/** @param {string} file @returns {string[]} */
function failures(file) {
  const name = file.replace(/^.*\//, '').replace(/\.json$/, '');
  if (!existsSync(file)) return [`FAILED ${name}: no report (the run crashed before writing it)`];
  let r;
  try {
    r = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return [`FAILED ${name}: unreadable report`];
  }
  const out = [];
  for (const suite of r.testResults ?? []) {
    const rel = String(suite.name ?? '').replace(/^.*?\/(packages|apps|tests|examples)\//, '$1/');
    const failed = (suite.assertionResults ?? []).filter((t) => t.status === 'failed');
    if (failed.length === 0 && suite.status === 'failed') {
      out.push(`FAILED ${name} ${rel}: ${firstLines(suite.message)}`);
    }
    for (const t of failed) {
      out.push(
        `FAILED ${name} ${rel} > ${t.fullName ?? t.title}: ${firstLines((t.failureMessages ?? []).join('\n'))}`,
      );
    }
  }
  return out;
}

/** @param {unknown} text */
const firstLines = (text) =>
  String(text ?? '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes from the reporter
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, 4)
    .map((l) => l.trim())
    .join(' | ')
    .slice(0, 600);

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
  for (const file of args.slice(1)) for (const f of failures(file)) console.log(f);
  console.log(line(total));
} else {
  const [step, seconds, file] = args;
  console.log(`${step}: ${line(counts(file ?? ''))} (${seconds}s)`);
}
