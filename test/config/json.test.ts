import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findJsonSyntaxError, parseJsonFile } from '../../src/config/json.js';

test('the line and column of the first JSON mistake, in words', () => {
  const cases: [string, number, number, RegExp][] = [
    ['{\n  "a": 1,\n}\n', 3, 1, /a comma before '}' \(JSON allows no trailing comma\)/],
    ['[1,]', 1, 4, /a comma before '\]'/],
    ['{\n\t"a": 1\n\t"b": 2\n}', 3, 2, /expected ',' or '}', found '"'/],
    ['{"a": tru}', 1, 7, /expected a value, found 't'/],
    ['', 1, 1, /expected a value, found the end of the file/],
    ['{', 1, 2, /expected a property name in double quotes, found the end of the file/],
    ["{'a': 1}", 1, 2, /expected a property name in double quotes, found '''/],
    ['{"a": "x\ny"}', 1, 9, /a string holds character U\+000A \(a line break inside quotes\?\)/],
    ['{"a": "C:\\dir"}', 1, 10, /'\\d' is not a JSON escape/],
    ['{"a": 1}}', 1, 9, /'}' after the end of the JSON value/],
    ['{"a" 1}', 1, 6, /expected ':' after the property name, found '1'/],
    ['{"a": 01}', 1, 8, /expected ',' or '}', found '1'/],
    ['\uFEFF{}', 1, 1, /expected a value, found character U\+FEFF/],
  ];
  for (const [text, line, column, detail] of cases) {
    const at = findJsonSyntaxError(text);
    assert.ok(at, JSON.stringify(text));
    assert.deepEqual([at.line, at.column], [line, column], JSON.stringify(text));
    assert.match(at.detail, detail, JSON.stringify(text));
  }
  assert.throws(() => parseJsonFile('{\n  "a": 1,\n}\n', 'ca.json'), (err: Error & { hint?: string }) => {
    assert.equal(err.message, "ca.json:3:1: not valid JSON: a comma before '}' (JSON allows no trailing comma)");
    assert.equal(err.hint, 'fix ca.json at line 3, column 1');
    return true;
  });
});

test('agrees with JSON.parse on what is JSON, over thousands of mutated texts', () => {
  const seeds = [
    JSON.stringify({ root: '/a/b', authority: { provisioners: [{ type: 'OIDC', name: 'G', n: -1.5e3, t: true, f: false, z: null, s: 'q\\"\u00e9\\u0041' }] } }, null, '\t'),
    '[1, 2.5, -0, 1e10, "a", [], {}, [[]], {"x": {"y": []}}]',
  ];
  const alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', ' ', '\n', '0', '1', '-', '.', 'e', 't', 'n', 'u', 'x'];
  let seed = 42;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 5_000; i += 1) {
    let text = seeds[i % seeds.length] as string;
    for (let edits = 1 + random(3); edits > 0; edits -= 1) {
      const at = random(text.length + 1);
      const kind = random(3);
      const c = alphabet[random(alphabet.length)] as string;
      text = kind === 0 ? text.slice(0, at) + text.slice(at + 1) : kind === 1 ? text.slice(0, at) + c + text.slice(at) : text.slice(0, at) + c + text.slice(at + 1);
    }
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
    }
    assert.equal(findJsonSyntaxError(text) === undefined, parses, JSON.stringify(text));
  }
});
