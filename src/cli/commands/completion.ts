import { Argument, Command } from 'commander';
import type { Ctx } from '../context.js';
import { result } from '../output.js';
import { flatten, walk, type ArgumentNode, type CommandNode, type OptionNode } from '../tree.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Values of flags that commander takes as free text (to stay as lenient as step) but that have a known set. */
const KNOWN_VALUES: Record<string, readonly string[]> = {
  '--kty': ['RSA', 'EC', 'OKP'],
  '--curve': ['P-256', 'P-384', 'P-521', 'Ed25519'],
  '--type': ['OIDC'],
  '--format': ['json', 'pem'],
};

/** What the word after a flag, or an argument, completes to. */
type Values = { kind: 'files' } | { kind: 'words'; words: readonly string[] } | { kind: 'none' };

function optionValues(o: OptionNode): Values {
  if (o.choices?.length) return { kind: 'words', words: o.choices };
  const known = KNOWN_VALUES[o.long];
  if (known) return { kind: 'words', words: known };
  if (o.valueName && /file/i.test(o.valueName)) return { kind: 'files' };
  return { kind: 'none' };
}

function argumentValues(a: ArgumentNode): Values {
  if (a.choices?.length) return { kind: 'words', words: a.choices };
  if (/file/i.test(a.name)) return { kind: 'files' };
  return { kind: 'none' };
}

/** `ca provisioner add` → 'provisioner add'; the root is ''. */
const key = (node: CommandNode): string => node.path.join(' ');
const flags = (o: OptionNode): string[] => (o.short ? [o.short, o.long] : [o.long]);
const valued = (node: CommandNode): OptionNode[] => node.options.filter((o) => o.valueName !== undefined);

/** A POSIX shell word in single quotes (bash and zsh). */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A fish single-quoted string. */
function fq(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** One line, for a description inside a completion menu. */
function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** A shell function name made from the program name: `_ca`. */
function fn(name: string): string {
  return `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/**
 * The shell functions bash and zsh share: `case` tables from command path to its subcommands,
 * flags, flags that take a value, what those values are, and what each argument is.
 */
function tables(tree: CommandNode, f: string, withDescriptions: boolean): string {
  const nodes = flatten(tree);
  const entry = (name: string, description: string): string =>
    withDescriptions ? `${name.replace(/:/g, '\\:')}:${oneLine(description)}` : name;
  // zsh's name:description entries have spaces in them: one per line there.
  const words = (items: string[]): string => sq(items.join(withDescriptions ? '\n' : ' '));
  const table = (fnName: string, comment: string, arms: [string, string][], argsDoc: string): string => {
    // printf, not echo: zsh's echo would read backslashes in a description.
    const lines = arms.map(([pattern, body]) => `    ${pattern}) printf '%s\\n' ${body} ;;`);
    return `# ${comment}\n${fnName}() { # ${argsDoc}\n  case "$1" in\n${lines.join('\n')}\n  esac\n}\n`;
  };

  const subArms = nodes
    .filter((n) => n.children.length)
    .map((n): [string, string] => [sq(key(n)), words(n.children.map((c) => entry(c.name, c.purpose)))]);
  const optArms = nodes.map((n): [string, string] => [
    sq(key(n)),
    words(n.options.flatMap((o) => flags(o).map((flag) => entry(flag, o.description)))),
  ]);
  const valuedArms = nodes
    .filter((n) => valued(n).length)
    .map((n): [string, string] => [sq(key(n)), sq(valued(n).flatMap(flags).join(' '))]);

  const valueArms: [string, string][] = [];
  const argArms: [string, string][] = [];
  const encode = (v: Values): string | undefined => (v.kind === 'files' ? '@files' : v.kind === 'words' ? v.words.join(' ') : undefined);
  for (const n of nodes) {
    for (const o of valued(n)) {
      const body = encode(optionValues(o));
      if (body) valueArms.push([flags(o).map((flag) => sq(`${key(n)}|${flag}`)).join('|'), sq(body)]);
    }
    n.args.forEach((a, i) => {
      const body = encode(argumentValues(a));
      if (!body) return;
      argArms.push([sq(`${key(n)}|${i}`), sq(body)]);
      // The last argument may repeat: every later position completes the same way.
      if (a.variadic && i === n.args.length - 1) argArms.push([`${sq(`${key(n)}|`)}*`, sq(body)]);
    });
  }

  return [
    table(`${f}_subcommands`, `The subcommands of a command${withDescriptions ? ', as name:purpose lines' : ''}.`, subArms, 'command path'),
    table(`${f}_options`, `The flags of a command${withDescriptions ? ', as flag:description lines' : ''}.`, optArms, 'command path'),
    table(`${f}_valued`, 'The flags of a command that take a value: the word after them is that value.', valuedArms, 'command path'),
    table(`${f}_option_values`, "What a flag's value completes to: @files, or the words.", valueArms, '"command path|flag"'),
    table(`${f}_argument_values`, 'What an argument completes to: @files, or the words.', argArms, '"command path|argument index from 0"'),
  ].join('\n');
}

