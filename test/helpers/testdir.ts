import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A file tree written in the test itself: paths to contents (objects are JSON-encoded). */
export type FileTree = Record<string, string | object>;

/** Make a temporary directory holding `tree`; remove it with the returned cleanup. */
export async function testdir(tree: FileTree = {}): Promise<{ dir: string; path: (p: string) => string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ca-test-'));
  for (const [rel, content] of Object.entries(tree)) {
    const file = join(dir, rel);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, typeof content === 'string' ? content : `${JSON.stringify(content, null, '\t')}\n`);
  }
  return { dir, path: (p) => join(dir, p), cleanup: () => rm(dir, { recursive: true, force: true }) };
}
