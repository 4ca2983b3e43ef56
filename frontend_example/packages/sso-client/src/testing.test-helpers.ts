/** A fake browser and API for the client's tests: tabs, a shared cookie, a bus, a lock. */

import { vi } from "vitest";

import { SsoClient, type SsoClientOptions, type SsoUser } from "./client.js";
import type { CrossTabChannel, CrossTabLock, CrossTabMessage } from "./cross-tab.js";

export const API = "http://127.0.0.1:8000/api/sso/";
export const SPA = "http://127.0.0.1:5173/";
export const TRANSACTIONS_KEY = "sso-client:transactions";

export const ADA: SsoUser = {
  id: "7",
  username: "ada",
  email: "ada@example.com",
  first_name: "Ada",
  last_name: "Lovelace",
  tenant_id: "tenant-1",
  object_id: "object-ada",
  roles: ["Admin"],
  groups: ["Admin", "Engineering"],
};

export const GRACE: SsoUser = {
  ...ADA,
  id: "8",
  username: "grace",
  email: "grace@example.com",
  first_name: "Grace",
  last_name: "Hopper",
  object_id: "object-grace",
  roles: [],
  groups: [],
};

export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}
export type Handler = (
  body: Record<string, unknown>,
  init: RequestInit,
) => Reply | Promise<Reply> | Promise<never>;

export interface Call {
  path: string;
  init: RequestInit;
  body: Record<string, unknown>;
  headers: Headers;
}

export function mapStorage(map: Map<string, string>) {
  return {
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => void map.set(key, value),
    removeItem: (key: string) => void map.delete(key),
  };
}

/** BroadcastChannel between the tabs of one fake origin: asynchronous, never to oneself. */
export function memoryBus() {
  const members = new Set<{ deliver: (message: CrossTabMessage) => void }>();
  const sent: CrossTabMessage[] = [];
  return {
    sent,
    channel(): CrossTabChannel {
      let handler: ((message: CrossTabMessage) => void) | undefined;
      const me = { deliver: (message: CrossTabMessage) => handler?.(message) };
      members.add(me);
      return {
        post(message) {
          sent.push(message);
          for (const other of members) {
            if (other !== me) queueMicrotask(() => other.deliver(message));
          }
        },
        listen(next) {
          handler = next;
          return () => {
            handler = undefined;
          };
        },
        close: () => void members.delete(me),
      };
    },
  };
}

/** One lock for every tab of the fake origin: tasks run one after the other. */
export function memoryLock(): CrossTabLock & { held: () => boolean } {
  let tail: Promise<unknown> = Promise.resolve();
  let holders = 0;
  return {
    held: () => holders > 0,
    run<T>(_name: string, _timeoutMs: number, task: () => Promise<T>): Promise<T> {
      const result = tail.then(async () => {
        holders += 1;
        try {
          return await task();
        } finally {
          holders -= 1;
        }
      });
      tail = result.catch(() => undefined);
      return result;
    },
  };
}

/** What the tabs of one browser share: the origin's localStorage, the bus, the lock. */
export function browser() {
  return {
    localStorage: new Map<string, string>(),
    bus: memoryBus(),
    lock: memoryLock(),
    clock: { now: 1_000_000 },
  };
}

export type Browser = ReturnType<typeof browser>;

