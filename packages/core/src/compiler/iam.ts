/**
 * IAM statements the state machine's role needs, collected while compiling so that every resource a
 * Task touches is granted and nothing else is.
 */
export interface IamStatement {
  Sid?: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
}

/** Merges statements with the same actions, and de-duplicates resources, in a stable order. */
export function mergeStatements(statements: readonly IamStatement[]): IamStatement[] {
  const byActions = new Map<string, IamStatement>();
  for (const s of statements) {
    const key = [...s.Action].sort().join(',');
    const existing = byActions.get(key);
    if (existing) existing.Resource = [...new Set([...existing.Resource, ...s.Resource])];
    else byActions.set(key, { ...s, Action: [...new Set(s.Action)].sort(), Resource: [...new Set(s.Resource)] });
  }
  return [...byActions.values()].map((s) => ({ ...s, Resource: [...s.Resource].sort() }));
}
