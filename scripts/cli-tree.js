// After the TypeScript build: save the command tree as data (dist/cli/tree.json), from the same
// program `ca` builds, so `ca` and `ca --help` print the overview without loading any command.
// Written only when it changed, and by rename, so a CLI running meanwhile never reads half of it.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

// Built modules, loaded by URL: they are the build's output, not sources for the type checker.
/** @param {string} path */
const built = (path) => import(new URL(`../dist/cli/${path}`, import.meta.url).href);
const { commandTree } = await built('main.js');
const { testIO } = await built('io.js');
const { scriptedPrompter } = await built('prompter.js');

const ctx = {
  io: testIO(),
  env: {},
  now: () => new Date(),
  fetch: () => Promise.reject(new Error('no network while building')),
  prompter: scriptedPrompter([], false),
  caPath: '',
};
const text = `${JSON.stringify(await commandTree(ctx))}\n`;
const target = new URL('../dist/cli/tree.json', import.meta.url);
let current = '';
try {
  current = readFileSync(target, 'utf8');
} catch {
  // first build
}
if (current !== text) {
  const tmp = new URL(`../dist/cli/.tree.json.${process.pid}.tmp`, import.meta.url);
  writeFileSync(tmp, text);
  renameSync(tmp, target);
}