/**
 * The walk over the words before the cursor, the same in bash and zsh: which command they name,
 * how many arguments it has so far, skipping flags and their values.
 */
function scanLoop(f: string, first: number, wordsVar: string, end: string, breaks: boolean): string {
  return `  local cmdpath='' w i nargs=0 skip=0
  for (( i = ${first}; i < ${end}; i++ )); do
    w=\${${wordsVar}[i]}
    if (( skip )); then
      ${breaks ? '# bash splits --flag=value and host:port into several words\n      [[ $w == [=:] ]] || skip=0' : 'skip=0'}
      continue
    fi
    case $w in
${breaks ? '      [=:]) skip=1; continue ;;\n' : ''}      --*=*) continue ;;
      -*) [[ " $(${f}_valued "$cmdpath") " == *" $w "* ]] && skip=1; continue ;;
    esac
    if (( nargs == 0 )) && ${f}_is_subcommand "$cmdpath" "$w"; then
      cmdpath=\${cmdpath:+$cmdpath }$w
    else
      nargs=$((nargs + 1))
    fi
  done`;
}

export function bashScript(tree: CommandNode): string {
  const name = tree.name;
  const f = fn(name);
  return `# bash completion for ${name}, generated from its commands by '${name} completion bash'.
#   ${name} completion bash > /etc/bash_completion.d/${name}    or, in ~/.bashrc:  source <(${name} completion bash)

${tables(tree, f, false)}
# Is $2 a subcommand of the command path $1?
${f}_is_subcommand() {
  local s
  for s in $(${f}_subcommands "$1"); do
    [[ $s == "$2" ]] && return 0
  done
  return 1
}

# Set COMPREPLY from @files or a word list, for the current word $2.
${f}_reply() {
  if [[ $1 == @files ]]; then
    compopt -o filenames 2>/dev/null
    local IFS=$'\\n'
    COMPREPLY=( $(compgen -f -- "$2") )
  else
    COMPREPLY=( $(compgen -W "$1" -- "$2") )
  fi
}

${f}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=''
  (( COMP_CWORD > 0 )) && prev=\${COMP_WORDS[COMP_CWORD-1]}
  # --flag=value: bash makes '--flag' '=' 'value' of it
  if [[ $cur == = ]]; then
    cur=''
  elif [[ $prev == = ]] && (( COMP_CWORD > 1 )); then
    prev=\${COMP_WORDS[COMP_CWORD-2]}
  fi
${scanLoop(f, 1, 'COMP_WORDS', 'COMP_CWORD', true)}
  if [[ $prev == -* && " $(${f}_valued "$cmdpath") " == *" $prev "* ]]; then
    ${f}_reply "$(${f}_option_values "$cmdpath|$prev")" "$cur"
    return 0
  fi
  if [[ $cur == -* ]]; then
    ${f}_reply "$(${f}_options "$cmdpath")" "$cur"
    return 0
  fi
  local subcommands
  subcommands=$(${f}_subcommands "$cmdpath")
  if [[ -n $subcommands ]] && (( nargs == 0 )); then
    ${f}_reply "$subcommands" "$cur"
    return 0
  fi
  ${f}_reply "$(${f}_argument_values "$cmdpath|$nargs")" "$cur"
  return 0
}

complete -F ${f} ${name}
`;
}

export function zshScript(tree: CommandNode): string {
  const name = tree.name;
  const f = fn(name);
  return `#compdef ${name}
# zsh completion for ${name}, generated from its commands by '${name} completion zsh'.
#   in ~/.zshrc, after compinit:  source <(${name} completion zsh)
#   or save it as _${name} in a directory of $fpath:  ${name} completion zsh > "\${fpath[1]}/_${name}"

${tables(tree, f, true)}
# Is $2 a subcommand of the command path $1?
${f}_is_subcommand() {
  local s
  for s in \${(f)"$(${f}_subcommands "$1")"}; do
    [[ \${s%%:*} == "$2" ]] && return 0
  done
  return 1
}

# Offer @files or a word list.
${f}_offer() {
  if [[ $1 == @files ]]; then
    _files
  elif [[ -n $1 ]]; then
    local -a vals
    vals=(\${=1})
    compadd -a vals
  fi
}

${f}() {
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]}
${scanLoop(f, 2, 'words', 'CURRENT', false)}
  if [[ $cur == --*=* ]]; then
    prev=\${cur%%=*}
    compset -P '*='
  fi
  if [[ $prev == -* && " $(${f}_valued "$cmdpath") " == *" $prev "* ]]; then
    ${f}_offer "$(${f}_option_values "$cmdpath|$prev")"
    return
  fi
  local -a items
  if [[ $cur == -* ]]; then
    items=(\${(f)"$(${f}_options "$cmdpath")"})
    _describe -t options 'flag' items
    return
  fi
  items=(\${(f)"$(${f}_subcommands "$cmdpath")"})
  if (( \${#items} && nargs == 0 )); then
    _describe -t commands 'command' items
    return
  fi
  ${f}_offer "$(${f}_argument_values "$cmdpath|$nargs")"
}

if [[ $funcstack[1] == ${f} ]]; then
  ${f} "$@"
else
  compdef ${f} ${name}
fi
`;
}

