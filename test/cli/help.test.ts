import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { run } from '../helpers/exec.js';
import { testdir } from '../helpers/testdir.js';
import { requireTool, skipWithout } from '../helpers/tools.js';
import { commandTable } from '../../src/cli/commands/index.js';
import type { Ctx } from '../../src/cli/context.js';
import { testIO } from '../../src/cli/io.js';
import { scriptedPrompter } from '../../src/cli/prompter.js';
import { flatten, usageTerm, walk, type CommandNode } from '../../src/cli/tree.js';
import { commandTree, main } from '../../src/cli/main.js';

/** The real command tree, walked from the same table `ca` loads its commands from: no hand-kept list. */
async function loadTree(): Promise<CommandNode> {
  const ctx: Ctx = {
    io: testIO(),
    env: {},
    now: () => new Date(),
    fetch: () => Promise.reject(new Error('no network in help tests')),
    prompter: scriptedPrompter([], false),
    caPath: 'unused',
  };
  const root = new Command('ca');
  for (const entry of commandTable) root.addCommand((await entry.load()).create(ctx).helpGroup(entry.group));
  return walk(root);
}

const treePromise = loadTree();

/** The lines of the help section under `heading`, up to the next blank-line-separated heading. */
function section(text: string, heading: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  if (start === -1) return [];
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^\S/.test(line)) break; // the next section
    out.push(line);
  }
  return out;
}

/** An example line: `$ ca ...` or `ca ...`, maybe after VAR=value assignments or a pipe into ca. */
const EXAMPLE = /^\s*(\$ )?([A-Z_]+=\S+ )*ca /;

test('every command and subcommand has --help with a purpose, explained flags and examples', { concurrency: 6 }, async (t) => {
  const nodes = flatten(await treePromise).filter((n) => n.path.length > 0);
  assert.ok(nodes.length >= 16, `found only ${nodes.length} commands`);
  assert.ok(nodes.some((n) => n.path.join(' ') === 'provisioner add'), 'the walk reaches subcommands');

  await Promise.all(
    nodes.map((node) =>
      t.test(`ca ${node.path.join(' ')} --help`, async () => {
        const words = node.path.join(' ');
        assert.ok(node.purpose.trim(), `${words}: a one-line purpose (summary)`);
        for (const o of node.options) assert.ok(o.description.trim(), `${words} ${o.long}: a description`);
        for (const a of node.args) assert.ok(a.description.trim(), `${words} <${a.name}>: a description`);

        const res = await runCli([...node.path, '--help']);
        assert.equal(res.code, 0, res.stderr);
        assert.equal(res.stderr, '');
        const lines = res.stdout.split('\n');
        assert.match(lines[0] ?? '', new RegExp(`^Usage: ca ${words} `));
        assert.equal(lines[1], '');
        assert.match(lines[2] ?? '', /^[A-Z]\S* \S+/, `${words}: a description line after the usage`);
        for (const o of node.options) assert.ok(res.stdout.includes(o.long), `${words}: ${o.long} is listed`);

        const examples = section(res.stdout, 'Examples:');
        assert.ok(examples.length > 0, `${words}: an Examples: section`);
        const commands = examples.filter((l) => EXAMPLE.test(l));
        assert.ok(commands.length > 0, `${words}: an example line starting with 'ca ' or '$ ca '`);
        assert.ok(
          examples.some((l) => l.includes(`ca ${words}`)),
          `${words}: an example runs 'ca ${words}'`,
        );
      }),
    ),
  );
});

