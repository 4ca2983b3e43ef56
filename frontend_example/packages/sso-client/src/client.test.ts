import { describe, expect, it, vi } from "vitest";

import { SsoClient, safeNavigation } from "./client.js";
import {
  broadcastChannel,
  storageChannel,
  storageLock,
  webLock,
  LockTimeoutError,
  type CrossTabMessage,
} from "./cross-tab.js";
import { SsoError, describeError, isSsoErrorCode } from "./errors.js";
import { codeChallengeS256, createCodeVerifier } from "./pkce.js";
// The schema itself, as text: the error codes are read from it, not from a copy.
import schema from "../../../../docs/openapi.yaml?raw";
import {
  ADA,
  API,
  GRACE,
  SPA,
  TRANSACTIONS_KEY,
  bearer,
  browser,
  flush,
  mapStorage,
  signedInTab,
  tab,
  tokens,
  type Tab,
} from "./testing.test-helpers.js";

const HINT = "sso-client:cookie-session";
const PENDING_LOGOUT = "sso-client:logout-pending";

/** Puts a stored transaction and its return address in place, as signIn and the API would. */
function comingBack(t: Tab, query: string, expiresAt = 1_000_000 + 600_000): void {
  t.store.set(TRANSACTIONS_KEY, JSON.stringify({ tx: { verifier: "v".repeat(64), expiresAt } }));
  t.location.href = `${SPA}page?keep=1&sso_tx=tx&${query}#top`;
}

