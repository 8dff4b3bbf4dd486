// One of several processes racing to use the same tokens in one SQLite store (sqlite.test.ts).
// Prints the ids this process won, as JSON.
import { openSqliteStore } from '../../src/store/sqlite.js';

const [dir, count] = process.argv.slice(2);
const store = openSqliteStore(dir as string);
const now = new Date();
const expires = new Date(now.getTime() + 3_600_000);
const won: string[] = [];
for (let i = 0; i < Number(count); i++) {
  // One at a time, so the processes' writes interleave rather than land as one batch each.
  if (await store.useToken(`token-${i}`, expires, now)) won.push(`token-${i}`);
}
await store.close();
process.stdout.write(JSON.stringify(won));
