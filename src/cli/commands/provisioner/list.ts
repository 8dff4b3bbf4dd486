import { Command } from 'commander';
import type { Ctx } from '../../context.js';
import { caConfigOption, caConfigPath, caUrlOption, rootOption } from '../../flags.js';
import { resolveCaTarget } from '../../../client/target.js';
import { result } from '../../output.js';
import { provisionersOf, readCaConfig, type ProvisionerJson } from '../../../config/ca-config.js';
import { isOidc } from '../../../config/provisioner.js';
import { managementMode } from '../../admin-login.js';

export interface ListOptions {
  json: boolean;
  configPath: string;
  /** Ask a running CA (public GET /provisioners) instead of reading ca.json. */
  remote?: boolean;
  caUrl?: string;
  root?: string;
}

/** The one-line identity of a provisioner, as step labels it in its picker. */
function credential(p: ProvisionerJson): string {
  if (isOidc(p)) return `client: ${p.clientID}`;
  const kid = (p.key as { kid?: string } | undefined)?.kid;
  return kid ? `kid: ${kid}` : '';
}

function rules(p: ProvisionerJson): string {
  if (!isOidc(p)) return '';
  const parts: string[] = [];
  if (p.domains?.length) parts.push(`domains=${p.domains.join(',')}`);
  if (p.groups?.length) parts.push(`groups=${p.groups.join(',')}`);
  if (p.admins?.length) parts.push(`admins=${p.admins.join(',')}`);
  return parts.join(' ');
}

/** Aligned columns on a terminal; tab-separated when piped, for cut and awk. */
export function formatTable(rows: string[][], tty: boolean): string {
  if (!tty) return rows.map((r) => r.join('\t')).join('\n');
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}

async function load(opts: ListOptions, ctx: Pick<Ctx, 'env' | 'caPath'>): Promise<ProvisionerJson[]> {
  if (!opts.remote && !opts.caUrl) return provisionersOf(await readCaConfig(opts.configPath));
  const { client } = await resolveCaTarget({ caUrl: opts.caUrl, root: opts.root }, ctx);
  return client.provisioners();
}

export async function listRun(opts: ListOptions, ctx: Pick<Ctx, 'io' | 'env' | 'caPath'>): Promise<void> {
  const list = await load(opts, ctx);
  if (opts.json) {
    // step prints the array with three-space indentation; scripts may compare against it.
    result(ctx.io, JSON.stringify(list, null, 3));
    return;
  }
  if (list.length === 0) {
    ctx.io.stderr.write(`No provisioners in ${opts.remote || opts.caUrl ? (opts.caUrl ?? 'the CA') : opts.configPath}; add one with 'ca provisioner add NAME --type OIDC ...'\n`);
    return;
  }
  const rows = list.map((p) => [p.name, p.type, credential(p), rules(p)]);
  result(ctx.io, formatTable(ctx.io.stdoutIsTTY ? [['NAME', 'TYPE', 'CREDENTIAL', 'RULES'], ...rows] : rows, ctx.io.stdoutIsTTY));
}

export function create(ctx: Ctx, run = listRun): Command {
  return new Command('list')
    .summary('list the provisioners (of ca.json, or of a running CA)')
    .description(
      "List the provisioners of the CA configuration, or of a running CA with --ca-url (or CA_URL), as its public list shows them; a CA with remote management (authority.enableAdmin in ca.json, or no ca.json here) is asked too. No admin login is needed. --json prints them exactly as 'step ca provisioner list' does.",
    )
    .option('--json', 'print the provisioners as JSON (as stored, secrets included)', false)
    .addOption(caConfigOption())
    .addOption(caUrlOption())
    .addOption(rootOption())
    .addHelpText('after', `\nExamples:\n  $ ca provisioner list\n  $ ca provisioner list --json | jq -r '.[].name'\n  $ ca provisioner list --ca-url https://ca.example.com:8443`)
    .action(async (o: { json: boolean; caConfig?: string; caUrl?: string; root?: string }, self: Command) => {
      // As before, --ca-url (or CA_URL) asks the CA; so does remote management (managementMode).
      const mode = await managementMode({ caConfig: o.caConfig, caUrl: o.caUrl, caUrlOnCommandLine: self.getOptionValueSource('caUrl') === 'cli' }, ctx);
      const configPath = mode.kind === 'local' ? mode.configPath : caConfigPath(ctx, o.caConfig);
      await run({ json: Boolean(o.json), configPath, remote: mode.kind === 'remote', caUrl: o.caUrl, root: o.root }, ctx);
    });
}
