/**
 * CodePipeline's VariableCheck rule: the variable's value compared with the configured value. EQ, NE,
 * CONTAINS and MATCHES compare text (MATCHES with a regular expression over the whole value, as Java's
 * `matches`); GT, GE, LT and LE compare numbers.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-VariableCheck.html
 */
import type { VariableOperator } from '../model/conditions';

export interface CheckOutcome {
  passed: boolean;
  reason: string;
}

export function checkVariable(operator: VariableOperator, actual: string, expected: string): CheckOutcome {
  const said = (passed: boolean, relation: string) => ({ passed, reason: `"${actual}" ${passed ? '' : 'not '}${relation} "${expected}"` });
  switch (operator) {
    case 'EQ':
      return said(actual === expected, 'equal to');
    case 'NE':
      return said(actual !== expected, 'different from');
    case 'CONTAINS':
      return said(actual.includes(expected), 'containing');
    case 'MATCHES': {
      let pattern: RegExp;
      try {
        pattern = new RegExp(`^(?:${expected})$`, 'u');
      } catch (error) {
        return { passed: false, reason: `"${expected}" is not a regular expression: ${(error as Error).message}` };
      }
      return said(pattern.test(actual), 'matching');
    }
    default: {
      const a = Number(actual);
      const b = Number(expected);
      if (actual.trim() === '' || expected.trim() === '' || Number.isNaN(a) || Number.isNaN(b)) {
        return { passed: false, reason: `${operator} compares numbers; got "${actual}" and "${expected}"` };
      }
      const relation = { GT: 'greater than', GE: 'at least', LT: 'less than', LE: 'at most' }[operator];
      const passed = operator === 'GT' ? a > b : operator === 'GE' ? a >= b : operator === 'LT' ? a < b : a <= b;
      return said(passed, relation);
    }
  }
}
