/**
 * Turns zod issues and YAML/JSON syntax errors into `path: what was expected, got what` lines.
 */
import { type Document, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { DefinitionError, type DefinitionIssue } from '../errors';

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else {
      const k = String(key);
      out += /^[A-Za-z_$][\w$@-]*$/.test(k) ? (out ? `.${k}` : k) : `[${JSON.stringify(k)}]`;
    }
  }
  return out;
}

/** A short, readable rendering of a value a user wrote. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

export function zodIssues(issues: readonly z.core.$ZodIssue[]): DefinitionIssue[] {
  const out: DefinitionIssue[] = [];
  for (const issue of issues) {
    const path = formatPath(issue.path);
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) out.push({ path: formatPath([...issue.path, key]), message: 'unknown key' });
        break;
      case 'invalid_union': {
        const discriminator = (issue as { discriminator?: string }).discriminator;
        const got = discriminator && input && typeof input === 'object' ? (input as Record<string, unknown>)[discriminator] : input;
        out.push({ path, message: `${issue.message}, got ${describeValue(got)}` });
        break;
      }
      default:
        if (input === undefined && issue.code === 'invalid_type') out.push({ path, message: `missing: ${issue.message}` });
        else out.push({ path, message: input === undefined || typeof input === 'object' ? issue.message : `${issue.message}, got ${describeValue(input)}` });
    }
  }
  return out;
}

export type DocumentFormat = 'yaml' | 'json';

export function guessFormat(text: string, fileName?: string): DocumentFormat {
  if (fileName?.toLowerCase().endsWith('.json')) return 'json';
  if (fileName && /\.ya?ml$/i.test(fileName)) return 'yaml';
  return text.trimStart().startsWith('{') ? 'json' : 'yaml';
}

/** Parses YAML or JSON text; syntax errors become one issue each, with line and column. */
export function parseDocumentText(text: string, source?: string, format: DocumentFormat = guessFormat(text, source)): unknown {
  if (text.trim() === '') throw new DefinitionError([{ path: '', message: 'the file is empty' }], source);
  if (format === 'json') {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new DefinitionError([{ path: '', message: `malformed JSON: ${jsonErrorWhere(text, error as Error)}` }], source);
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // Later syntax errors mostly echo the first one; the first is the one to fix.
    const issues = doc.errors.slice(0, 1).map((e) => {
      const pos = e.linePos?.[0];
      const where = pos ? `line ${pos.line}, column ${pos.col}: ` : '';
      return { path: '', message: `malformed YAML at ${where}${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}` };
    });
    throw new DefinitionError(issues, source);
  }
  return yamlToJS(doc, source);
}

/**
 * A parsed YAML document as plain values. The yaml library throws while doing so for an alias whose
 * anchor comes later or nowhere, and for aliases expanding past its limit (a "billion laughs" file):
 * both are the file's problem, said as one.
 */
export function yamlToJS(doc: Document.Parsed, source?: string): unknown {
  try {
    return doc.toJS();
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0] ?? '';
    throw new DefinitionError([{ path: '', message: `malformed YAML: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}` }], source);
  }
}

function jsonErrorWhere(text: string, error: Error): string {
  const match = /position (\d+)/.exec(error.message);
  if (!match) return error.message;
  const offset = Number(match[1]);
  const before = text.slice(0, offset).split('\n');
  const line = before.length;
  const col = (before.at(-1)?.length ?? 0) + 1;
  return `${error.message.replace(/ in JSON at position \d+.*$/, '')} at line ${line}, column ${col}`;
}