test("'ca' with no arguments prints the command tree; 'ca --help' prints the same", async () => {
  const [bare, help, short, tree] = await Promise.all([runCli([]), runCli(['--help']), runCli(['-h']), treePromise]);
  assert.equal(bare.code, 0, bare.stderr);
  assert.equal(bare.stderr, '');
  assert.equal(help.stdout, bare.stdout);
  assert.equal(short.stdout, bare.stdout);
  const out = bare.stdout;
  const lines = out.split('\n');
  assert.match(lines[0] ?? '', /^ca — \S/, 'the description first');
  assert.ok(lines.includes('Usage: ca <command> [options]'));
  assert.match(out, /\n {2}provisioner {2,}\S.*\n( {8,}\S.*\n)* {4}add NAME {2,}\S/, 'subcommands indented under their parent, with a purpose');

  // Every command of the tree, with its purpose (wrapped, so compare the first words).
  for (const node of flatten(tree).filter((n) => n.path.length > 0)) {
    const indent = ' '.repeat(2 * node.path.length);
    const term = usageTerm(node);
    const at = lines.findIndex((l) => l.startsWith(`${indent}${term}`) && (l.length === indent.length + term.length || l[indent.length + term.length] === ' '));
    assert.notEqual(at, -1, `'${node.path.join(' ')}' is in the tree as '${term}'`);
    const rest = `${lines[at]?.slice(indent.length + term.length) ?? ''} ${lines[at + 1] ?? ''}`;
    const firstWords = node.purpose.split(' ').slice(0, 2).join(' ');
    assert.ok(rest.includes(firstWords), `'${node.path.join(' ')}' has its purpose: ${firstWords}`);
  }
  // A developer's commands before an admin's, tools last.
  const order = ['certificate', 'bootstrap', 'init', 'provisioner', 'serve', 'inspect', 'completion'].map((c) => out.indexOf(`\n  ${c}`));
  assert.deepEqual([...order].sort((a, b) => a - b), order);
  assert.ok(order.every((i) => i > 0));
  assert.ok(section(out, 'Examples:').some((l) => EXAMPLE.test(l)), 'examples of first steps');
  assert.match(out, /Run 'ca <command> --help' for flags and examples\.\n$/);
});

test('the tree saved at build time (what `ca` and `ca --help` print without loading commands) is the live one', async () => {
  const saved = JSON.parse(await readFile(new URL('../../dist/cli/tree.json', import.meta.url), 'utf8')) as CommandNode;
  const ctx: Ctx = { io: testIO(), env: {}, now: () => new Date(), fetch: () => Promise.reject(new Error('offline')), prompter: scriptedPrompter([], false), caPath: 'unused' };
  assert.deepEqual(saved, JSON.parse(JSON.stringify(await commandTree(ctx))), 'run npm run build: dist/cli/tree.json is stale');
  const io = testIO();
  assert.equal(await main(['--help'], { ...ctx, io }), 0);
  assert.equal((await runCli(['--help'])).stdout, io.out(), 'the quick overview is exactly the full CLI\'s');
  const version = await runCli(['--version']);
  assert.equal(version.stdout, `${JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')).version}\n`);
  assert.equal((await runCli(['-v'])).stdout, version.stdout);
});

/** Whether a shell is installed here; zsh and fish are checked only where they are. */
/** Load the bash script and ask it for completions as bash would: `line` is split into words, the last one is being typed. */
const BASH_PROBE = [
  'source "$1" || exit 1',
  'complete -p ca || exit 1',
  'shift',
  'for line in "$@"; do',
  '  read -r -a COMP_WORDS <<< "$line"',
  "  [[ $line == *' ' ]] && COMP_WORDS+=('')",
  '  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))',
  '  COMPREPLY=()',
  '  _ca',
  '  printf \'%s => %s\\n\' "$line" "${COMPREPLY[*]}"',
  'done',
].join('\n');