export function fishScript(tree: CommandNode): string {
  const name = tree.name;
  const f = `_${fn(name)}`; // fish helpers conventionally start with __
  const nodes = flatten(tree);
  const lines: string[] = [];
  const is = (n: CommandNode): string => `-n ${fq(`${f}_is ${fq(key(n))}`)}`;

  for (const n of nodes) {
    const args = n.args.map(argumentValues);
    // No file names unless an argument of this command is a file.
    const files = args.some((v) => v.kind === 'files');
    if (!files) lines.push(`complete -c ${name} ${is(n)} -f`);
    for (const c of n.children) lines.push(`complete -c ${name} ${is(n)} -f -a ${fq(c.name)} -d ${fq(oneLine(c.purpose))}`);
    for (const v of args) {
      if (v.kind === 'words') lines.push(`complete -c ${name} ${is(n)} -f -a ${fq(v.words.join(' '))}`);
    }
    for (const o of n.options) {
      const parts = [`complete -c ${name}`, is(n), `-l ${o.long.slice(2)}`];
      if (o.short) parts.push(`-s ${o.short.slice(1)}`);
      if (o.valueName !== undefined) {
        const v = optionValues(o);
        if (v.kind === 'files') parts.push('-r -F');
        else if (v.kind === 'words') parts.push(`-x -a ${fq(v.words.join(' '))}`);
        else parts.push('-x');
      }
      parts.push(`-d ${fq(oneLine(o.description))}`);
      lines.push(parts.join(' '));
    }
  }

  const subs = nodes
    .filter((n) => n.children.length)
    .map((n) => `        case ${fq(key(n))}\n            printf '%s\\n' ${n.children.map((c) => fq(c.name)).join(' ')}`);
  const valuedFlags = nodes
    .filter((n) => valued(n).length)
    .map((n) => `        case ${fq(key(n))}\n            printf '%s\\n' ${valued(n).flatMap(flags).map(fq).join(' ')}`);

  return `# fish completion for ${name}, generated from its commands by '${name} completion fish'.
#   ${name} completion fish > ~/.config/fish/completions/${name}.fish

function ${f}_subcommands --description 'the subcommands of a command path'
    switch "$argv[1]"
${subs.join('\n')}
    end
end

function ${f}_valued --description 'the flags of a command path that take a value'
    switch "$argv[1]"
${valuedFlags.join('\n')}
    end
end

function ${f}_path --description 'the command named by the words before the cursor'
    set -l words (commandline -opc)
    set -e words[1]
    set -l cmdpath ''
    set -l skip 0
    set -l nargs 0
    for w in $words
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $w
            case '--*=*'
                continue
            case '-*'
                if contains -- $w (${f}_valued "$cmdpath")
                    set skip 1
                end
                continue
        end
        if test $nargs -eq 0; and contains -- $w (${f}_subcommands "$cmdpath")
            set cmdpath (string trim -- "$cmdpath $w")
        else
            set nargs (math $nargs + 1)
        end
    end
    echo $cmdpath
end

function ${f}_is --description 'is the command line at this command path?'
    set -l p (${f}_path)
    test "$p" = "$argv[1]"
end

${lines.join('\n')}
`;
}

const SCRIPTS: Record<Shell, (tree: CommandNode) => string> = { bash: bashScript, zsh: zshScript, fish: fishScript };

/** The completion script for a shell, from the program that `cmd` belongs to. */
export function completionScript(shell: Shell, cmd: Command): string {
  let root = cmd;
  while (root.parent) root = root.parent;
  return SCRIPTS[shell](walk(root));
}

export async function completionRun(shell: Shell, cmd: Command, ctx: Pick<Ctx, 'io'>): Promise<void> {
  result(ctx.io, completionScript(shell, cmd));
}

export function create(ctx: Ctx, run = completionRun): Command {
  return new Command('completion')
    .summary('print a shell completion script (bash, zsh, fish)')
    .description(
      `Print a script that teaches your shell to complete ca's commands, subcommands and flags, and the values of flags that take a file name or one of a few words (--kty, --curve, --type, --format). It is made from this version of ca: regenerate it after an upgrade.`,
    )
    .addArgument(new Argument('<shell>', 'the shell to complete for').choices(SHELLS))
    .addHelpText(
      'after',
      `
Examples:
  # bash, for every user (or ~/.local/share/bash-completion/completions/ca for yourself)
  $ ca completion bash > /etc/bash_completion.d/ca

  # bash or zsh, in the current shell; to keep it, add the line to ~/.bashrc, or to ~/.zshrc after compinit
  $ source <(ca completion bash)
  $ source <(ca completion zsh)

  # fish
  $ ca completion fish > ~/.config/fish/completions/ca.fish`,
    )
    .action(async (shell: Shell, _opts: unknown, cmd: Command) => {
      await run(shell, cmd, ctx);
    });
}