/** One tab: a client with its own sessionStorage, address bar and fake API. */
export function tab(
  shared: Browser = browser(),
  options: {
    href?: string;
    cookieMode?: boolean;
    margin?: number;
    timeoutMs?: number;
    /** Leave out the bus and the lock: the client picks its own, as in a browser. */
    defaultCrossTab?: boolean;
    extra?: Partial<SsoClientOptions>;
  } = {},
) {
  const events: string[] = [];
  const calls: Call[] = [];
  const routes = new Map<string, Handler[]>();

  const fetchImpl = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const path = url.startsWith(API) ? url.slice(API.length) : url;
    const body =
      typeof init.body === "string" ? (JSON.parse(init.body) as Record<string, unknown>) : {};
    calls.push({ path, init, body, headers: new Headers(init.headers) });
    events.push(`fetch ${path}`);
    const queue = routes.get(path);
    const handler = queue && queue.length > 1 ? queue.shift() : queue?.[0];
    if (!handler) throw new Error(`unexpected request to ${path}`);
    const reply = await handler(body, init);
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), {
      status: reply.status ?? 200,
      headers: { "Content-Type": "application/json", ...reply.headers },
    });
  });

  const store = new Map<string, string>();
  const location = {
    href: options.href ?? SPA,
    assign: vi.fn((url: string) => void events.push(`assign ${url}`)),
  };
  const history = {
    state: { from: "router" } as unknown,
    replaceState: vi.fn((_state: unknown, _unused: string, url?: string | URL | null) => {
      events.push("replaceState");
      if (url) location.href = new URL(url, location.href).href;
    }),
  };

  const client = new SsoClient({
    apiBase: API,
    fetch: fetchImpl as unknown as typeof fetch,
    storage: mapStorage(store),
    sessionHintStorage: mapStorage(shared.localStorage),
    ...(options.defaultCrossTab ? {} : { crossTab: shared.bus.channel(), lock: shared.lock }),
    location,
    history,
    now: () => shared.clock.now,
    ...(options.cookieMode === undefined ? {} : { cookieMode: options.cookieMode }),
    ...(options.margin === undefined ? {} : { refreshMarginSeconds: options.margin }),
    ...(options.timeoutMs === undefined ? {} : { requestTimeoutMs: options.timeoutMs }),
    ...options.extra,
  });
  const seen: string[] = [];
  client.on("signedIn", ({ user }) => void seen.push(`signedIn ${user.username}`));
  client.on("signedOut", ({ reason }) => void seen.push(`signedOut ${reason}`));
  client.on("userChanged", ({ previous, user }) =>
    void seen.push(`userChanged ${previous.username}->${user.username}`),
  );
  client.on("error", ({ error }) => void seen.push(`error ${error.code}`));

  return {
    client,
    calls,
    events,
    /** The client's events, as "signedIn ada", "userChanged ada->grace", ... */
    seen,
    store,
    location,
    history,
    fetch: fetchImpl,
    /** Answers for `path`; several handlers are used in turn, the last one repeatedly. */
    route(path: string, ...handlers: (Handler | Reply)[]) {
      routes.set(
        path,
        handlers.map((handler) => (typeof handler === "function" ? handler : () => handler)),
      );
    },
    count(path: string) {
      return calls.filter((call) => call.path === path).length;
    },
    advance(seconds: number) {
      shared.clock.now += seconds * 1000;
    },
  };
}

export type Tab = ReturnType<typeof tab>;

export const tokens = (n: number, user: SsoUser | null = ADA, expiresIn = 300, withRefresh = true): Reply => ({
  body: {
    access: `access-${n}`,
    ...(withRefresh ? { refresh: `refresh-${n}` } : {}),
    token_type: "Bearer",
    expires_in: expiresIn,
    ...(user ? { user } : {}),
  },
});

/** A tab signed in through the real callback path, holding access-1 (and refresh-1). */
export async function signedInTab(
  shared: Browser = browser(),
  options: { cookieMode?: boolean; margin?: number; user?: SsoUser; extra?: Partial<SsoClientOptions>; timeoutMs?: number } = {},
) {
  const t = tab(shared, options);
  t.store.set(
    TRANSACTIONS_KEY,
    JSON.stringify({ tx: { verifier: "v".repeat(64), expiresAt: shared.clock.now + 600_000 } }),
  );
  t.location.href = `${SPA}?sso_tx=tx&sso_code=handoff-code-123456789012345`;
  t.route("token/", tokens(1, options.user ?? ADA, 300, !options.cookieMode));
  await t.client.initialize();
  await flush();
  t.calls.length = 0;
  t.events.length = 0;
  t.seen.length = 0;
  return t;
}

/** Lets queued microtasks and short timers (the bus, promise chains) run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setTimeout(resolve, 0));
}

export function bearer(call: Call | undefined): string | null {
  return call?.headers.get("Authorization") ?? null;
}