test("'ca completion bash|zsh|fish' prints scripts the shells accept", async (t) => {
  const d = await testdir({ 'files/alice.crt': '' });
  t.after(d.cleanup);
  const [bash, zsh, fish, unknown, missing] = await Promise.all([
    runCli(['completion', 'bash']),
    runCli(['completion', 'zsh']),
    runCli(['completion', 'fish']),
    runCli(['completion', 'tcsh']),
    runCli(['completion']),
  ]);
  const scripts: [string, CliResult][] = [
    ['bash', bash],
    ['zsh', zsh],
    ['fish', fish],
  ];
  for (const [shell, res] of scripts) {
    assert.equal(res.code, 0, `${shell}: ${res.stderr}`);
    assert.equal(res.stderr, '');
    await writeFile(d.path(`ca.${shell}`), res.stdout);
    // Generated from the live tree: subcommands, flags and flag values are all there.
    for (const word of ['provisioner', 'add', '--configuration-endpoint', '--kty', 'Ed25519', 'completion']) {
      assert.ok(res.stdout.includes(word), `${shell}: ${word}`);
    }
  }

  await t.test('bash: valid syntax, registers ca, completes commands, flags and values', async () => {
    await run('bash', ['-n', d.path('ca.bash')]);
    const probe = await run('bash', [
      '-c',
      BASH_PROBE,
      'probe',
      d.path('ca.bash'),
      'ca pro',
      'ca provisioner ',
      'ca admin ',
      'ca admin update alice@example.com --admin-c',
      'ca provisioner add Google --ty',
      'ca provisioner add Google --type ',
      'ca certificate --kty ',
      'ca certificate --curve P-',
      'ca inspect --format ',
      'ca completion ',
      `ca certificate --kty RSA alice@example.com ${d.path('files/al')}`,
      'ca --ver',
    ]);
    assert.match(probe.stdout, /complete -F _ca ca/);
    const got = Object.fromEntries(probe.stdout.split('\n').flatMap((l) => (l.includes(' => ') ? [l.split(' => ') as [string, string]] : [])));
    assert.equal(got['ca pro'], 'provisioner');
    assert.equal(got['ca provisioner '], 'add update remove list');
    assert.equal(got['ca admin '], 'list add update remove');
    assert.equal(got['ca admin update alice@example.com --admin-c'], '--admin-cert');
    assert.equal(got['ca provisioner add Google --ty'], '--type');
    assert.equal(got['ca provisioner add Google --type '], 'OIDC');
    assert.deepEqual(got['ca certificate --kty ']?.split(' ').sort(), ['EC', 'OKP', 'RSA']);
    assert.equal(got['ca certificate --curve P-'], 'P-256 P-384 P-521');
    assert.equal(got['ca inspect --format '], 'text json pem');
    assert.equal(got['ca completion '], 'bash zsh fish');
    assert.equal(got[`ca certificate --kty RSA alice@example.com ${d.path('files/al')}`], d.path('files/alice.crt'));
    assert.equal(got['ca --ver'], '--version');
  });

  await t.test('zsh: valid syntax and registers ca', { skip: skipWithout('zsh') }, async () => {
    requireTool('zsh');
    await run('zsh', ['-n', d.path('ca.zsh')]);
    const loaded = await run('zsh', ['-f', '-c', 'autoload -U compinit && compinit -D && source "$1" && print -r -- $_comps[ca]', 'zsh', d.path('ca.zsh')]);
    assert.equal(loaded.stdout.trim(), '_ca');
  });

  await t.test('fish: valid syntax and loads', { skip: skipWithout('fish') }, async () => {
    requireTool('fish');
    await run('fish', ['--no-execute', d.path('ca.fish')]);
    const loaded = await run('fish', ['--no-config', '-c', 'source $argv[1]; and complete -c ca | count', d.path('ca.fish')]);
    assert.ok(Number(loaded.stdout.trim()) > 50, loaded.stdout);
  });

  await t.test('an unknown or missing shell is a usage error: exit 2, one line', () => {
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stdout, '');
    assert.equal(unknown.stderr.trimEnd().split('\n').length, 1, unknown.stderr);
    assert.match(unknown.stderr, /^ca: .*'tcsh'.*bash, zsh, fish/);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^ca: missing required argument 'shell'/);
  });
});
