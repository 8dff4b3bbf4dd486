import type { Command } from 'commander';

/**
 * The command tree as plain data, read from a built commander program: what `ca` prints with no
 * arguments and what `ca completion` turns into shell scripts. Pure: no I/O, no loading.
 */

export interface OptionNode {
  /** `--ca-url`; every flag of ca has a long form. */
  long: string;
  /** `-f`, when there is one. */
  short?: string;
  /** `<file>` for `--root <file>`, without the brackets; undefined for a switch. */
  valueName?: string;
  /** The values commander accepts (`.choices()`), if it restricts them. */
  choices?: readonly string[];
  description: string;
}

export interface ArgumentNode {
  /** `crt-file` for `<crt-file>`. */
  name: string;
  required: boolean;
  variadic: boolean;
  choices?: readonly string[];
  description: string;
}

export interface CommandNode {
  name: string;
  /** The words after `ca` that run it: `['provisioner', 'add']`; empty for the root. */
  path: string[];
  /** One line: the summary, else the first sentence of the description. */
  purpose: string;
  /** The heading it is listed under in its parent (commander's helpGroup), or ''. */
  group: string;
  args: ArgumentNode[];
  /** The visible options, help and version included. */
  options: OptionNode[];
  children: CommandNode[];
}

function firstSentence(text: string): string {
  const line = text.split('\n')[0] ?? '';
  const end = line.search(/\.(\s|$)/);
  return end === -1 ? line : line.slice(0, end);
}

function optionNode(o: Command['options'][number]): OptionNode | undefined {
  if (!o.long) return undefined;
  const value = /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1];
  return {
    long: o.long,
    short: o.short,
    valueName: value,
    choices: o.argChoices,
    description: o.description,
  };
}

/** Walk a command and everything under it. Hidden commands and options are left out. */
export function walk(cmd: Command, path: string[] = []): CommandNode {
  const help = cmd.createHelp();
  return {
    name: cmd.name(),
    path,
    purpose: cmd.summary() || firstSentence(cmd.description()),
    group: cmd.helpGroup(),
    args: cmd.registeredArguments.map((a) => ({
      name: a.name(),
      required: a.required,
      variadic: a.variadic,
      choices: a.argChoices,
      description: a.description,
    })),
    options: help.visibleOptions(cmd).flatMap((o) => optionNode(o) ?? []),
    // visibleCommands adds commander's implicit `help` command; only the real ones are listed.
    children: help
      .visibleCommands(cmd)
      .filter((c) => cmd.commands.includes(c))
      .map((c) => walk(c, [...path, c.name()])),
  };
}

/** Every command in the tree, parents before their children, the root first. */
export function flatten(node: CommandNode): CommandNode[] {
  return [node, ...node.children.flatMap(flatten)];
}

/** `add NAME`, `root [FILE]`, `certificate SUBJECT CRT-FILE KEY-FILE`. */
export function usageTerm(node: CommandNode): string {
  const args = node.args.map((a) => {
    const word = a.name.toUpperCase() + (a.variadic ? '...' : '');
    return a.required ? word : `[${word}]`;
  });
  return [node.name, ...args].join(' ');
}

/** Greedy word wrap; a word longer than the width gets a line of its own. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}

export interface TreeOptions {
  /** Wrap purposes to this many columns (default 80). */
  width?: number;
  /** Text printed after the tree and the options, before the closing pointer to --help. */
  footer?: string;
}

/** Terms longer than this get their purpose on the next line, so one long usage does not squeeze the rest. */
const MAX_TERM = 24;

/**
 * The overview `ca` prints with no arguments: the summary, usage, every command and subcommand with
 * its purpose (grouped under the root's help groups, subcommands indented), and the global options.
 */
export function renderTree(root: Command, opts: TreeOptions = {}): string {
  return renderTreeNode(walk(root), opts);
}

/** The same overview from the tree as data (what `ca` reads from dist/cli/tree.json to start fast). */
export function renderTreeNode(tree: CommandNode, opts: TreeOptions = {}): string {
  const width = Math.max(opts.width ?? 80, 40);
  const name = tree.name;

  const rows: { heading?: string; term?: string; purpose?: string }[] = [];
  const addRows = (node: CommandNode, depth: number): void => {
    rows.push({ term: `${'  '.repeat(depth)}${usageTerm(node)}`, purpose: node.purpose });
    for (const child of node.children) addRows(child, depth + 1);
  };
  const groups = new Map<string, CommandNode[]>();
  for (const child of tree.children) {
    const heading = child.group || 'Commands:';
    groups.set(heading, [...(groups.get(heading) ?? []), child]);
  }
  for (const [heading, children] of groups) {
    rows.push({ heading });
    for (const child of children) addRows(child, 0);
  }
  const optionRows = tree.options.map((o) => ({
    term: [o.short, o.long].filter(Boolean).join(', ') + (o.valueName ? ` <${o.valueName}>` : ''),
    purpose: o.description,
  }));

  const terms = [...rows, ...optionRows].flatMap((r) => (r.term && r.term.length <= MAX_TERM ? [r.term.length] : []));
  const column = 2 + Math.max(0, ...terms) + 2;
  const formatRow = (term: string, purpose: string): string[] => {
    const text = wrap(purpose, Math.max(width - column, 20));
    const pad = ' '.repeat(column);
    const first = `  ${term}`;
    if (first.length + 2 > column) return [first, ...text.map((l) => pad + l)];
    return [first.padEnd(column) + text[0], ...text.slice(1).map((l) => pad + l)];
  };

  const out: string[] = [];
  out.push(tree.purpose ? `${name} — ${tree.purpose}` : name, '');
  out.push(`Usage: ${name} <command> [options]`);
  for (const row of rows) {
    if (row.heading !== undefined) out.push('', row.heading);
    else out.push(...formatRow(row.term ?? '', row.purpose ?? ''));
  }
  if (optionRows.length) {
    out.push('', 'Options:');
    for (const row of optionRows) out.push(...formatRow(row.term, row.purpose));
  }
  if (opts.footer) out.push('', opts.footer.replace(/^\n+|\n+$/g, ''));
  out.push('', `Run '${name} <command> --help' for flags and examples.`);
  return `${out.map((l) => l.trimEnd()).join('\n')}\n`;
}
