import { describe, expect, it, vi } from "vitest";

import {
  SsoClient,
  SsoError,
  codeChallengeS256,
  createCodeVerifier,
  describeError,
  type SsoClientOptions,
  type SsoSession,
  type SsoUser,
} from "./sso-client";

const API = "http://127.0.0.1:8000/api/sso/";
const SPA = "http://127.0.0.1:5173/";
const VERIFIER_KEY = "sso-client:pkce-verifier";

const USER: SsoUser = {
  id: "7",
  username: "ada",
  email: "ada@example.com",
  first_name: "Ada",
  last_name: "Lovelace",
  tenant_id: "tenant-1",
  object_id: "object-1",
  roles: ["Admin"],
  groups: ["Admin", "Engineering"],
};

interface Reply {
  status?: number;
  body?: unknown;
}
type Handler = (body: Record<string, unknown>, init: RequestInit) => Reply | Promise<Reply>;

interface Call {
  path: string;
  init: RequestInit;
  body: Record<string, unknown>;
  headers: Headers;
}

/** A fake browser and API: routes by path, records every call and event in order. */
function harness(
  options: {
    href?: string;
    cookieMode?: boolean;
    margin?: number;
    /** The origin's localStorage for session hints; `null`: none available. */
    hints?: Map<string, string> | null;
  } = {},
) {
  const events: string[] = [];
  const calls: Call[] = [];
  const routes = new Map<string, Handler[]>();
  let clock = 1_000_000;

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
      headers: { "Content-Type": "application/json" },
    });
  });

  const store = new Map<string, string>();
  const storage = {
    getItem: (key: string) => store.get(key) ?? null,
    setItem: (key: string, value: string) => void store.set(key, value),
    removeItem: (key: string) => void store.delete(key),
  };
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

  const clientOptions: SsoClientOptions = {
    apiBase: API,
    fetch: fetchImpl as unknown as typeof fetch,
    storage,
    location,
    history,
    now: () => clock,
  };
  if (options.cookieMode !== undefined) clientOptions.cookieMode = options.cookieMode;
  if (options.margin !== undefined) clientOptions.refreshMarginSeconds = options.margin;
  if (options.hints !== undefined) {
    clientOptions.sessionHintStorage = options.hints && mapStorage(options.hints);
  }
  const client = new SsoClient(clientOptions);

  return {
    client,
    calls,
    events,
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
    advance(seconds: number) {
      clock += seconds * 1000;
    },
    count(path: string) {
      return calls.filter((call) => call.path === path).length;
    },
  };
}

const tokens = (n: number, expiresIn = 300, withRefresh = true): Reply => ({
  body: {
    access: `access-${n}`,
    ...(withRefresh ? { refresh: `refresh-${n}` } : {}),
    token_type: "Bearer",
    expires_in: expiresIn,
  },
});

/** Storage backed by `map`, as localStorage would be for one origin. */
function mapStorage(map: Map<string, string>) {
  return {
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => void map.set(key, value),
    removeItem: (key: string) => void map.delete(key),
  };
}

/** A client signed in through the real completeSignIn path, holding access-1/refresh-1. */
async function signedIn(
  options: { cookieMode?: boolean; margin?: number; expiresIn?: number; hints?: Map<string, string> } = {},
) {
  const h = harness({ ...options, href: `${SPA}?sso_code=handoff-code-123456789012345` });
  h.store.set(VERIFIER_KEY, "v".repeat(64));
  const answer = tokens(1, options.expiresIn ?? 300, !options.cookieMode);
  h.route("token/", () => ({ body: { ...(answer.body as object), user: USER } }));
  await h.client.completeSignIn();
  h.calls.length = 0;
  h.events.length = 0;
  return h;
}

function bearer(call: Call | undefined): string | null {
  return call?.headers.get("Authorization") ?? null;
}

describe("PKCE", () => {
  it("makes RFC 7636 verifiers", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i += 1) {
      const verifier = createCodeVerifier();
      expect(verifier).toMatch(/^[A-Za-z0-9\-._~]{43,128}$/);
      seen.add(verifier);
    }
    expect(seen.size).toBe(50);
  });

  it("computes the S256 challenge (RFC 7636 appendix B)", async () => {
    expect(await codeChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });
});