describe("PKCE", () => {
  it("makes RFC 7636 verifiers and S256 challenges", async () => {
    expect(createCodeVerifier()).toMatch(/^[A-Za-z0-9\-._~]{43,128}$/);
    expect(await codeChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });
});

describe("signIn", () => {
  it("keys a transaction by an id the return address carries, and sends the challenge", async () => {
    const t = tab(undefined, { href: `${SPA}dashboard?tab=2#top` });
    t.route("start/", { body: { authorization_url: "https://login.example/a", expires_in: 600 } });

    await t.client.signIn({ prompt: "select_account" });

    const next = new URL(String(t.calls[0]?.body.next));
    const id = next.searchParams.get("sso_tx") ?? "";
    expect(next.pathname + "?tab=2").toBe("/dashboard?tab=2");
    const stored = JSON.parse(t.store.get(TRANSACTIONS_KEY) ?? "{}") as Record<
      string,
      { verifier: string; expiresAt: number }
    >;
    expect(Object.keys(stored)).toEqual([id]);
    expect(t.calls[0]?.body.code_challenge).toBe(await codeChallengeS256(stored[id]?.verifier ?? ""));
    expect(stored[id]?.expiresAt).toBe(1_000_000 + 600_000);
    expect(t.location.assign).toHaveBeenCalledWith("https://login.example/a");
  });

  it.each([
    ["http://login.example/a"],
    ["javascript:alert(1)"],
    ["data:text/html,hi"],
  ])("refuses to navigate to %s and forgets the transaction", async (url) => {
    const t = tab();
    t.route("start/", { body: { authorization_url: url } });
    await expect(t.client.signIn()).rejects.toMatchObject({ code: "unsafe_redirect" });
    expect(t.location.assign).not.toHaveBeenCalled();
    expect(t.store.has(TRANSACTIONS_KEY)).toBe(false);
  });

  it("allows plain http on loopback only (development and the demo)", () => {
    expect(safeNavigation("http://127.0.0.1:9080/authorize")).toBe("http://127.0.0.1:9080/authorize");
    expect(safeNavigation("http://localhost/x")).toBe("http://localhost/x");
    expect(() => safeNavigation("http://127.0.0.1.evil.example/")).toThrow(SsoError);
  });

  it("turns an API refusal into an SsoError that says it is not worth retrying", async () => {
    const t = tab();
    t.route("start/", { status: 400, body: { detail: "no", code: "invalid_next_url" } });
    const error = (await t.client.signIn().catch((e: unknown) => e)) as SsoError;
    expect(error.code).toBe("invalid_next_url");
    expect(error.retryable).toBe(false);
    expect(t.store.has(TRANSACTIONS_KEY)).toBe(false);
  });
});

describe("initialize: the return from Microsoft", () => {
  it("cleans the address bar before redeeming with the transaction's verifier", async () => {
    const t = tab();
    comingBack(t, "sso_code=code-1");
    t.route("token/", tokens(1));

    const state = await t.client.initialize();

    expect(t.events.slice(0, 2)).toEqual(["replaceState", "fetch token/"]);
    expect(t.location.href).toBe(`${SPA}page?keep=1#top`);
    expect(t.history.replaceState.mock.calls[0]?.[0]).toEqual({ from: "router" });
    expect(t.calls[0]?.body).toEqual({ sso_code: "code-1", code_verifier: "v".repeat(64) });
    expect(state).toMatchObject({ status: "signed_in", user: ADA });
    expect(t.store.has(TRANSACTIONS_KEY)).toBe(false);
    expect(t.seen).toEqual(["signedIn ada"]);
  });

  it("runs once however often it is called (React StrictMode)", async () => {
    const t = tab();
    comingBack(t, "sso_code=code-1");
    t.route("token/", tokens(1));
    const [first, second] = await Promise.all([t.client.initialize(), t.client.initialize()]);
    expect(first).toBe(second);
    expect(await t.client.initialize()).toBe(first);
    expect(t.count("token/")).toBe(1);
  });

  it.each([
    ["no transaction at all", () => undefined],
    ["another transaction", (t: Tab) => t.store.set(TRANSACTIONS_KEY, JSON.stringify({ other: { verifier: "x", expiresAt: 2e6 } }))],
  ])("refuses a code with %s locally, sending it nowhere", async (_name, arrange) => {
    const t = tab();
    t.location.href = `${SPA}?sso_tx=tx&sso_code=planted-code`;
    arrange(t);
    const state = await t.client.initialize();
    expect(t.fetch).not.toHaveBeenCalled();
    expect(state).toMatchObject({ status: "signed_out", error: { code: "no_sign_in_in_progress" } });
    expect(t.location.href).toBe(SPA);
  });

  it("refuses a code whose transaction expired, sending it nowhere", async () => {
    const t = tab();
    comingBack(t, "sso_code=code-1", 1_000_000 - 1);
    const state = await t.client.initialize();
    expect(t.fetch).not.toHaveBeenCalled();
    expect(state.error?.code).toBe("sign_in_expired");
  });

  it("reports sso_error by its code, keeping the untrusted description for logs only", async () => {
    const t = tab();
    comingBack(t, "sso_error=access_denied&sso_error_description=%3Cb%3EBuy+now%3C%2Fb%3E");
    const state = await t.client.initialize();
    expect(state.status).toBe("signed_out");
    expect(state.error?.code).toBe("access_denied");
    expect(state.error?.userMessage).toBe(describeError("access_denied"));
    expect(state.error?.userMessage).not.toContain("Buy");
    expect(state.error?.detail).toBe("<b>Buy now</b>");
    expect(t.store.has(TRANSACTIONS_KEY)).toBe(false);
    expect(t.location.href).toBe(`${SPA}page?keep=1#top`);
  });

  it("takes an sso_error without sso_tx (the API lost the flow) while a sign-in of this tab is in progress", async () => {
    const t = tab();
    t.store.set(TRANSACTIONS_KEY, JSON.stringify({ tx: { verifier: "v".repeat(64), expiresAt: 2e6 } }));
    t.location.href = `${SPA}?sso_error=invalid_state`;
    expect(await t.client.initialize()).toMatchObject({ status: "signed_out", error: { code: "invalid_state" } });
  });

  it("refuses an sso_error without sso_tx when no sign-in of this tab is in progress", async () => {
    const t = tab();
    t.location.href = `${SPA}?sso_error=access_denied`;
    expect(await t.client.initialize()).toMatchObject({ status: "signed_out", error: { code: "no_sign_in_in_progress" } });
  });

  it("does not echo an unknown or malformed error code from the URL", async () => {
    const t = tab();
    comingBack(t, "sso_error=%3Cscript%3E");
    const state = await t.client.initialize();
    expect(state.error?.code).toBe("unknown_error");
    expect(state.error?.receivedCode).toBeUndefined();
  });

  it.each([
    ["no transaction at all", () => undefined],
    ["another transaction", (t: Tab) => t.store.set(TRANSACTIONS_KEY, JSON.stringify({ other: { verifier: "x", expiresAt: 2e6 } }))],
  ])("refuses an sso_error with %s like a stray code", async (_name, arrange) => {
    const t = tab();
    t.location.href = `${SPA}?sso_tx=tx&sso_error=access_denied`;
    arrange(t);
    const state = await t.client.initialize();
    expect(t.fetch).not.toHaveBeenCalled();
    expect(state).toMatchObject({ status: "signed_out", error: { code: "no_sign_in_in_progress" } });
    expect(t.location.href).toBe(SPA);
  });
});

describe("initialize: a failed return while a cookie session lives", () => {
  it("resumes the session and reports the failure beside it, not as signed out", async () => {
    const shared = browser();
    shared.localStorage.set(HINT, "1");
    const t = tab(shared, { cookieMode: true });
    comingBack(t, "sso_error=access_denied");
    t.route("token/refresh/", tokens(2, ADA, 300, false));
    const state = await t.client.initialize();
    expect(state).toMatchObject({ status: "signed_in", user: ADA, error: { code: "access_denied" } });
  });
});

describe("initialize: a page load in cookie mode", () => {
  it("asks nothing when no sign-in left a cookie behind", async () => {
    const t = tab(undefined, { cookieMode: true });
    expect(await t.client.initialize()).toMatchObject({ status: "signed_out", error: null });
    expect(t.fetch).not.toHaveBeenCalled();
  });

  it("resumes the session with the user the refresh answers", async () => {
    const shared = browser();
    shared.localStorage.set(HINT, "1");
    const t = tab(shared, { cookieMode: true });
    t.route("token/refresh/", tokens(2, ADA, 300, false));
    expect(await t.client.initialize()).toMatchObject({ status: "signed_in", user: ADA });
    expect(t.count("me/")).toBe(0);
  });

  it("asks /me/ when the refresh names no user (an older API)", async () => {
    const shared = browser();
    shared.localStorage.set(HINT, "1");
    const t = tab(shared, { cookieMode: true });
    t.route("token/refresh/", tokens(2, null, 300, false));
    t.route("me/", { body: ADA });
    expect(await t.client.initialize()).toMatchObject({ status: "signed_in", user: ADA });
  });

  it("reports a failing /me/ as an error, not as signed out with a live session", async () => {
    const shared = browser();
    shared.localStorage.set(HINT, "1");
    const t = tab(shared, { cookieMode: true });
    t.route("token/refresh/", tokens(2, null, 300, false));
    t.route("me/", { status: 503, body: { detail: "down", code: "database_unavailable" } });
    const state = await t.client.initialize();
    expect(state).toMatchObject({ status: "error", error: { code: "database_unavailable", retryable: true } });
    expect(shared.localStorage.get(HINT)).toBe("1");
    expect(t.seen).toEqual(["error database_unavailable"]);
  });

  it("reports a refresh outage as an error, keeping the note for the next load", async () => {
    const shared = browser();
    shared.localStorage.set(HINT, "1");
    const t = tab(shared, { cookieMode: true });
    t.route("token/refresh/", { status: 503, body: { detail: "down", code: "database_unavailable" } });
    expect((await t.client.initialize()).status).toBe("error");
    expect(shared.localStorage.get(HINT)).toBe("1");
  });

  it("finds the session gone: signed out, the note removed, no event", async () => {
    const shared = browser();
    shared.localStorage.set(HINT, "1");
    const t = tab(shared, { cookieMode: true });
    t.route("token/refresh/", { status: 401, body: { detail: "x", code: "session_revoked" } });
    expect((await t.client.initialize()).status).toBe("signed_out");
    expect(shared.localStorage.has(HINT)).toBe(false);
    expect(t.seen).toEqual([]);
  });
});

describe("the user a refresh answers", () => {
  it("updates a changed profile of the same person without a userChanged event", async () => {
    const t = await signedInTab();
    t.advance(290);
    t.route("token/refresh/", tokens(2, { ...ADA, last_name: "King" }));
    await t.client.getAccessToken();
    expect(t.client.user?.last_name).toBe("King");
    expect(t.seen).toEqual([]);
  });

  it("cookie mode: switches to another person with userChanged (the default rule)", async () => {
    const t = await signedInTab(undefined, { cookieMode: true });
    t.advance(290);
    t.route("token/refresh/", tokens(2, GRACE, 300, false));
    const before = t.client.getSnapshot();
    expect(await t.client.getAccessToken()).toBe("access-2");
    expect(t.client.getSnapshot()).not.toBe(before);
    expect(t.client.getSnapshot()).toMatchObject({ status: "signed_in", user: GRACE });
    expect(t.seen).toEqual(["userChanged ada->grace"]);
  });

  it("cookie mode with onUserChange sign_out: signs out here and hands out no token", async () => {
    const shared = browser();
    const t = await signedInTab(shared, { cookieMode: true, extra: { onUserChange: "sign_out" } });
    t.advance(290);
    t.route("token/refresh/", tokens(2, GRACE, 300, false));
    await expect(t.client.getAccessToken()).rejects.toMatchObject({ code: "not_authenticated" });
    expect(t.client.getSnapshot()).toMatchObject({ status: "signed_out", reason: "user_changed" });
    expect(t.seen).toEqual(["signedOut user_changed"]);
    expect(t.count("logout/")).toBe(0); // the session in the cookie is the other tab's
    expect(await t.client.getAccessToken()).toBeNull();
  });

  it("onUserChange sign_out keeps the cookie-session note: a reload shows the other tab's user", async () => {
    const shared = browser();
    const t = await signedInTab(shared, { cookieMode: true, extra: { onUserChange: "sign_out" } });
    t.advance(290);
    t.route("token/refresh/", tokens(2, GRACE, 300, false));
    await t.client.getAccessToken().catch(() => undefined);
    expect(t.client.getSnapshot()).toMatchObject({ status: "signed_out", reason: "user_changed" });
    expect(shared.localStorage.get(HINT)).toBe("1");
    const reloaded = tab(shared, { cookieMode: true, extra: { onUserChange: "sign_out" } });
    reloaded.route("token/refresh/", tokens(3, GRACE, 300, false));
    expect(await reloaded.client.initialize()).toMatchObject({ status: "signed_in", user: GRACE });
  });

  it.each([
    ["names no user", tokens(2, null)],
    ["names a malformed user", { body: { ...tokens(2).body as object, user: { id: null } } }],
  ])("a refresh that %s is refused, and its tokens never reach memory", async (_name, answer) => {
    const t = await signedInTab();
    t.advance(290);
    t.route("token/refresh/", answer);
    await expect(t.client.getAccessToken()).rejects.toMatchObject({ code: "invalid_response" });
    // Had the tokens been kept, access-2 (fresh) would be handed out now without asking.
    await expect(t.client.getAccessToken()).rejects.toMatchObject({ code: "invalid_response" });
    expect(t.count("token/refresh/")).toBe(2);
    expect(t.client.getSnapshot()).toMatchObject({ status: "signed_in", user: ADA });
  });

  it("cookie mode: a refresh naming no user while signed in does not slip another user in", async () => {
    const t = await signedInTab(undefined, { cookieMode: true });
    t.advance(290);
    t.route("token/refresh/", tokens(2, null, 300, false));
    t.route("me/", { body: GRACE });
    await expect(t.client.getAccessToken()).rejects.toMatchObject({ code: "invalid_response" });
    expect(t.count("me/")).toBe(0);
    expect(t.client.user).toEqual(ADA);
  });
});

describe("state for React", () => {
  it("keeps one snapshot object until something changes, and notifies subscribers", async () => {
    const t = tab();
    const notified = vi.fn();
    t.client.subscribe(notified);
    const first = t.client.getSnapshot();
    expect(first.status).toBe("initializing");
    expect(t.client.getSnapshot()).toBe(first);
    await t.client.initialize();
    expect(notified).toHaveBeenCalledTimes(1);
    expect(t.client.getSnapshot()).toMatchObject({ status: "signed_out" });
  });
});

describe("tokens and authorizedFetch", () => {
  it("refreshes within the margin, and shares one refresh between concurrent callers", async () => {
    const t = await signedInTab();
    t.advance(290);
    let release: () => void = () => undefined;
    t.route("token/refresh/", () => new Promise((resolve) => (release = () => resolve(tokens(2)))));
    const both = Promise.all([t.client.getAccessToken(), t.client.getAccessToken()]);
    await flush();
    release();
    expect(await both).toEqual(["access-2", "access-2"]);
    expect(t.count("token/refresh/")).toBe(1);
    expect(t.calls[0]?.body).toEqual({ refresh: "refresh-1" });
  });

  it("two callers on one 401 rotate the refresh token once and both retry with the new token", async () => {
    const t = await signedInTab();
    t.route("orders/", (_body, init) =>
      new Headers(init.headers).get("Authorization") === "Bearer access-1" ? { status: 401 } : { body: [] },
    );
    t.route("token/refresh/", tokens(2));
    const [a, b] = await Promise.all([
      t.client.authorizedFetch(`${API}orders/`),
      t.client.authorizedFetch(`${API}orders/`),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(t.count("token/refresh/")).toBe(1);
  });

  it("sends the token to the API's origin only, and nothing to any other origin", async () => {
    const t = await signedInTab();
    await expect(t.client.authorizedFetch("https://evil.example/steal")).rejects.toMatchObject({
      code: "untrusted_origin",
    });
    expect(t.calls).toHaveLength(0);
    t.route("http://127.0.0.1:8000/api/example/admin-report/", { body: {} });
    await t.client.authorizedFetch("/api/example/admin-report/".replace(/^/, "http://127.0.0.1:8000"));
    expect(bearer(t.calls[0])).toBe("Bearer access-1");
  });

  it("never rotates tokens on a 401 from a configured third party... or sends to an unconfigured one", async () => {
    const t = await signedInTab(undefined, { extra: { authorizedOrigins: [API, "https://files.example"] } });
    t.route("https://files.example/x", { status: 401 });
    t.route("token/refresh/", tokens(2));
    // A configured origin is trusted with the token, but only the API speaks for the
    // session: the other origin's 401 goes back to the caller, nothing is rotated.
    const response = await t.client.authorizedFetch("https://files.example/x");
    expect(response.status).toBe(401);
    expect(t.count("https://files.example/x")).toBe(1);
    expect(t.count("token/refresh/")).toBe(0);
    expect(await t.client.getAccessToken()).toBe("access-1");
    t.calls.length = 0;
    // Any other origin's call never happens, so its 401 can rotate nothing.
    await expect(t.client.authorizedFetch("https://other.example/x")).rejects.toMatchObject({
      code: "untrusted_origin",
    });
    expect(t.count("token/refresh/")).toBe(0);
  });

  it("sends no Referer with its own requests", async () => {
    const t = await signedInTab();
    t.route("me/", { body: ADA });
    await t.client.me();
    expect(t.calls[0]?.init.referrerPolicy).toBe("no-referrer");
  });
});

describe("no silent failures", () => {
  it("gives up on a request that never answers, with a retryable timeout", async () => {
    const t = tab(undefined, { timeoutMs: 30 });
    t.route("start/", () => new Promise<never>(() => undefined));
    const error = (await t.client.signIn().catch((e: unknown) => e)) as SsoError;
    expect(error.code).toBe("timeout");
    expect(error.retryable).toBe(true);
    expect((t.calls[0]?.init.signal as AbortSignal).aborted).toBe(true);
  });

  it("gives up on an answer whose body stalls, within the same timeout", async () => {
    const stalled = async () => new Response(new ReadableStream({ start() {} }), { status: 200 });
    const t = tab(undefined, { timeoutMs: 30, extra: { fetch: stalled as unknown as typeof fetch } });
    await expect(t.client.signIn()).rejects.toMatchObject({ code: "timeout" });
  });

  it("honours Retry-After: a token inside its margin is used, with no refresh storm", async () => {
    const t = await signedInTab();
    t.advance(290);
    t.route("token/refresh/", {
      status: 503,
      headers: { "Retry-After": "30" },
      body: { detail: "busy", code: "database_unavailable" },
    }, tokens(2));
    for (let i = 0; i < 5; i += 1) expect(await t.client.getAccessToken()).toBe("access-1");
    expect(t.count("token/refresh/")).toBe(1);
    t.advance(31);
    expect(await t.client.getAccessToken()).toBe("access-2");
    expect(t.count("token/refresh/")).toBe(2);
  });

  it("reads Retry-After on 429 into the error", async () => {
    const t = tab();
    t.route("start/", { status: 429, headers: { "Retry-After": "12" }, body: { detail: "x", code: "throttled" } });
    await expect(t.client.signIn()).rejects.toMatchObject({ code: "throttled", retryable: true, retryAfterSeconds: 12 });
  });

  it("has a sentence for every error code of the schema", () => {
    const block = /\n {4}ErrorCodeEnum:\n {6}enum:\n((?: {6}- \w+\n)+)/.exec(schema)?.[1] ?? "";
    const codes = [...block.matchAll(/- (\w+)/g)].map((match) => match[1] ?? "");
    expect(codes.length).toBeGreaterThan(40);
    for (const code of codes) {
      expect(isSsoErrorCode(code), code).toBe(true);
      expect(describeError(code), code).not.toBe(describeError("unknown_error"));
    }
    expect(describeError("__proto__")).toBe(describeError("unknown_error"));
  });
});

describe("signOut", () => {
  it("signs out at once even while a refresh hangs, and never restores the session", async () => {
    const t = await signedInTab();
    t.advance(290);
    let answerRefresh: () => void = () => undefined;
    t.route("token/refresh/", () => new Promise((resolve) => (answerRefresh = () => resolve(tokens(2)))));
    t.route("logout/", { body: { logout_url: null } });
    const pending = t.client.getAccessToken();
    await flush();
    const signingOut = t.client.signOut();
    expect(t.client.getSnapshot().status).toBe("signed_out"); // before any answer
    await signingOut;
    expect(t.calls.find((call) => call.path === "logout/")?.body).toEqual({ refresh: "refresh-1" });
    // The refresh answers only now, with good tokens: they are thrown away.
    answerRefresh();
    await expect(pending).rejects.toBeInstanceOf(SsoError);
    await flush();
    expect(t.client.user).toBeNull();
    expect(t.client.getSnapshot().status).toBe("signed_out");
    expect(await t.client.getAccessToken()).toBeNull();
    expect(t.seen).toEqual(["signedOut signed_out"]);
  });

  it("is not stopped by a listener that throws", async () => {
    const t = await signedInTab();
    t.route("logout/", { body: { logout_url: null } });
    const reported = vi.fn();
    vi.stubGlobal("reportError", reported);
    try {
      t.client.on("signedOut", () => {
        throw new Error("listener bug");
      });
      t.client.subscribe(() => {
        throw new Error("listener bug");
      });
      await t.client.signOut();
    } finally {
      vi.unstubAllGlobals();
    }
    expect(t.client.getSnapshot().status).toBe("signed_out");
    expect(t.count("logout/")).toBe(1);
    expect(reported).toHaveBeenCalled();
  });

  it("follows an https logout_url and refuses any other", async () => {
    const t = await signedInTab();
    t.route("logout/", { body: { logout_url: "https://login.example/logout" } });
    await t.client.signOut();
    expect(t.location.assign).toHaveBeenCalledWith("https://login.example/logout");
    const u = await signedInTab();
    u.route("logout/", { body: { logout_url: "javascript:alert(1)" } });
    await expect(u.client.signOut()).rejects.toMatchObject({ code: "unsafe_redirect" });
    expect(u.location.assign).not.toHaveBeenCalled();
  });

  it("cookie mode: a logout that fails is sent again at the next load, which never signs back in", async () => {
    const shared = browser();
    const t = await signedInTab(shared, { cookieMode: true, timeoutMs: 30 });
    t.route("logout/", () => new Promise<never>(() => undefined));
    await expect(t.client.signOut()).rejects.toMatchObject({ code: "sign_out_incomplete", retryable: true });
    expect(shared.localStorage.get(PENDING_LOGOUT)).toBe("1");

    // The next page load: the API is still down.
    const again = tab(shared, { cookieMode: true });
    again.route("logout/", { status: 503, body: { detail: "x", code: "database_unavailable" } });
    expect(await again.client.initialize()).toMatchObject({ status: "error", error: { code: "sign_out_incomplete" } });
    expect(again.count("token/refresh/")).toBe(0);

    // And the one after: it works now.
    const later = tab(shared, { cookieMode: true });
    later.route("logout/", { body: { logout_url: null } });
    expect(await later.client.initialize()).toMatchObject({ status: "signed_out" });
    expect(later.count("token/refresh/")).toBe(0);
    expect(shared.localStorage.has(PENDING_LOGOUT)).toBe(false);
  });

  it("cookie mode: an owed sign-out that still fails never ends the next sign-in on reload", async () => {
    const shared = browser();
    const t = await signedInTab(shared, { cookieMode: true, timeoutMs: 30 });
    t.route("logout/", { status: 503, body: { detail: "x", code: "database_unavailable" } });
    await expect(t.client.signOut()).rejects.toMatchObject({ code: "sign_out_incomplete" });
    expect(shared.localStorage.get(PENDING_LOGOUT)).toBe("1");

    // The user signs in again while the API still fails logout/: token/ works.
    const back = tab(shared, { cookieMode: true });
    comingBack(back, "sso_code=code-2");
    back.route("logout/", { status: 503, body: { detail: "x", code: "database_unavailable" } });
    back.route("token/", tokens(2, ADA, 300, false));
    expect(await back.client.initialize()).toMatchObject({ status: "signed_in", user: ADA });
    expect(shared.localStorage.has(PENDING_LOGOUT)).toBe(false);

    // The reload resumes the new session; it sends no logout/ for it.
    const reloaded = tab(shared, { cookieMode: true });
    reloaded.route("token/refresh/", tokens(3, ADA, 300, false));
    expect(await reloaded.client.initialize()).toMatchObject({ status: "signed_in", user: ADA });
    expect(reloaded.count("logout/")).toBe(0);
  });

  it("cookie mode without hint storage: the owed sign-out is kept in the tab's storage", async () => {
    const shared = browser();
    const t = await signedInTab(shared, { cookieMode: true, timeoutMs: 30, extra: { sessionHintStorage: null } });
    t.route("logout/", { status: 503, body: { detail: "x", code: "database_unavailable" } });
    await expect(t.client.signOut()).rejects.toMatchObject({ code: "sign_out_incomplete" });
    expect(t.store.get(PENDING_LOGOUT)).toBe("1");

    // The reload of this tab (same sessionStorage) sends it before anything else.
    const reloaded = tab(shared, { cookieMode: true, extra: { sessionHintStorage: null } });
    reloaded.store.set(PENDING_LOGOUT, "1");
    reloaded.route("logout/", { body: { logout_url: null } });
    reloaded.route("token/refresh/", { status: 401, body: { detail: "x", code: "invalid_refresh_token" } });
    expect(await reloaded.client.initialize()).toMatchObject({ status: "signed_out" });
    expect(reloaded.calls[0]?.path).toBe("logout/");
    expect(reloaded.store.has(PENDING_LOGOUT)).toBe(false);
  });

  it("forgets a Retry-After wait of the session it ends", async () => {
    const t = await signedInTab();
    t.advance(290);
    t.route("token/refresh/", { status: 503, headers: { "Retry-After": "600" }, body: { detail: "x", code: "database_unavailable" } });
    expect(await t.client.getAccessToken()).toBe("access-1");
    const blocked = t.client as unknown as { refreshBlockedUntil: number; refreshBlockedBy: unknown };
    expect(blocked.refreshBlockedUntil).toBeGreaterThan(0);
    t.route("logout/", { body: { logout_url: null } });
    await t.client.signOut();
    // Latent until the next session: it must start with no wait inherited.
    expect(blocked.refreshBlockedUntil).toBe(0);
    expect(blocked.refreshBlockedBy).toBeNull();
  });
});

describe("signOutEverywhere", () => {
  it("signs out here before the request, sends the token it took, and ends every session", async () => {
    const shared = browser();
    const t = await signedInTab(shared, { cookieMode: true });
    const other = tab(shared, { cookieMode: true });
    other.route("token/refresh/", tokens(2, ADA, 300, false));
    await other.client.initialize();
    let statusDuringRequest = "";
    t.route("logout/all/", () => {
      statusDuringRequest = t.client.getSnapshot().status;
      return { body: { ended: 3 } };
    });
    expect(await t.client.signOutEverywhere()).toBe(3);
    expect(statusDuringRequest).toBe("signed_out");
    expect(bearer(t.calls[0])).toBe("Bearer access-1");
    expect(t.calls[0]?.init.credentials).toBe("include");
    expect(shared.localStorage.has(PENDING_LOGOUT)).toBe(false);
    await flush();
    expect(other.client.getSnapshot()).toMatchObject({ status: "signed_out", reason: "other_tab" });
  });

  it("cookie mode: a failure leaves the sign-out owed, and the next load sends a plain logout/", async () => {
    const shared = browser();
    const t = await signedInTab(shared, { cookieMode: true });
    t.route("logout/all/", { status: 503, body: { detail: "x", code: "database_unavailable" } });
    const ending = t.client.signOutEverywhere();
    expect(t.client.getSnapshot().status).toBe("signed_out"); // at once
    await expect(ending).rejects.toMatchObject({ code: "sign_out_incomplete", retryable: true });
    expect(shared.localStorage.get(PENDING_LOGOUT)).toBe("1");
    expect(shared.localStorage.has(HINT)).toBe(false);

    const later = tab(shared, { cookieMode: true });
    later.route("logout/", { body: { logout_url: null } });
    expect(await later.client.initialize()).toMatchObject({ status: "signed_out" });
    expect(later.calls.map((call) => call.path)).toEqual(["logout/"]);
    expect(bearer(later.calls[0])).toBeNull();
    expect(shared.localStorage.has(PENDING_LOGOUT)).toBe(false);
  });

  it("never hangs: a request that never answers ends with the timeout, signed out already", async () => {
    const shared = browser();
    const t = await signedInTab(shared, { cookieMode: true, timeoutMs: 30 });
    t.route("logout/all/", () => new Promise<never>(() => undefined));
    const ending = t.client.signOutEverywhere();
    expect(t.client.getSnapshot().status).toBe("signed_out");
    await expect(ending).rejects.toMatchObject({ code: "sign_out_incomplete" });
    expect(shared.localStorage.get(PENDING_LOGOUT)).toBe("1");
  });

  it("body mode: a failure still revokes this session's refresh token", async () => {
    const t = await signedInTab();
    t.route("logout/all/", { status: 503, body: { detail: "x", code: "database_unavailable" } });
    t.route("logout/", { body: { logout_url: null } });
    await expect(t.client.signOutEverywhere()).rejects.toMatchObject({ code: "sign_out_incomplete" });
    expect(t.calls.find((call) => call.path === "logout/")?.body).toEqual({ refresh: "refresh-1" });
    expect(t.client.getSnapshot().status).toBe("signed_out");
  });

  it("refuses when nobody is signed in, sending nothing", async () => {
    const t = tab();
    await t.client.initialize();
    await expect(t.client.signOutEverywhere()).rejects.toMatchObject({ code: "not_authenticated" });
    expect(t.fetch).not.toHaveBeenCalled();
  });
});

describe("across tabs", () => {
  it("signing out in one tab signs out the others (cookie mode)", async () => {
    const shared = browser();
    const a = await signedInTab(shared, { cookieMode: true });
    const b = tab(shared, { cookieMode: true });
    b.route("token/refresh/", tokens(2, ADA, 300, false));
    await b.client.initialize();
    expect(b.client.user).toEqual(ADA);
    a.route("logout/", { body: { logout_url: null } });
    await a.client.signOut();
    await flush();
    expect(b.client.getSnapshot()).toMatchObject({ status: "signed_out", reason: "other_tab" });
    expect(b.seen).toContain("signedOut other_tab");
    expect(b.count("logout/")).toBe(0); // the cookie was the same, already cleared
  });

  it("signing out in one tab makes the others end their own sessions (body mode)", async () => {
    const shared = browser();
    const a = await signedInTab(shared);
    const b = await signedInTab(shared);
    a.route("logout/", { body: { logout_url: null } });
    b.route("logout/", { body: { logout_url: null } });
    await a.client.signOut();
    await flush();
    expect(b.client.getSnapshot()).toMatchObject({ status: "signed_out", reason: "other_tab" });
    expect(b.calls.find((call) => call.path === "logout/")?.body).toEqual({ refresh: "refresh-1" });
    expect(b.location.assign).not.toHaveBeenCalled();
  });

  it("cookie mode: another tab's sign-in as someone else switches this tab, visibly", async () => {
    const shared = browser();
    const a = await signedInTab(shared, { cookieMode: true, user: ADA });
    // The shared cookie now belongs to Grace's sign-in in tab B.
    a.route("token/refresh/", tokens(3, GRACE, 300, false));
    await signedInTab(shared, { cookieMode: true, user: GRACE });
    await flush();
    expect(a.client.getSnapshot()).toMatchObject({ status: "signed_in", user: GRACE });
    expect(a.seen).toEqual(["userChanged ada->grace"]);
    expect(await a.client.getAccessToken()).toBe("access-3");
  });

  it("body mode: another tab's sign-in as someone else signs this tab out", async () => {
    const shared = browser();
    const a = await signedInTab(shared, { user: ADA });
    a.route("logout/", { body: { logout_url: null } });
    await signedInTab(shared, { user: GRACE });
    await flush();
    expect(a.client.getSnapshot()).toMatchObject({ status: "signed_out", reason: "user_changed" });
    expect(a.count("logout/")).toBe(1);
  });

  it("a signed-out tab adopts another tab's sign-in (cookie mode)", async () => {
    const shared = browser();
    const a = tab(shared, { cookieMode: true });
    await a.client.initialize();
    a.route("token/refresh/", tokens(2, ADA, 300, false));
    await signedInTab(shared, { cookieMode: true, user: ADA });
    await flush();
    expect(a.client.getSnapshot()).toMatchObject({ status: "signed_in", user: ADA });
    expect(a.seen).toEqual(["signedIn ada"]);
  });

  it("a tab that fails to join another tab's session signs nobody else out", async () => {
    const shared = browser();
    const a = tab(shared, { cookieMode: true });
    await a.client.initialize();
    a.route("token/refresh/", { status: 401, body: { detail: "x", code: "invalid_refresh_token" } });
    const b = await signedInTab(shared, { cookieMode: true, user: ADA });
    await flush();
    expect(a.count("token/refresh/")).toBe(1);
    expect(a.client.getSnapshot().status).toBe("signed_out");
    expect(shared.bus.sent).not.toContainEqual({ type: "signed_out" });
    expect(b.client.getSnapshot()).toMatchObject({ status: "signed_in", user: ADA });
  });

  it("a refresh racing a sign-in in another tab: the sign-in waits, then this tab switches", async () => {
    const shared = browser();
    const a = await signedInTab(shared, { cookieMode: true, user: ADA });
    let cookieUser = ADA;
    let answerRefresh: () => void = () => undefined;
    a.route(
      "token/refresh/",
      () => new Promise((resolve) => (answerRefresh = () => resolve(tokens(2, cookieUser, 300, false)))),
      () => tokens(3, cookieUser, 300, false),
    );
    a.advance(290);
    const refreshing = a.client.getAccessToken();
    await flush();
    expect(shared.lock.held()).toBe(true);

    // Tab B comes back from Microsoft as Grace while A's refresh is on the wire.
    const b = tab(shared, { cookieMode: true });
    b.store.set(TRANSACTIONS_KEY, JSON.stringify({ tx: { verifier: "v".repeat(64), expiresAt: 2e9 } }));
    b.location.href = `${SPA}?sso_tx=tx&sso_code=code-b`;
    b.route("token/", () => {
      cookieUser = GRACE;
      return tokens(9, GRACE, 300, false);
    });
    const bDone = b.client.initialize();
    await flush();
    expect(b.count("token/")).toBe(0); // waits for A's refresh to finish

    answerRefresh();
    expect(await refreshing).toBe("access-2");
    await bDone;
    await flush();
    expect(b.client.user).toEqual(GRACE);
    // A heard of B's sign-in, refreshed with the new cookie, and says who it is now.
    expect(a.client.user).toEqual(GRACE);
    expect(a.seen).toEqual(["userChanged ada->grace"]);
  });
});

describe("locks", () => {
  it("a Web Lock not granted in time fails the refresh as retryable, not silently", async () => {
    // Grants the lock once (the sign-in), then another tab holds it for ever.
    let grants = 1;
    const locks = {
      request: (_name: string, options: { signal: AbortSignal }, task: () => Promise<unknown>) => {
        if (grants-- > 0) return task();
        return new Promise((_resolve, reject) =>
          options.signal.addEventListener("abort", () =>
            reject(new DOMException("aborted", "AbortError")),
          ),
        );
      },
    } as unknown as LockManager;
    grants = 0;
    await expect(webLock(locks).run("x", 20, async () => 1)).rejects.toBeInstanceOf(LockTimeoutError);

    grants = 1;
    const shared = browser();
    const t = await signedInTab(shared, { cookieMode: true, extra: { lock: webLock(locks), lockTimeoutMs: 20 } });
    t.advance(301);
    await expect(t.client.getAccessToken()).rejects.toMatchObject({ code: "refresh_lock_timeout", retryable: true });
  });

  it("without Web Locks, a storage lease makes tabs take turns", async () => {
    const map = new Map<string, string>();
    const lock = storageLock(mapStorage(map), { leaseMs: 1_000, settleMs: 1, pollMs: 1 });
    const order: string[] = [];
    const task = (name: string) => async () => {
      order.push(`${name} start`);
      await new Promise((resolve) => setTimeout(resolve, 10));
      order.push(`${name} end`);
    };
    await Promise.all([lock.run("l", 1_000, task("a")), lock.run("l", 1_000, task("b"))]);
    expect(order).toEqual(["a start", "a end", "b start", "b end"]);
    expect(map.size).toBe(0);
  });

  it("a lease left by a closed tab expires, and a held one times out the waiter", async () => {
    const map = new Map<string, string>();
    const lock = storageLock(mapStorage(map), { leaseMs: 100, settleMs: 1, pollMs: 1 });
    map.set("l:lease", JSON.stringify({ owner: "busy tab", until: Date.now() + 60_000 }));
    await expect(lock.run("l", 20, async () => "mine")).rejects.toBeInstanceOf(LockTimeoutError);
    map.set("l:lease", JSON.stringify({ owner: "closed tab", until: Date.now() - 1 }));
    expect(await lock.run("l", 20, async () => "mine")).toBe("mine");
  });
});

describe("the browser fallbacks: no Web Locks, no BroadcastChannel", () => {
  it("two tabs sign in and out through the storage channel and the storage lease", async () => {
    const shared = browser();
    const listeners = new Map<string, Set<(event: StorageEvent) => void>>();
    /** The origin's localStorage as tab `name` sees it: a write fires events in the others. */
    const localStorageOf = (name: string) => ({
      getItem: (key: string) => shared.localStorage.get(key) ?? null,
      setItem(key: string, value: string) {
        shared.localStorage.set(key, value);
        for (const [other, handlers] of listeners) {
          if (other === name) continue;
          for (const handler of handlers) {
            setTimeout(() => handler({ key, newValue: value } as StorageEvent));
          }
        }
      },
      removeItem: (key: string) => void shared.localStorage.delete(key),
    });
    const openTab = (name: string) => {
      const handlers = new Set<(event: StorageEvent) => void>();
      listeners.set(name, handlers);
      const local = localStorageOf(name);
      vi.stubGlobal("localStorage", local);
      vi.stubGlobal("addEventListener", (_type: string, handler: (event: StorageEvent) => void) =>
        handlers.add(handler),
      );
      vi.stubGlobal("removeEventListener", (_type: string, handler: (event: StorageEvent) => void) =>
        handlers.delete(handler),
      );
      return tab(shared, { cookieMode: true, defaultCrossTab: true, extra: { sessionHintStorage: local } });
    };
    vi.stubGlobal("BroadcastChannel", undefined);
    try {
      const a = openTab("a");
      const b = openTab("b");
      await b.client.initialize();
      expect(b.client.getSnapshot().status).toBe("signed_out");

      comingBack(a, "sso_code=code-1");
      let lease: { until: number } | null = null;
      a.route("token/", () => {
        lease = JSON.parse(shared.localStorage.get("sso-client:refresh:lease") ?? "null") as { until: number } | null;
        return tokens(1, ADA, 300, false);
      });
      b.route("token/refresh/", tokens(2, ADA, 300, false));
      await a.client.initialize();
      // The sign-in ran under the storage lease, long enough for its two requests.
      expect(lease).toEqual(expect.objectContaining({ until: shared.clock.now + 2 * 15_000 + 1_000 }));
      await vi.waitFor(() => expect(b.client.getSnapshot()).toMatchObject({ status: "signed_in", user: ADA }));
      expect(b.seen).toEqual(["signedIn ada"]);

      a.route("logout/", { body: { logout_url: null } });
      await a.client.signOut();
      await vi.waitFor(() =>
        expect(b.client.getSnapshot()).toMatchObject({ status: "signed_out", reason: "other_tab" }),
      );
      expect(b.count("logout/")).toBe(0);
      // Nothing left behind: no lease, no message, no note.
      expect([...shared.localStorage.keys()]).toEqual([]);
      a.client.dispose();
      b.client.dispose();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("channels between tabs", () => {
  it("BroadcastChannel carries a message to the other tabs, not back to its sender", async () => {
    const a = broadcastChannel("sso-client:test");
    const b = broadcastChannel("sso-client:test");
    if (!a || !b) throw new Error("BroadcastChannel missing");
    const atA: CrossTabMessage[] = [];
    const atB: CrossTabMessage[] = [];
    a.listen((message) => void atA.push(message));
    b.listen((message) => void atB.push(message));
    try {
      a.post({ type: "signed_in", userId: "7" });
      await vi.waitFor(() => expect(atB).toEqual([{ type: "signed_in", userId: "7" }]));
      expect(atA).toEqual([]);
    } finally {
      a.close();
      b.close();
    }
  });

  it("without BroadcastChannel, storage events carry it, and nothing stays in storage", () => {
    const map = new Map<string, string>();
    const handlers: ((event: StorageEvent) => void)[] = [];
    const writes: string[] = [];
    vi.stubGlobal("localStorage", {
      ...mapStorage(map),
      setItem: (key: string, value: string) => void (writes.push(value), map.set(key, value)),
    });
    vi.stubGlobal("addEventListener", (_type: string, handler: (event: StorageEvent) => void) =>
      handlers.push(handler),
    );
    vi.stubGlobal("removeEventListener", () => undefined);
    try {
      const channel = storageChannel("sso-client:message");
      if (!channel) throw new Error("no storage channel");
      const heard: CrossTabMessage[] = [];
      channel.listen((message) => void heard.push(message));
      channel.post({ type: "signed_out" });
      expect(map.size).toBe(0);
      // What another tab's write looks like here; junk is ignored.
      for (const newValue of [writes[0] ?? "", "not json", '{"type":"signed_in"}']) {
        handlers[0]?.({ key: "sso-client:message", newValue } as StorageEvent);
      }
      expect(heard).toEqual([{ type: "signed_out" }]);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("the client without a browser", () => {
  it("needs apiBase", () => {
    expect(() => new SsoClient({ apiBase: "" })).toThrow(SsoError);
  });
});
