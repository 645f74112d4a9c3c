/**
 * The scalars of a buildspec as CodeBuild's decoder reads them: text as written, YAML 1.1 booleans
 * where CodeBuild wants a flag, lists that may be a single scalar or hold empty items.
 */
import * as z from 'zod';

/** YAML 1.1 booleans, the ones CodeBuild's decoder accepts for `discard-paths: yes` and the like. */
const YAML_TRUE = /^(?:y|Y|yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const YAML_FALSE = /^(?:n|N|no|No|NO|false|False|FALSE|off|Off|OFF)$/;

/** A scalar read as text; numbers and booleans only arrive from JSON-like input, never from YAML. */
export const text = (what = 'text') =>
  z.preprocess((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v), z.string({ error: `expected ${what}` }));

/** Empty values (`key:` with nothing after it) read as empty text, as CodeBuild reads them. */
export const optionalText = (what = 'text') => z.preprocess((v) => (v === null ? '' : v), text(what));

export const flag = z.union([z.boolean(), z.string()], { error: 'expected yes or no' }).transform((value, ctx) => {
  if (typeof value === 'boolean') return value;
  if (YAML_TRUE.test(value)) return true;
  if (YAML_FALSE.test(value)) return false;
  ctx.issues.push({ code: 'custom', message: 'expected yes or no', input: value });
  return z.NEVER;
});

/**
 * A list of text as real files write it: a list, a single scalar (`files: imagedefinitions.json`),
 * a null (`commands:` with nothing under it) or a list with empty `-` items, which are dropped.
 */
export const textList = (what: string, item: string) =>
  z
    .preprocess(
      (value) => (value === null ? [] : typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? [value] : value),
      z.array(text(item).nullable(), { error: `expected a list of ${what}` }),
    )
    .transform((items) => items.filter((item): item is string => item !== null && item.trim() !== ''));

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_NAME_EXPECTED = 'expected an environment variable name (letters, digits and _, not starting with a digit)';
export const envName = z.string().regex(ENV_NAME, { error: ENV_NAME_EXPECTED });
export const envMap = (what: string) =>
  z
    .record(envName, what === 'value' ? optionalText() : text(what), {
      error: (issue) => (issue.code === 'invalid_key' ? ENV_NAME_EXPECTED : `expected a map of NAME: ${what}`),
    })
    .nullable();