describe("signIn", () => {
  it("posts next and the S256 challenge of the stored verifier, then navigates", async () => {
    const h = harness({ href: `${SPA}dashboard?tab=2#top` });
    h.route("start/", () => ({
      body: { authorization_url: "https://login.example/authorize?x=1", state: "s", expires_in: 600 },
    }));

    await h.client.signIn({ prompt: "select_account", loginHint: "ada@example.com" });

    const verifier = h.store.get(VERIFIER_KEY);
    expect(verifier).toMatch(/^[A-Za-z0-9\-._~]{43,128}$/);
    const call = h.calls[0];
    expect(call?.init.method).toBe("POST");
    expect(call?.headers.get("Content-Type")).toBe("application/json");
    expect(call?.body).toEqual({
      next: `${SPA}dashboard?tab=2#top`,
      code_challenge: await codeChallengeS256(verifier ?? ""),
      code_challenge_method: "S256",
      prompt: "select_account",
      login_hint: "ada@example.com",
    });
    expect(call?.init.credentials).not.toBe("include");
    expect(call?.headers.has("X-SSO-CSRF")).toBe(false);
    expect(h.location.assign).toHaveBeenCalledWith("https://login.example/authorize?x=1");
  });

  it("uses returnTo, and strips stale callback parameters from the default", async () => {
    const h = harness({ href: `${SPA}?a=1&sso_error=access_denied&sso_error_description=x` });
    h.route("start/", () => ({ body: { authorization_url: "https://login.example/a" } }));
    await h.client.signIn();
    expect(h.calls[0]?.body.next).toBe(`${SPA}?a=1`);
    await h.client.signIn({ returnTo: `${SPA}elsewhere` });
    expect(h.calls[1]?.body.next).toBe(`${SPA}elsewhere`);
  });

  it("turns an API refusal into an SsoError and forgets the verifier", async () => {
    const h = harness();
    h.route("start/", () => ({
      status: 400,
      body: { detail: "The 'next' URL is not allowed.", code: "invalid_next_url" },
    }));
    const error = await h.client.signIn().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SsoError);
    expect((error as SsoError).code).toBe("invalid_next_url");
    expect((error as SsoError).status).toBe(400);
    expect((error as SsoError).userMessage).toBe(describeError("invalid_next_url"));
    expect(h.store.has(VERIFIER_KEY)).toBe(false);
    expect(h.location.assign).not.toHaveBeenCalled();
  });

  it("reports an unreachable API as network_error", async () => {
    const h = harness();
    h.fetch.mockRejectedValueOnce(new TypeError("Failed to fetch"));
    await expect(h.client.signIn()).rejects.toMatchObject({ code: "network_error" });
  });
});

describe("completeSignIn", () => {
  it("returns null and touches nothing when the URL has no callback parameters", async () => {
    const h = harness({ href: `${SPA}?a=1#x` });
    expect(await h.client.completeSignIn()).toBeNull();
    expect(h.history.replaceState).not.toHaveBeenCalled();
    expect(h.fetch).not.toHaveBeenCalled();
  });

  it("cleans the address bar before redeeming, keeping other params, hash and state", async () => {
    const h = harness({ href: `${SPA}app/?a=1&sso_code=handoff-code-123456789012345&b=x%20y#section` });
    h.store.set(VERIFIER_KEY, "v".repeat(64));
    const listener = vi.fn();
    h.client.subscribe(listener);
    h.route("token/", () => ({ body: { ...(tokens(1).body as object), user: USER } }));

    const user = await h.client.completeSignIn();

    expect(h.events.slice(0, 2)).toEqual(["replaceState", "fetch token/"]);
    expect(h.history.replaceState).toHaveBeenCalledWith(
      { from: "router" },
      "",
      "/app/?a=1&b=x%20y#section",
    );
    expect(h.calls[0]?.body).toEqual({
      sso_code: "handoff-code-123456789012345",
      code_verifier: "v".repeat(64),
    });
    expect(h.store.size).toBe(0); // tokens never reach storage
    expect(user).toEqual(USER);
    expect(h.client.user).toEqual(USER);
    expect(listener).toHaveBeenCalledWith(USER);
  });

  it("turns sso_error into an SsoError with the plain-English sentence", async () => {
    const h = harness({
      href: `${SPA}?sso_error=tenant_not_allowed&sso_error_description=Accounts%20from%20this%20organization#h`,
    });
    h.store.set(VERIFIER_KEY, "v".repeat(64));
    const error = await h.client.completeSignIn().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SsoError);
    expect((error as SsoError).code).toBe("tenant_not_allowed");
    expect((error as SsoError).userMessage).toBe(
      "Accounts from your organization are not allowed to sign in here.",
    );
    expect((error as SsoError).detail).toBe("Accounts from this organization");
    expect(h.history.replaceState).toHaveBeenCalledWith({ from: "router" }, "", "/#h");
    expect(h.store.has(VERIFIER_KEY)).toBe(false);
    expect(h.fetch).not.toHaveBeenCalled();
  });

  it("does not echo a malformed error code from the URL", async () => {
    const h = harness({ href: `${SPA}?sso_error=%3Cscript%3E` });
    await expect(h.client.completeSignIn()).rejects.toMatchObject({ code: "unknown_error" });
  });

  it("burns a code this tab did not ask for (no verifier) at the API", async () => {
    const h = harness({ href: `${SPA}?sso_code=handoff-code-123456789012345` });
    h.route("token/", () => ({
      status: 400,
      body: { detail: "The code_verifier does not match.", code: "invalid_code_verifier" },
    }));
    await expect(h.client.completeSignIn()).rejects.toMatchObject({
      code: "invalid_code_verifier",
    });
    expect(h.history.replaceState).toHaveBeenCalled();
    expect(h.fetch).toHaveBeenCalledTimes(1);
    const body = JSON.parse(String(h.fetch.mock.calls[0]?.[1]?.body));
    expect(body).toEqual({ sso_code: "handoff-code-123456789012345" });
  });

  it("reports the API's refusal of the code", async () => {
    const h = harness({ href: `${SPA}?sso_code=handoff-code-123456789012345` });
    h.store.set(VERIFIER_KEY, "v".repeat(64));
    h.route("token/", () => ({
      status: 400,
      body: { detail: "The sign-in code is unknown.", code: "invalid_sso_code" },
    }));
    await expect(h.client.completeSignIn()).rejects.toMatchObject({
      code: "invalid_sso_code",
      userMessage: describeError("invalid_sso_code"),
    });
    expect(h.client.user).toBeNull();
  });
});

