/**
 * The change feed every Store shares (`watch`/`notify`): each topic has a counter in the database
 * (`store_changes`), bumped in the transaction that makes the change. A process learns of new
 * counts however its store can (PostgreSQL: LISTEN/NOTIFY, with a poll as the safety net; SQLite: a
 * cheap poll; memory: at once) and hands them to a ChangeFeed, which calls each topic's listeners
 * when its count has grown. Missing a change is the failure to avoid; an extra call is harmless.
 */
import type { StoreChange } from './types.js';

/** The topic a recorded revocation announces itself on (detail: the serial). */
export const REVOCATIONS_TOPIC = 'revocations';
/** The topics remote administration's changes announce themselves on (detail: a name or id). */
export const PROVISIONERS_TOPIC = 'provisioners';
export const ADMINS_TOPIC = 'admins';

export type ChangeListener = (change: StoreChange) => void;

/** Longest `detail` kept (PostgreSQL's NOTIFY payload is small, and it is only a hint). */
export const MAX_CHANGE_DETAIL = 200;

export function changeDetail(detail: string | undefined): string {
  return (detail ?? '').slice(0, MAX_CHANGE_DETAIL);
}

export function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || !/^[a-z][a-z0-9_.-]{0,62}$/.test(topic)) {
    throw new TypeError(`a change topic is lowercase letters, digits, '_', '.' or '-' (got ${JSON.stringify(topic)})`);
  }
}

interface Subscription {
  listener: ChangeListener;
  /** False until the topic's count at the start is known; what arrives meanwhile waits in `pending`. */
  armed: boolean;
  /** The last count this subscription was told of (or knew at the start); undefined: unknown, so the next one is news. */
  seen?: number;
  pending?: StoreChange;
}

/**
 * The watchers of one process and what each has been told. A watch starts unarmed: the store
 * begins listening, reads where the topic stands, then arms it with that count; a change seen in
 * between is held and delivered at arming if it is newer. So nothing committed after the watch
 * began is missed, and nothing before it is reported.
 */
export class ChangeFeed {
  private readonly subscriptions = new Map<string, Set<Subscription>>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => undefined) {}

  /** The topics someone watches. */
  topics(): string[] {
    return [...this.subscriptions.keys()];
  }

  /**
   * Start a watch of `topic`. Call `arm` with the topic's count once known (undefined when it
   * could not be read: then the first count seen is news); `stop` ends the watch.
   */
  add(topic: string, listener: ChangeListener): { arm: (version: number | undefined) => void; stop: () => void } {
    let set = this.subscriptions.get(topic);
    if (!set) this.subscriptions.set(topic, (set = new Set()));
    const sub: Subscription = { listener, armed: false };
    set.add(sub);
    return {
      arm: (version) => {
        if (sub.armed) return;
        sub.armed = true;
        sub.seen = version;
        const held = sub.pending;
        sub.pending = undefined;
        if (held) this.deliver(sub, held);
      },
      stop: () => {
        set.delete(sub);
        if (set.size === 0 && this.subscriptions.get(topic) === set) this.subscriptions.delete(topic);
      },
    };
  }

  /** A topic was seen at `change.version`; each watcher hears of it when that is newer than what it knew. */
  observe(change: StoreChange): void {
    const set = this.subscriptions.get(change.topic);
    if (!set) return;
    for (const sub of [...set]) {
      if (!sub.armed) {
        if (!sub.pending || change.version > sub.pending.version) sub.pending = change;
        continue;
      }
      this.deliver(sub, change);
    }
  }

  private deliver(sub: Subscription, change: StoreChange): void {
    if (sub.seen !== undefined && change.version <= sub.seen) return;
    sub.seen = change.version;
    try {
      sub.listener(change);
    } catch (err) {
      this.onListenerError(err);
    }
  }
}
