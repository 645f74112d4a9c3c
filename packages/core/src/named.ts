/** `{ A: 'A', B: 'B' }` from the names: for AWS's enumerations that are spelled as their own names. */
export function named<const T extends string>(...names: T[]): { readonly [K in T]: K } {
  return Object.fromEntries(names.map((name) => [name, name])) as { readonly [K in T]: K };
}