describe("tokens", () => {
  it("keeps using the access token while it is fresh", async () => {
    const h = await signedIn();
    expect(await h.client.getAccessToken()).toBe("access-1");
    h.advance(200);
    expect(await h.client.getAccessToken()).toBe("access-1");
    expect(h.calls).toEqual([]);
  });

  it("refreshes proactively within the margin, rotating the refresh token", async () => {
    const h = await signedIn({ margin: 30 });
    h.route("token/refresh/", tokens(2), tokens(3));
    h.advance(271); // 29 s left
    expect(await h.client.getAccessToken()).toBe("access-2");
    expect(h.calls[0]?.body).toEqual({ refresh: "refresh-1" });
    expect(h.calls[0]?.init.credentials).toBe("omit");
    h.advance(271);
    expect(await h.client.getAccessToken()).toBe("access-3");
    expect(h.calls[1]?.body).toEqual({ refresh: "refresh-2" });
  });

  it("shares one refresh between concurrent callers", async () => {
    const h = await signedIn();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    h.route("token/refresh/", async () => {
      await gate;
      return tokens(2);
    });
    h.advance(290);
    const pending = Promise.all([
      h.client.getAccessToken(),
      h.client.getAccessToken(),
      h.client.getAccessToken(),
    ]);
    release();
    expect(await pending).toEqual(["access-2", "access-2", "access-2"]);
    expect(h.count("token/refresh/")).toBe(1);
  });

  it("drops the session when the refresh token was reused", async () => {
    const h = await signedIn();
    const listener = vi.fn();
    h.client.subscribe(listener);
    h.route("token/refresh/", () => ({
      status: 401,
      body: { detail: "reused", code: "refresh_token_reused" },
    }));
    h.advance(400);
    await expect(h.client.getAccessToken()).rejects.toMatchObject({
      code: "refresh_token_reused",
    });
    expect(h.client.user).toBeNull();
    expect(listener).toHaveBeenCalledWith(null);
    expect(await h.client.getAccessToken()).toBeNull();
  });

  it("keeps a still-valid token when a proactive refresh hits an outage", async () => {
    const h = await signedIn();
    h.route("token/refresh/", () => ({
      status: 503,
      body: { detail: "down", code: "cache_unavailable" },
    }));
    h.advance(290);
    expect(await h.client.getAccessToken()).toBe("access-1");
    expect(h.client.user).toEqual(USER);
  });

  it("never refreshes on every call when the token lives less than the margin", async () => {
    const h = await signedIn({ margin: 30, expiresIn: 20 });
    h.route("token/refresh/", tokens(2, 20));
    h.advance(5);
    expect(await h.client.getAccessToken()).toBe("access-1");
    h.advance(6);
    expect(await h.client.getAccessToken()).toBe("access-2");
    expect(h.count("token/refresh/")).toBe(1);
  });
});

