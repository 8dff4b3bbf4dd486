/**
 * What `ca` and `ca --help` print: the whole command tree with first steps under it. bin.ts renders
 * it from the tree saved at build time (dist/cli/tree.json) without loading commander or any
 * command, so the commonest call starts as fast as node itself; main.ts renders the same from the
 * live program when the saved tree is missing.
 */
import { renderTreeNode, type CommandNode } from './tree.js';

/** First steps, printed under the command tree. */
export const GETTING_STARTED = `Examples:
  # A developer: trust the CA once, then log in for a certificate
  $ ca bootstrap --ca-url https://ca.example.com --fingerprint 2da8705e...
  $ ca certificate alice@example.com alice.crt alice.key

  # An admin: create a CA, let Google accounts in, run it
  $ ca init
  $ ca provisioner add Google --client-id ID --client-secret SECRET \\
      --configuration-endpoint https://accounts.google.com/.well-known/openid-configuration
  $ ca serve --password-file ./pw.txt`;

/** The file beside the compiled CLI that holds the command tree as data. */
export const TREE_FILE = 'tree.json';

export function overview(tree: CommandNode, width: number | undefined): string {
  return renderTreeNode(tree, { width, footer: GETTING_STARTED });
}
