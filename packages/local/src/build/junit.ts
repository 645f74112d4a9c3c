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
}

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
  visit(parser.parse(xml), counts);
  return counts;
}

function visit(node: unknown, counts: TestCounts): void {
  if (Array.isArray(node)) {
    for (const item of node) visit(item, counts);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'testcase') {
      for (const testCase of Array.isArray(value) ? value : [value]) count(testCase, counts);
    } else if (!key.startsWith('@_')) visit(value, counts);
  }
}

function count(testCase: unknown, counts: TestCounts): void {
  const has = (tag: string) => typeof testCase === 'object' && testCase !== null && tag in testCase;
  if (has('failure') || has('error')) counts.failed++;
  else if (has('skipped')) counts.skipped++;
  else counts.passed++;
}

export const addCounts = (a: TestCounts, b: TestCounts): TestCounts => ({
  passed: a.passed + b.passed,
  failed: a.failed + b.failed,
  skipped: a.skipped + b.skipped,
});
