/**
 * The top of a CPU profile: what `npm run bench -- --profile` prints after the load. The worker
 * processes of `ca serve` run with `--cpu-prof`; each writes a `.cpuprofile` when it exits, and this
 * adds up self time per function (name, file, line) across them, so the entries that cost the most
 * CPU come first, with the share of all samples each one took.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface ProfileEntry {
  label: string;
  selfMs: number;
  share: number;
}

/** Where a function comes from, short: our source under src/, a package name, or node's own. */
function place(url: string, root: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  if (pkg) return pkg[1] as string;
  if (path.startsWith('node:')) return path;
  return relative(root, path);
}

/**
 * Self time per function over every profile in `dir` whose process did at least `minShare` of
 * the work (the primary, which only forwards, is left out), largest first.
 */
export function topOfProfiles(dir: string, root: string, limit = 25): { entries: ProfileEntry[]; totalMs: number; files: number } {
  const self = new Map<string, number>();
  let totalMs = 0;
  let files = 0;
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile;
    const samples = profile.samples?.length ?? 0;
    if (samples === 0) continue;
    const msPerSample = (profile.endTime - profile.startTime) / 1000 / samples;
    let busy = 0;
    const here = new Map<string, number>();
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      if (hits === 0 || node.callFrame.functionName === '(idle)') continue;
      const where = place(node.callFrame.url, root);
      const label = `${node.callFrame.functionName || '(anonymous)'}${where ? ` ${where}:${node.callFrame.lineNumber + 1}` : ''}`;
      here.set(label, (here.get(label) ?? 0) + hits * msPerSample);
      busy += hits * msPerSample;
    }
    // The primary process is nearly idle: it would only add noise.
    if (busy < 200) continue;
    files++;
    totalMs += busy;
    for (const [label, ms] of here) self.set(label, (self.get(label) ?? 0) + ms);
  }
  const entries = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([label, selfMs]) => ({ label, selfMs, share: totalMs > 0 ? selfMs / totalMs : 0 }));
  return { entries, totalMs, files };
}
