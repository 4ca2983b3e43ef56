/**
 * What the tabs of one origin tell each other, and how they take turns.
 *
 * Messages name the user by id only: the fallback transport writes them to localStorage for
 * a moment, and a profile (name, email) has no business there.
 */

import type { SsoStorage } from "./storage.js";

/** What one tab tells the others. */
export type CrossTabMessage =
  | { readonly type: "signed_in"; readonly userId: string }
  | { readonly type: "signed_out" };

/** A channel to the other tabs of the origin. Messages never reach their own sender. */
export interface CrossTabChannel {
  post(message: CrossTabMessage): void;
  /** Calls `handler` for each message from another tab; returns a function that stops. */
  listen(handler: (message: CrossTabMessage) => void): () => void;
  close(): void;
}

/** Runs a task while no other tab of the origin runs one under the same name. */
export interface CrossTabLock {
  /**
   * Runs `task` once the lock is held, and releases it when the task settles.
   * Rejects with `LockTimeoutError` (before running the task) when the lock could not be
   * had within `timeoutMs`.
   */
  run<T>(name: string, timeoutMs: number, task: () => Promise<T>): Promise<T>;
}

/** The lock was not granted in time. */
export class LockTimeoutError extends Error {
  constructor(name: string) {
    super(`lock ${name} not granted in time`);
    this.name = "LockTimeoutError";
  }
}

function parseMessage(value: unknown): CrossTabMessage | null {
  if (typeof value !== "object" || value === null) return null;
  const record = value as Record<string, unknown>;
  if (record.type === "signed_out") return { type: "signed_out" };
  if (record.type === "signed_in" && typeof record.userId === "string" && record.userId) {
    return { type: "signed_in", userId: record.userId };
  }
  return null;
}

/** BroadcastChannel: every modern browser, and the tabs of one origin only. */
export function broadcastChannel(name: string): CrossTabChannel | null {
  if (typeof globalThis.BroadcastChannel !== "function") return null;
  const channel = new globalThis.BroadcastChannel(name);
  return {
    post: (message) => channel.postMessage(message),
    listen(handler) {
      const onMessage = (event: MessageEvent) => {
        const message = parseMessage(event.data);
        if (message) handler(message);
      };
      channel.addEventListener("message", onMessage);
      return () => channel.removeEventListener("message", onMessage);
    },
    close: () => channel.close(),
  };
}

/**
 * Where BroadcastChannel is missing: a localStorage write fires a `storage` event in every
 * other tab of the origin. The entry is removed at once; a nonce makes two equal messages
 * in a row two changes.
 */
export function storageChannel(key: string): CrossTabChannel | null {
  const target = globalThis as unknown as Partial<Window>;
  let storage: Storage | undefined;
  try {
    storage = target.localStorage;
  } catch {
    return null; // Storage blocked by the browser's privacy settings.
  }
  if (!storage || typeof target.addEventListener !== "function") return null;
  const local = storage;
  const listeners = new Set<(event: StorageEvent) => void>();
  return {
    post(message) {
      try {
        local.setItem(key, JSON.stringify({ ...message, nonce: Math.random() }));
        local.removeItem(key);
      } catch {
        // Full or refused: the other tabs learn at their next refresh instead.
      }
    },
    listen(handler) {
      const onStorage = (event: StorageEvent) => {
        if (event.key !== key || !event.newValue) return;
        try {
          const message = parseMessage(JSON.parse(event.newValue));
          if (message) handler(message);
        } catch {
          // Not ours, or not JSON: ignore.
        }
      };
      listeners.add(onStorage);
      target.addEventListener?.("storage", onStorage);
      return () => {
        listeners.delete(onStorage);
        target.removeEventListener?.("storage", onStorage);
      };
    },
    close() {
      for (const listener of listeners) target.removeEventListener?.("storage", listener);
      listeners.clear();
    },
  };
}

/** Web Locks, with the acquisition bounded by `timeoutMs`. */
export function webLock(locks: LockManager): CrossTabLock {
  return {
    run<T>(name: string, timeoutMs: number, task: () => Promise<T>): Promise<T> {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      const granted = locks.request(name, { signal: controller.signal }, () => {
        clearTimeout(timer);
        return task();
      }) as Promise<T>;
      return granted.catch((error: unknown) => {
        clearTimeout(timer);
        if (controller.signal.aborted && error instanceof Error && error.name === "AbortError") {
          throw new LockTimeoutError(name);
        }
        throw error;
      });
    },
  };
}

/**
 * Where Web Locks are missing: a lease in shared storage. A tab writes its claim, waits a
 * moment and reads it back; if no other tab overwrote it, the lock is its own. A lease ends
 * after `leaseMs` even if its tab died holding it, so a closed tab never blocks the others.
 * This narrows the race between tabs to the settle time; it is not a perfect mutex, which
 * storage cannot give.
 */
export function storageLock(
  storage: SsoStorage,
  options: { leaseMs: number; now?: () => number; settleMs?: number; pollMs?: number },
): CrossTabLock {
  const now = options.now ?? (() => Date.now());
  const settleMs = options.settleMs ?? 30;
  const pollMs = options.pollMs ?? 50;
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const read = (key: string): { owner: string; until: number } | null => {
    try {
      const parsed = JSON.parse(storage.getItem(key) ?? "null") as unknown;
      if (typeof parsed !== "object" || parsed === null) return null;
      const record = parsed as Record<string, unknown>;
      return typeof record.owner === "string" && typeof record.until === "number"
        ? { owner: record.owner, until: record.until }
        : null;
    } catch {
      return null;
    }
  };
  return {
    async run<T>(name: string, timeoutMs: number, task: () => Promise<T>): Promise<T> {
      const key = `${name}:lease`;
      const owner = `${now()}-${Math.random()}`;
      const deadline = now() + timeoutMs;
      for (;;) {
        const held = read(key);
        if (!held || held.until <= now()) {
          storage.setItem(key, JSON.stringify({ owner, until: now() + options.leaseMs }));
          await sleep(settleMs);
          if (read(key)?.owner === owner) break;
        }
        if (now() >= deadline) throw new LockTimeoutError(name);
        await sleep(pollMs);
      }
      try {
        return await task();
      } finally {
        if (read(key)?.owner === owner) storage.removeItem(key);
      }
    },
  };
}