describe("authorizedFetch", () => {
  it("adds the bearer token and keeps the caller's headers", async () => {
    const h = await signedIn();
    h.route("http://127.0.0.1:8000/api/things/", () => ({ body: [] }));
    const response = await h.client.authorizedFetch("http://127.0.0.1:8000/api/things/", {
      headers: { "X-Trace": "1" },
    });
    expect(response.status).toBe(200);
    expect(bearer(h.calls[0])).toBe("Bearer access-1");
    expect(h.calls[0]?.headers.get("X-Trace")).toBe("1");
  });

  it("refreshes once on a 401 and retries once", async () => {
    const h = await signedIn();
    h.route("me/", () => ({ status: 401, body: { code: "token_not_valid" } }), () => ({ body: USER }));
    h.route("token/refresh/", tokens(2));
    const response = await h.client.authorizedFetch(`${API}me/`);
    expect(response.status).toBe(200);
    expect(h.calls.map((call) => call.path)).toEqual(["me/", "token/refresh/", "me/"]);
    expect(bearer(h.calls[0])).toBe("Bearer access-1");
    expect(bearer(h.calls[2])).toBe("Bearer access-2");
  });

  it("does not retry a second 401", async () => {
    const h = await signedIn();
    h.route("me/", () => ({ status: 401, body: { code: "token_not_valid" } }));
    h.route("token/refresh/", tokens(2), tokens(3));
    const response = await h.client.authorizedFetch(`${API}me/`);
    expect(response.status).toBe(401);
    expect(h.count("me/")).toBe(2);
    expect(h.count("token/refresh/")).toBe(1);
  });

  it("throws the refresh failure instead of retrying", async () => {
    const h = await signedIn();
    h.route("me/", () => ({ status: 401, body: { code: "token_not_valid" } }));
    h.route("token/refresh/", () => ({ status: 401, body: { code: "session_revoked" } }));
    await expect(h.client.authorizedFetch(`${API}me/`)).rejects.toMatchObject({
      code: "session_revoked",
    });
    expect(h.count("me/")).toBe(1);
    expect(h.client.user).toBeNull();
  });

  it("parallel 401s rotate the refresh token only once", async () => {
    const h = await signedIn();
    h.route("things/", (_body, init) =>
      new Headers(init.headers).get("Authorization") === "Bearer access-1"
        ? { status: 401, body: { code: "token_not_valid" } }
        : { body: { ok: true } },
    );
    h.route("token/refresh/", tokens(2));
    const [a, b] = await Promise.all([
      h.client.authorizedFetch(`${API}things/`),
      h.client.authorizedFetch(`${API}things/`),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(h.count("token/refresh/")).toBe(1);
  });

  it("refuses when nobody is signed in", async () => {
    const h = harness();
    await expect(h.client.authorizedFetch(`${API}me/`)).rejects.toMatchObject({
      code: "not_authenticated",
    });
  });
});

describe("cookie mode", () => {
  it("redeems with credentials and the CSRF header, and keeps no refresh token", async () => {
    const h = harness({ cookieMode: true, href: `${SPA}?sso_code=handoff-code-123456789012345` });
    h.store.set(VERIFIER_KEY, "v".repeat(64));
    h.route("token/", () => ({ body: { ...(tokens(1, 300, false).body as object), user: USER } }));
    await h.client.completeSignIn();
    expect(h.calls[0]?.init.credentials).toBe("include");
    expect(h.calls[0]?.headers.get("X-SSO-CSRF")).toBe("1");
  });

  it("refreshes with an empty body, credentials and the CSRF header", async () => {
    const h = await signedIn({ cookieMode: true });
    h.route("token/refresh/", tokens(2, 300, false));
    h.advance(290);
    expect(await h.client.getAccessToken()).toBe("access-2");
    const call = h.calls[0];
    expect(call?.body).toEqual({});
    expect(call?.init.credentials).toBe("include");
    expect(call?.headers.get("X-SSO-CSRF")).toBe("1");
  });

  it("takes turns with other tabs through a Web Lock when refreshing", async () => {
    const held: string[] = [];
    const request = vi.fn(async (name: string, task: () => Promise<unknown>) => {
      held.push(name);
      return task();
    });
    vi.stubGlobal("navigator", { locks: { request } });
    try {
      const h = await signedIn({ cookieMode: true });
      h.route("token/refresh/", tokens(2, 300, false));
      h.advance(290);
      expect(await h.client.getAccessToken()).toBe("access-2");
      expect(held).toEqual(["sso-client:refresh"]);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("restores a session from the cookie on page load", async () => {
    const h = harness({ cookieMode: true });
    h.route("token/refresh/", tokens(1, 300, false));
    h.route("me/", () => ({ body: USER }));
    expect(await h.client.restoreSession()).toEqual(USER);
    expect(h.calls.map((call) => call.path)).toEqual(["token/refresh/", "me/"]);
    expect(h.calls[0]?.body).toEqual({});
    expect(bearer(h.calls[1])).toBe("Bearer access-1");
    expect(h.calls[1]?.init.credentials).toBe("include");
    expect(h.client.user).toEqual(USER);
  });

  it("restoreSession answers null without a session cookie", async () => {
    const h = harness({ cookieMode: true });
    h.route("token/refresh/", () => ({
      status: 401,
      body: { detail: "no cookie", code: "invalid_refresh_token" },
    }));
    expect(await h.client.restoreSession()).toBeNull();
  });

  it("restoreSession reports an outage", async () => {
    const h = harness({ cookieMode: true });
    h.route("token/refresh/", () => ({ status: 503, body: { code: "cache_unavailable" } }));
    await expect(h.client.restoreSession()).rejects.toMatchObject({ code: "cache_unavailable" });
  });

  it("restoreSession does nothing in body mode", async () => {
    const h = harness();
    expect(await h.client.restoreSession()).toBeNull();
    expect(h.fetch).not.toHaveBeenCalled();
  });

  it("signs out with an empty body, credentials and the CSRF header", async () => {
    const h = await signedIn({ cookieMode: true });
    h.route("logout/", () => ({ body: { logout_url: null } }));
    await h.client.signOut();
    expect(h.calls[0]?.body).toEqual({});
    expect(h.calls[0]?.init.credentials).toBe("include");
    expect(h.calls[0]?.headers.get("X-SSO-CSRF")).toBe("1");
    expect(h.location.assign).not.toHaveBeenCalled();
  });
});

describe("cookie session hint", () => {
  const HINT_KEY = "sso-client:cookie-session";

  it("makes no request on a page load when nobody signed in here", async () => {
    const h = harness({ cookieMode: true, hints: new Map() });
    expect(await h.client.restoreSession()).toBeNull();
    expect(h.fetch).not.toHaveBeenCalled();
  });

  it("is noted at sign-in, without any token, and resumes the session in a new page", async () => {
    const hints = new Map<string, string>();
    await signedIn({ cookieMode: true, hints });
    expect([...hints]).toEqual([[HINT_KEY, "1"]]);

    const reloaded = harness({ cookieMode: true, hints });
    reloaded.route("token/refresh/", tokens(2, 300, false));
    reloaded.route("me/", () => ({ body: USER }));
    expect(await reloaded.client.restoreSession()).toEqual(USER);
    expect(reloaded.calls.map((call) => call.path)).toEqual(["token/refresh/", "me/"]);
  });

  it("is removed at sign-out", async () => {
    const hints = new Map<string, string>();
    const h = await signedIn({ cookieMode: true, hints });
    h.route("logout/", () => ({ body: { logout_url: null } }));
    await h.client.signOut();
    expect(hints.size).toBe(0);
  });

  it("is removed when the API says the cookie's session is gone", async () => {
    const hints = new Map([[HINT_KEY, "1"]]);
    const h = harness({ cookieMode: true, hints });
    h.route("token/refresh/", () => ({ status: 401, body: { code: "session_expired" } }));
    expect(await h.client.restoreSession()).toBeNull();
    expect(hints.size).toBe(0);
    expect(await h.client.restoreSession()).toBeNull();
    expect(h.count("token/refresh/")).toBe(1);
  });

  it("stays through an outage, so the next page load tries again", async () => {
    const hints = new Map([[HINT_KEY, "1"]]);
    const h = harness({ cookieMode: true, hints });
    h.route("token/refresh/", () => ({ status: 503, body: { code: "cache_unavailable" } }));
    await expect(h.client.restoreSession()).rejects.toMatchObject({ code: "cache_unavailable" });
    expect(hints.get(HINT_KEY)).toBe("1");
  });

  it("asks the API when no storage is available", async () => {
    const h = harness({ cookieMode: true, hints: null });
    h.route("token/refresh/", () => ({ status: 401, body: { code: "invalid_refresh_token" } }));
    expect(await h.client.restoreSession()).toBeNull();
    expect(h.count("token/refresh/")).toBe(1);
  });

  it("is never written in body mode", async () => {
    const hints = new Map<string, string>();
    await signedIn({ hints });
    expect(hints.size).toBe(0);
  });
});

describe("signOut", () => {
  it("revokes the refresh token, forgets the user and follows logout_url", async () => {
    const h = await signedIn();
    const listener = vi.fn();
    h.client.subscribe(listener);
    const logoutUrl = "https://login.example/oauth2/v2.0/logout?post_logout_redirect_uri=x";
    h.route("logout/", () => ({ body: { logout_url: logoutUrl } }));
    await h.client.signOut();
    expect(h.calls[0]?.body).toEqual({ refresh: "refresh-1" });
    expect(h.calls[0]?.init.credentials).toBe("omit");
    expect(h.client.user).toBeNull();
    expect(listener).toHaveBeenCalledWith(null);
    expect(await h.client.getAccessToken()).toBeNull();
    expect(h.location.assign).toHaveBeenCalledWith(logoutUrl);
  });

  it("stays on the page when the API returns no logout_url", async () => {
    const h = await signedIn();
    h.route("logout/", () => ({ body: { logout_url: null } }));
    await h.client.signOut();
    expect(h.location.assign).not.toHaveBeenCalled();
  });

  it("treats an already-revoked session as signed out", async () => {
    const h = await signedIn();
    h.route("logout/", () => ({ status: 401, body: { code: "session_revoked" } }));
    await expect(h.client.signOut()).resolves.toBeUndefined();
    expect(h.client.user).toBeNull();
  });

  it("needs no request in body mode when nobody is signed in", async () => {
    const h = harness();
    await h.client.signOut();
    expect(h.fetch).not.toHaveBeenCalled();
  });

  it("unsubscribed listeners hear nothing", async () => {
    const h = await signedIn();
    const listener = vi.fn();
    const unsubscribe = h.client.subscribe(listener);
    unsubscribe();
    h.route("logout/", () => ({ body: { logout_url: null } }));
    await h.client.signOut();
    expect(listener).not.toHaveBeenCalled();
  });
});

describe("me", () => {
  it("reads the user and updates the client", async () => {
    const h = await signedIn();
    const renamed = { ...USER, first_name: "Augusta" };
    h.route("me/", () => ({ body: renamed }));
    expect(await h.client.me()).toEqual(renamed);
    expect(h.client.user).toEqual(renamed);
    expect(h.calls[0]?.init.credentials).toBeUndefined();
  });

  it("keeps the app roles and group names, and reads their absence as none", async () => {
    const h = await signedIn();
    const { roles: _roles, groups: _groups, ...older } = USER;
    h.route("me/", () => ({ body: { ...USER, roles: ["Admin", 7], groups: "Engineering" } }));
    expect(await h.client.me()).toEqual({ ...USER, roles: ["Admin"], groups: [] });
    h.route("me/", () => ({ body: older }));
    expect(await h.client.me()).toEqual({ ...USER, roles: [], groups: [] });
  });
});

const THIS_DEVICE: SsoSession = {
  id: "0b6f6b6e-1111-4c1e-9d7e-000000000001",
  started_at: "2025-03-14T09:30:00Z",
  last_refreshed_at: "2025-03-14T09:45:00Z",
  expires_at: "2025-03-28T09:30:00Z",
  user_agent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0",
  method: "browser",
  current: true,
};
const PHONE: SsoSession = {
  id: "0b6f6b6e-2222-4c1e-9d7e-000000000002",
  started_at: "2025-03-13T18:00:00Z",
  last_refreshed_at: null,
  expires_at: "2025-03-27T18:00:00Z",
  user_agent: '<img src=x onerror="alert(1)"> MyApp/2.1 (iPhone)',
  method: "exchange",
  current: false,
};

describe("listSessions", () => {
  it("reads the sessions with the access token, never from a cache", async () => {
    const h = await signedIn();
    h.route("sessions/", () => ({ body: [THIS_DEVICE, PHONE] }));
    expect(await h.client.listSessions()).toEqual([THIS_DEVICE, PHONE]);
    const call = h.calls[0];
    expect(call?.init.method).toBe("GET");
    expect(bearer(call)).toBe("Bearer access-1");
    expect(call?.init.cache).toBe("no-store");
    expect(call?.init.credentials).toBeUndefined();
  });

  it("hands the user agent back verbatim, as text for the page to escape", async () => {
    const h = await signedIn();
    h.route("sessions/", () => ({ body: [PHONE] }));
    const [phone] = await h.client.listSessions();
    expect(phone?.user_agent).toBe(PHONE.user_agent);
  });

  it("refreshes an expired access token first", async () => {
    const h = await signedIn();
    h.route("token/refresh/", tokens(2));
    h.route("sessions/", () => ({ body: [THIS_DEVICE] }));
    h.advance(400);
    await h.client.listSessions();
    expect(h.calls.map((call) => call.path)).toEqual(["token/refresh/", "sessions/"]);
    expect(bearer(h.calls[1])).toBe("Bearer access-2");
  });

  it("sends the refresh cookie's credentials in cookie mode", async () => {
    const h = await signedIn({ cookieMode: true });
    h.route("sessions/", () => ({ body: [THIS_DEVICE] }));
    await h.client.listSessions();
    expect(h.calls[0]?.init.credentials).toBe("include");
  });

  it.each([
    ["no list", { sessions: [THIS_DEVICE] }],
    ["a session without an id", [{ ...THIS_DEVICE, id: 7 }]],
    ["a method the schema does not know", [{ ...THIS_DEVICE, method: "telepathy" }]],
    ["a session without a start", [{ ...THIS_DEVICE, started_at: null }]],
  ])("rejects an answer with %s as invalid_response", async (_case, body) => {
    const h = await signedIn();
    h.route("sessions/", () => ({ body }));
    await expect(h.client.listSessions()).rejects.toMatchObject({ code: "invalid_response" });
    expect(h.client.user).toEqual(USER);
  });

  it("signs the client out when the API says the session is gone", async () => {
    const h = await signedIn();
    h.route("token/refresh/", () => ({ status: 401, body: { code: "session_revoked" } }));
    h.advance(400);
    await expect(h.client.listSessions()).rejects.toMatchObject({ code: "session_revoked" });
    expect(h.client.user).toBeNull();
    expect(h.count("sessions/")).toBe(0);
  });
});

describe("endSession", () => {
  it("deletes the session by its id and resolves on 204", async () => {
    const h = await signedIn();
    h.route(`sessions/${PHONE.id}/`, { status: 204 });
    await expect(h.client.endSession(PHONE.id)).resolves.toBeUndefined();
    expect(h.calls[0]?.init.method).toBe("DELETE");
    expect(bearer(h.calls[0])).toBe("Bearer access-1");
    expect(h.client.user).toEqual(USER);
  });

  it("keeps an id inside its path segment", async () => {
    const h = await signedIn();
    h.route("sessions/..%2F..%2Flogout%2Fall/", { status: 404, body: { code: "session_not_found" } });
    await expect(h.client.endSession("../../logout/all")).rejects.toMatchObject({
      code: "session_not_found",
    });
    expect(h.count("logout/all/")).toBe(0);
  });

  it("surfaces session_not_found for an unknown session and stays signed in", async () => {
    const h = await signedIn();
    h.route("sessions/gone/", {
      status: 404,
      body: { detail: "No such session.", code: "session_not_found" },
    });
    const error = await h.client.endSession("gone").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SsoError);
    expect(error).toMatchObject({
      code: "session_not_found",
      status: 404,
      userMessage: describeError("session_not_found"),
    });
    expect(h.client.user).toEqual(USER);
    expect(await h.client.getAccessToken()).toBe("access-1");
  });

  it("refreshes an expired access token first", async () => {
    const h = await signedIn();
    h.route("token/refresh/", tokens(2));
    h.route(`sessions/${PHONE.id}/`, { status: 204 });
    h.advance(400);
    await h.client.endSession(PHONE.id);
    expect(h.calls.map((call) => call.path)).toEqual(["token/refresh/", `sessions/${PHONE.id}/`]);
    expect(bearer(h.calls[1])).toBe("Bearer access-2");
  });
});

describe("signOutEverywhere", () => {
  it("ends every session at the API and forgets this one", async () => {
    const h = await signedIn();
    const listener = vi.fn();
    h.client.subscribe(listener);
    h.route("logout/all/", { body: { ended: 3 } });
    expect(await h.client.signOutEverywhere()).toBe(3);
    expect(h.calls[0]?.init.method).toBe("POST");
    expect(bearer(h.calls[0])).toBe("Bearer access-1");
    expect(h.client.user).toBeNull();
    expect(listener).toHaveBeenCalledWith(null);
    expect(await h.client.getAccessToken()).toBeNull();
    expect(h.location.assign).not.toHaveBeenCalled();
  });

  it("refreshes an expired access token first", async () => {
    const h = await signedIn();
    h.route("token/refresh/", tokens(2));
    h.route("logout/all/", { body: { ended: 1 } });
    h.advance(400);
    await h.client.signOutEverywhere();
    expect(h.calls.map((call) => call.path)).toEqual(["token/refresh/", "logout/all/"]);
    expect(bearer(h.calls[1])).toBe("Bearer access-2");
  });

  it("in cookie mode sends credentials, so the cleared cookie applies, and drops the hint", async () => {
    const hints = new Map<string, string>();
    const h = await signedIn({ cookieMode: true, hints });
    h.route("logout/all/", { body: { ended: 2 } });
    await h.client.signOutEverywhere();
    expect(h.calls[0]?.init.credentials).toBe("include");
    expect(hints.size).toBe(0);
    expect(h.client.user).toBeNull();
  });

  it.each([
    ["an outage", () => ({ status: 503, body: { code: "database_unavailable" } }), "database_unavailable"],
    [
      "an unreachable API",
      () => {
        throw new TypeError("Failed to fetch");
      },
      "network_error",
    ],
  ] as const)("signs out locally despite %s, and reports it", async (_case, handler, code) => {
    const h = await signedIn();
    h.route("logout/all/", handler);
    await expect(h.client.signOutEverywhere()).rejects.toMatchObject({ code });
    expect(h.client.user).toBeNull();
    expect(await h.client.getAccessToken()).toBeNull();
  });

  it("waits for a refresh in flight and signs out with the token it brought", async () => {
    const h = await signedIn();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    h.route("token/refresh/", async () => {
      await gate;
      return tokens(2);
    });
    h.route("logout/all/", { body: { ended: 1 } });
    h.advance(290);
    const refreshing = h.client.getAccessToken().catch((e: unknown) => e);
    const everywhere = h.client.signOutEverywhere();
    release();
    await everywhere;
    await refreshing;
    expect(h.count("token/refresh/")).toBe(1);
    expect(bearer(h.calls.find((call) => call.path === "logout/all/"))).toBe("Bearer access-2");
    expect(h.client.user).toBeNull();
    expect(await h.client.getAccessToken()).toBeNull();
  });

  it("refuses when nobody is signed in", async () => {
    const h = harness();
    await expect(h.client.signOutEverywhere()).rejects.toMatchObject({ code: "not_authenticated" });
    expect(h.fetch).not.toHaveBeenCalled();
  });
});

describe("describeError", () => {
  const codes = [
    "invalid_state",
    "response_mode_mismatch",
    "access_denied",
    "interaction_required",
    "provider_error",
    "provider_unavailable",
    "token_exchange_failed",
    "invalid_id_token",
    "tenant_not_allowed",
    "domain_not_allowed",
    "email_not_verified",
    "user_not_found",
    "user_inactive",
    "login_refused",
    "invalid_sso_code",
    "invalid_code_verifier",
    "invalid_refresh_token",
    "refresh_token_reused",
    "session_revoked",
    "session_expired",
    "sso_disabled",
    "sso_not_configured",
    "cache_unavailable",
    "server_error",
    "invalid_next_url",
    "code_challenge_required",
    "invalid_code_challenge",
    "invalid_request",
    "password_changed",
    "session_not_found",
    "database_unavailable",
    "throttled",
  ];
  const fallback = describeError("no_such_code");

  it.each(codes)("has its own sentence for %s", (code) => {
    const sentence = describeError(code);
    expect(sentence).not.toBe(fallback);
    expect(sentence).toMatch(/^[A-Z].*\.$/);
    expect(sentence).not.toContain(code);
  });

  it("falls back for unknown codes, including Object.prototype names", () => {
    expect(fallback).toMatch(/^[A-Z].*\.$/);
    expect(describeError("toString")).toBe(fallback);
    expect(describeError("")).toBe(fallback);
  });

  it("says what the user can do for the common cases", () => {
    expect(describeError("invalid_state")).toMatch(/start signing in again/i);
    expect(describeError("access_denied")).toMatch(/cancelled/i);
    expect(describeError("provider_unavailable")).toMatch(/try again/i);
    expect(describeError("tenant_not_allowed")).toMatch(/organization/i);
    expect(describeError("invalid_code_verifier")).toMatch(/another browser or tab/i);
  });
});
