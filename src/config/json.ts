import { CaError } from '../errors.js';

/**
 * Where a JSON text goes wrong, as an editor shows it (line and column from 1) and in words. We
 * scan the text ourselves: Node's own messages give a position for some mistakes and not for
 * others (a trailing comma), and quote the file, which may hold secrets.
 */
export interface JsonSyntaxError {
  line: number;
  column: number;
  detail: string;
}

class Fail {
  constructor(
    readonly offset: number,
    readonly detail: string,
  ) {}
}

function what(text: string, i: number): string {
  if (i >= text.length) return 'the end of the file';
  const c = text[i] as string;
  return /[\x21-\x7e]/.test(c) ? `'${c}'` : `character U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The first syntax error of `text` as JSON (RFC 8259), or undefined when it parses. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i += 1;
  };
  const unexpected = (expected: string): Fail => new Fail(i, `expected ${expected}, found ${what(text, i)}`);

  const string = (): void => {
    i += 1; // the opening quote
    for (;;) {
      if (i >= text.length) throw new Fail(i, 'a string is not closed (a missing \'"\')');
      const c = text[i] as string;
      if (c === '"') {
        i += 1;
        return;
      }
      if (c.charCodeAt(0) < 0x20) throw new Fail(i, `a string holds ${what(text, i)} (a line break inside quotes?)`);
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Fail(i, 'a \\u escape needs four hex digits');
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new Fail(i, `'\\${e ?? ''}' is not a JSON escape (write '\\\\' for a backslash)`);
        i += 2;
        continue;
      }
      i += 1;
    }
  };

  const number = (): void => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) throw unexpected('a number');
    i += m[0].length;
  };

  const value = (depth: number): void => {
    if (depth > 512) throw new Fail(i, 'nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i += 1;
      ws();
      if (text[i] === '}') {
        i += 1;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw text[i] === '}' ? new Fail(i, "a comma before '}' (JSON allows no trailing comma)") : unexpected('a property name in double quotes');
        string();
        ws();
        if (text[i] !== ':') throw unexpected("':' after the property name");
        i += 1;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i += 1;
          continue;
        }
        if (text[i] === '}') {
          i += 1;
          return;
        }
        throw unexpected("',' or '}'");
      }
    }
    if (c === '[') {
      i += 1;
      ws();
      if (text[i] === ']') {
        i += 1;
        return;
      }
      for (;;) {
        ws();
        if (text[i] === ']') throw new Fail(i, "a comma before ']' (JSON allows no trailing comma)");
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i += 1;
          continue;
        }
        if (text[i] === ']') {
          i += 1;
          return;
        }
        throw unexpected("',' or ']'");
      }
    }
    if (c === '"') return string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    throw unexpected('a value');
  };

  try {
    value(0);
    ws();
    if (i < text.length) throw new Fail(i, `${what(text, i)} after the end of the JSON value`);
    return undefined;
  } catch (err) {
    if (!(err instanceof Fail)) throw err;
    const before = text.slice(0, err.offset);
    const line = before.split('\n').length;
    const column = err.offset - (before.lastIndexOf('\n') + 1) + 1;
    return { line, column, detail: err.detail };
  }
}

/**
 * Parse a JSON file's text; a syntax error is a CaError that points at the line and column, and
 * whose hint says to fix it there (never anything destructive).
 */
export function parseJsonFile(text: string, path: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const at = findJsonSyntaxError(text) ?? { line: 1, column: 1, detail: 'not valid JSON' };
    throw new CaError('ERR_CONFIG_INVALID', `${path}:${at.line}:${at.column}: not valid JSON: ${at.detail}`, {
      hint: `fix ${path} at line ${at.line}, column ${at.column}`,
    });
  }
}
