/**
 * Counts the test cases of a JUnit XML report the way a CodeBuild report group shows them: a case
 * with a `<failure>` or an `<error>` failed, one with `<skipped>` was skipped, any other passed.
 * Cases are counted one by one rather than read from the suites' `tests`/`failures` attributes, which
 * many tools leave out or get wrong.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/test-report.html
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** The first failed cases, for the console's test report. */
  failures?: TestFailure[];
}

export interface TestFailure {
  name: string;
  suite?: string;
  message?: string;
}

/** A report keeps this many failures by name; the count stays exact. */
export const MAX_FAILURES_KEPT = 25;

const parser = new XMLParser({
  ignoreAttributes: false,
  isArray: (tagName) => tagName === 'testcase' || tagName === 'testsuite',
  processEntities: false,
});

/** Counts the cases of one report; throws when the text is not well-formed XML. */
export function countJUnit(xml: string): TestCounts {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`not well-formed XML (line ${valid.err.line}: ${valid.err.msg})`);
  const counts: TestCounts = { passed: 0, failed: 0, skipped: 0 };
  visit(parser.parse(xml), counts, undefined);
  return counts;
}

function visit(node: unknown, counts: TestCounts, suite: string | undefined): void {
  if (Array.isArray(node)) {
    for (const item of node) visit(item, counts, suite);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'testcase') {
      for (const testCase of Array.isArray(value) ? value : [value]) count(testCase, counts, suite);
    } else if (key === 'testsuite') {
      for (const item of Array.isArray(value) ? value : [value])
        visit(item, counts, typeof item === 'object' && item !== null ? text((item as Record<string, unknown>)['@_name']) : suite);
    } else if (!key.startsWith('@_')) visit(value, counts, suite);
  }
}

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

function count(testCase: unknown, counts: TestCounts, suite: string | undefined): void {
  const has = (tag: string) => typeof testCase === 'object' && testCase !== null && tag in testCase;
  if (has('failure') || has('error')) {
    counts.failed++;
    const c = testCase as Record<string, unknown>;
    const detail = (c.failure ?? c.error) as unknown;
    const first = Array.isArray(detail) ? detail[0] : detail;
    const message = typeof first === 'object' && first !== null ? text((first as Record<string, unknown>)['@_message']) : text(first);
    counts.failures ??= [];
    if (counts.failures.length < MAX_FAILURES_KEPT) {
      counts.failures.push({
        name: text(c['@_name']) ?? '(unnamed case)',
        ...((text(c['@_classname']) ?? suite) !== undefined && { suite: text(c['@_classname']) ?? suite }),
        ...(message && { message: message.slice(0, 500) }),
      });
    }
  } else if (has('skipped')) counts.skipped++;
  else counts.passed++;
}

export const addCounts = (a: TestCounts, b: TestCounts): TestCounts => {
  const failures = [...(a.failures ?? []), ...(b.failures ?? [])].slice(0, MAX_FAILURES_KEPT);
  return { passed: a.passed + b.passed, failed: a.failed + b.failed, skipped: a.skipped + b.skipped, ...(failures.length > 0 && { failures }) };
};
