import { describe, expect, it } from 'vitest';
import { countJUnit } from './junit';

describe('countJUnit', () => {
  it('counts each case of nested suites as passed, failed (failure or error) or skipped', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="99" failures="0">
  <testsuite name="api">
    <testcase name="lists" classname="api"/>
    <testcase name="creates"><failure message="expected 201">stack</failure></testcase>
    <testcase name="deletes"><error type="TypeError"/></testcase>
    <testsuite name="nested">
      <testcase name="skipped one"><skipped/></testcase>
      <testcase name="passes"><system-out>ok &amp; done</system-out></testcase>
    </testsuite>
  </testsuite>
</testsuites>`;
    expect(countJUnit(xml)).toStrictEqual({
      passed: 2,
      failed: 2,
      skipped: 1,
      failures: [
        { name: 'creates', suite: 'api', message: 'expected 201' },
        { name: 'deletes', suite: 'api' },
      ],
    });
  });

  it('reads a single suite with a single case', () => {
    expect(countJUnit('<testsuite name="one"><testcase name="only"/></testsuite>')).toStrictEqual({ passed: 1, failed: 0, skipped: 0 });
  });

  it('refuses a file that is not well-formed XML', () => {
    expect(() => countJUnit('<testsuite><testcase></testsuite>')).toThrow(/not well-formed XML/);
  });
});
