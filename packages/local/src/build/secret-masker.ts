/**
 * Replaces secret values with `***` in everything a build writes: log lines, live output, the report.
 * Output arrives in chunks, so a secret can be split across two of them; a stream holds back the
 * end of a chunk while it could still be the start of a secret, and only that.
 */

export const MASK = '***';

/** Shorter values would mask ordinary words and digits; CodeBuild does not mask them either. */
const MIN_SECRET_LENGTH = 3;

export interface MaskingStream {
  /** Returns the part of the text seen so far that can no longer become part of a secret, masked. */
  write(chunk: string): string;
  /** Returns whatever was held back, masked. */
  end(): string;
}

export class SecretMasker {
  private readonly secrets: string[];
  private readonly pattern: RegExp | undefined;

  constructor(values: Iterable<string>) {
    // Longest first, so that a secret containing another is masked whole.
    this.secrets = [...new Set(values)].filter((v) => v.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
    this.pattern = this.secrets.length > 0 ? new RegExp(this.secrets.map(escapeRegExp).join('|'), 'g') : undefined;
  }

  mask(text: string): string {
    return this.pattern ? text.replace(this.pattern, MASK) : text;
  }

  /** Masks every string inside a JSON-like value. */
  maskDeep<T>(value: T): T {
    if (!this.pattern) return value;
    return maskValue(value, (text) => this.mask(text)) as T;
  }

  stream(): MaskingStream {
    let pending = '';
    return {
      write: (chunk) => {
        pending += chunk;
        const cut = pending.length - this.heldBack(pending);
        const ready = pending.slice(0, cut);
        pending = pending.slice(cut);
        return this.mask(ready);
      },
      end: () => {
        const rest = this.mask(pending);
        pending = '';
        return rest;
      },
    };
  }

  /** How many characters at the end of `text` could be the start of a secret not yet complete. */
  private heldBack(text: string): number {
    if (!this.pattern) return 0;
    // Never hold back into a complete secret: it is masked now, whole.
    let afterLastMatch = 0;
    for (const match of text.matchAll(this.pattern)) afterLastMatch = match.index + match[0].length;
    const tail = text.slice(afterLastMatch);
    let longest = 0;
    for (const secret of this.secrets) {
      for (let n = Math.min(secret.length - 1, tail.length); n > longest; n--) {
        if (tail.endsWith(secret.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}

function maskValue(value: unknown, mask: (text: string) => string): unknown {
  if (typeof value === 'string') return mask(value);
  if (Array.isArray(value)) return value.map((item) => maskValue(item, mask));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [mask(k), maskValue(v, mask)]));
  return value;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
