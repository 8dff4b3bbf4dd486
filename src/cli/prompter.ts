import { CancelError, missingFlag } from '../errors.js';

/**
 * The questions a command may ask. Commands receive this interface so tests can answer with a
 * recording fake; the real one is inquirer, loaded only when a question is asked.
 */
export interface Prompter {
  /** False when stdin is not a terminal or CI=true: then every question becomes an error. */
  readonly interactive: boolean;
  /** `signal` withdraws the question, e.g. when a browser finished a login the user was asked to paste. */
  input(message: string, opts: { flag: string; default?: string; validate?: (v: string) => true | string; signal?: AbortSignal }): Promise<string>;
  password(message: string, opts: { flag: string; validate?: (v: string) => true | string }): Promise<string>;
  confirm(message: string, opts: { flag: string; default?: boolean }): Promise<boolean>;
  select<T>(message: string, choices: { name: string; value: T }[], opts: { flag: string }): Promise<T>;
}

/** inquirer raises this when the user presses Ctrl-C at a prompt. */
function isPromptExit(err: unknown): boolean {
  return err instanceof Error && (err.name === 'ExitPromptError' || err.name === 'AbortPromptError');
}

async function ask<T>(question: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
  const { default: inquirer } = await import('inquirer');
  try {
    const prompt = inquirer.createPromptModule(signal ? { signal } : {});
    // inquirer's question union is wide; we build each question ourselves and read one answer.
    const answers = (await prompt([{ ...question, name: 'value' }] as never)) as { value: T };
    return answers.value;
  } catch (err) {
    if (isPromptExit(err)) throw new CancelError();
    throw err;
  }
}

export function inquirerPrompter(interactive: boolean): Prompter {
  const refuse = (flag: string) => {
    throw missingFlag(flag);
  };
  return {
    interactive,
    input: async (message, o) =>
      interactive ? ask<string>({ type: 'input', message, default: o.default, validate: o.validate }, o.signal) : refuse(o.flag),
    password: async (message, o) =>
      interactive ? ask<string>({ type: 'password', mask: '*', message, validate: o.validate }) : refuse(o.flag),
    confirm: async (message, o) =>
      interactive ? ask<boolean>({ type: 'confirm', message, default: o.default ?? false }) : refuse(o.flag),
    select: async <T>(message: string, choices: { name: string; value: T }[], o: { flag: string }) =>
      interactive ? ask<T>({ type: 'select', message, choices }) : refuse(o.flag),
  };
}

/** A prompter that answers from a list and records the questions, for tests. */
export function scriptedPrompter(answers: unknown[], interactive = true): Prompter & { asked: string[] } {
  const asked: string[] = [];
  const next = async <T>(message: string, flag: string): Promise<T> => {
    if (!interactive) throw missingFlag(flag);
    asked.push(message);
    if (answers.length === 0) throw new Error(`unexpected prompt: ${message}`);
    return answers.shift() as T;
  };
  return {
    interactive,
    asked,
    input: (m, o) => next<string>(m, o.flag),
    password: (m, o) => next<string>(m, o.flag),
    confirm: (m, o) => next<boolean>(m, o.flag),
    select: <T>(m: string, _c: { name: string; value: T }[], o: { flag: string }) => next<T>(m, o.flag),
  };
}
