/**
 * "Sign in with Microsoft" for a single-page app, against the `sso_api` Django REST API.
 *
 * This module is self-contained and framework-free: copy this one file into any SPA
 * (React, Vue, Svelte, plain TypeScript). It needs a browser with `fetch`, `crypto.subtle`
 * and `sessionStorage`, all of which can be replaced through {@link SsoClientOptions}.
 *
 * Where the secrets live:
 * - The access token lives in memory only (a field of {@link SsoClient}); it is never
 *   written to localStorage, sessionStorage or a cookie, so a script injected later cannot
 *   read it from storage, and it dies with the page.
 * - Body mode (the default): the refresh token is kept in memory too. A page reload
 *   therefore signs the user out. Turn on `cookieMode` (with the API's
 *   `MICROSOFT_SSO_REFRESH_COOKIE = True`) to keep the session across reloads: the refresh
 *   token then travels only as an HttpOnly cookie that this code never sees.
 * - The PKCE verifier sits in sessionStorage between {@link SsoClient.signIn} and
 *   {@link SsoClient.completeSignIn}: it must survive the round trip through Microsoft, and
 *   sessionStorage is per tab, so two tabs signing in at once never overwrite each other's.
 * - Cookie mode notes in localStorage that a refresh cookie may exist (the word "1", no
 *   token), so that {@link SsoClient.restoreSession} asks the API only then: a page load
 *   with nobody signed in makes no request that would fail.
 *
 * @packageDocumentation
 */

import type { components } from "./api-types";

// The API's shapes come from its OpenAPI schema (docs/openapi.yaml), generated into
// api-types.ts before every build: a schema change that breaks this client breaks the build.
// Copying this module elsewhere, generate the same file with openapi-typescript, or
// replace the aliases below with the shapes written out.
type Schemas = components["schemas"];

/** The signed-in user, as the API's `/token/` and `/me/` describe it. */
export type SsoUser = Schemas["User"];

/** The token pair the API hands out (`refresh` is absent in cookie mode). */
type TokenAnswer = Schemas["TokenPair"];

/** What `/start/` answers. */
type StartAnswer = Schemas["StartResponse"];

/** One of the signed-in user's sessions (one per sign-in), as `/sessions/` lists it. */
export type SsoSession = Schemas["Session"];

/** How a session began: `"browser"` (this flow) or `"exchange"` (an app's MSAL token). */
export type SsoSessionMethod = Schemas["MethodEnum"];

/** What `/logout/all/` answers. */
type LogoutAllAnswer = Schemas["LogoutAllResponse"];

/** Every failure this module reports: a stable `code` and a sentence for people. */
export class SsoError extends Error {
  /** Stable snake_case code: the API's `code`, `sso_error`, or one of this module's own. */
  readonly code: string;
  /** A plain-English sentence to show the user ({@link describeError} of the code). */
  readonly userMessage: string;
  /** HTTP status of the API answer that failed, when there was one. */
  readonly status: number | undefined;
  /** The API's own `detail` (or `sso_error_description`), for logs. */
  readonly detail: string | undefined;

  constructor(code: string, options: { status?: number; detail?: string; cause?: unknown } = {}) {
    const userMessage = describeError(code);
    super(userMessage, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SsoError";
    this.code = code;
    this.userMessage = userMessage;
    this.status = options.status;
    this.detail = options.detail;
  }
}

/** The parts of `window.location` this module uses. */
export interface SsoLocation {
  readonly href: string;
  assign(url: string): void;
}

/** The parts of `window.history` this module uses (`state` is kept when present). */
export interface SsoHistory {
  readonly state?: unknown;
  replaceState(data: unknown, unused: string, url?: string | URL | null): void;
}

/** The parts of `Storage` this module uses. */
export type SsoStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

/** Options of {@link SsoClient}. Only `apiBase` is required in a browser. */
export interface SsoClientOptions {
  /** Where `sso_api` is mounted, e.g. `https://api.example.com/api/sso/`. */
  apiBase: string;
  /**
   * Keep the refresh token in the API's HttpOnly cookie instead of in memory, so a session
   * survives a page reload. Every API request is then sent with `credentials: "include"`
   * and an `X-SSO-CSRF: 1` header. Default `false`.
   */
  cookieMode?: boolean;
  /** Refresh the access token when it expires within this many seconds. Default 30. */
  refreshMarginSeconds?: number;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Where the PKCE verifier waits during the round trip. Default: `sessionStorage`. */
  storage?: SsoStorage;
  /**
   * Cookie mode: where the client notes that a refresh cookie may exist, so that
   * {@link SsoClient.restoreSession} skips the refresh (which would fail with a 401) when
   * nobody signed in here. Default: `localStorage`, shared by every tab of the origin like
   * the cookie. `null` (or no storage available): always try the refresh.
   */
  sessionHintStorage?: SsoStorage | null;
  /** Default: `window.location`. */
  location?: SsoLocation;
  /** Default: `window.history`. */
  history?: SsoHistory;
  /** Milliseconds since the epoch. Default: `Date.now`. */
  now?: () => number;
}

/** Options of {@link SsoClient.signIn}. */
export interface SignInOptions {
  /** Absolute URL of the page to come back to. Default: the current page. */
  returnTo?: string;
  /** Microsoft's `prompt`: `"login"`, `"select_account"`, `"consent"`, `"none"`, `"create"`. */
  prompt?: string;
  /** Pre-fills the account at Microsoft. */
  loginHint?: string;
}

/** Listener of {@link SsoClient.subscribe}. */
export type SsoListener = (user: SsoUser | null) => void;

const VERIFIER_KEY = "sso-client:pkce-verifier";
/** Cookie mode: present while a refresh cookie may exist (see `sessionHintStorage`). */
const COOKIE_SESSION_HINT_KEY = "sso-client:cookie-session";
/** Name of the Web Lock that serialises cookie-mode refreshes across tabs. */
const REFRESH_LOCK = "sso-client:refresh";
/** Query parameters the API adds to the `next` URL; removed from the address bar. */
const CALLBACK_PARAMS = ["sso_code", "sso_error", "sso_error_description"] as const;
/** Codes that mean "there is no session any more" (as opposed to "try again later"). */
const SESSION_GONE = new Set([
  "invalid_refresh_token",
  "refresh_token_reused",
  "session_revoked",
  "session_expired",
  "token_not_valid",
  "not_authenticated",
  "password_changed",
  "duplicate_refresh_cookie",
]);
/** 48 random bytes give a 64-character verifier (RFC 7636 allows 43 to 128). */
const VERIFIER_BYTES = 48;

interface Session {
  access: string;
  /** When the access token stops working (ms). */
  expiresAt: number;
  /** When to refresh it proactively (ms). */
  refreshAt: number;
  /** Body mode only: the current refresh token. */
  refresh: string | null;
}

/**
 * Signs a user in with Microsoft through `sso_api` and keeps their tokens fresh.
 *
 * Typical page load: `await client.completeSignIn() ?? await client.restoreSession()`;
 * then {@link SsoClient.authorizedFetch} for API calls. One instance per page.
 */
export class SsoClient {
  private readonly apiBase: string;
  private readonly cookieMode: boolean;
  private readonly marginMs: number;
  private readonly options: SsoClientOptions;
  private readonly now: () => number;

  private session: Session | null = null;
  private currentUser: SsoUser | null = null;
  private readonly listeners = new Set<SsoListener>();
  /** The one refresh in flight, shared by every caller that needs a new access token. */
  private refreshing: Promise<Session> | null = null;
  /** Bumped on sign-out, so a refresh that was in flight cannot resurrect the session. */
  private generation = 0;

  constructor(options: SsoClientOptions) {
    if (!options.apiBase) {
      throw new SsoError("client_misconfigured", { detail: "apiBase is required" });
    }
    this.options = options;
    this.apiBase = options.apiBase.endsWith("/") ? options.apiBase : `${options.apiBase}/`;
    this.cookieMode = options.cookieMode ?? false;
    this.marginMs = Math.max(0, options.refreshMarginSeconds ?? 30) * 1000;
    this.now = options.now ?? (() => Date.now());
  }

  /** The signed-in user, or `null`. */
  get user(): SsoUser | null {
    return this.currentUser;
  }

  /**
   * Calls `listener` whenever the user signs in, changes or signs out (also when a refresh
   * finds the session revoked). Returns a function that unsubscribes.
   */
  subscribe(listener: SsoListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Starts a sign-in: makes a PKCE pair, keeps the verifier in sessionStorage, asks the API
   * for Microsoft's authorization URL and navigates there. The promise settles just before
   * the page unloads; it rejects with an {@link SsoError} if the API refuses.
   */
  async signIn(options: SignInOptions = {}): Promise<void> {
    const storage = this.storage();
    const verifier = createCodeVerifier();
    const challenge = await codeChallengeS256(verifier);
    storage.setItem(VERIFIER_KEY, verifier);
    const body: Record<string, string> = {
      next: options.returnTo ?? withoutCallbackParams(this.location().href).href,
      code_challenge: challenge,
      code_challenge_method: "S256",
    };
    if (options.prompt) body.prompt = options.prompt;
    if (options.loginHint) body.login_hint = options.loginHint;
    let answer: unknown;
    try {
      answer = await this.post("start/", body);
    } catch (error) {
      storage.removeItem(VERIFIER_KEY);
      throw error;
    }
    const url = isRecord(answer) ? (answer as Partial<StartAnswer>).authorization_url : undefined;
    if (typeof url !== "string" || !/^https?:\/\//i.test(url)) {
      storage.removeItem(VERIFIER_KEY);
      throw new SsoError("invalid_response", { detail: "start/ returned no authorization_url" });
    }
    this.location().assign(url);
  }

  /**
   * Finishes a sign-in on the page Microsoft (via the API) sent the browser back to.
   *
   * Reads `sso_code` or `sso_error` from the current URL and removes them from the address
   * bar at once (other query parameters and the hash stay), before any network call, so the
   * one-time code never lingers in history, bookmarks or a Referer. Then trades the code and
   * the stored PKCE verifier for tokens.
   *
   * @returns the user, or `null` when the URL carries neither parameter.
   * @throws SsoError for `sso_error`, a missing verifier, or a refused code.
   */
  async completeSignIn(): Promise<SsoUser | null> {
    const url = new URL(this.location().href);
    const code = url.searchParams.get("sso_code");
    const error = url.searchParams.get("sso_error");
    if (code === null && error === null) return null;

    const history = this.history();
    const clean = withoutCallbackParams(url.href);
    history.replaceState(history.state ?? null, "", clean.pathname + clean.search + clean.hash);

    const storage = this.storage();
    const verifier = storage.getItem(VERIFIER_KEY);
    storage.removeItem(VERIFIER_KEY);

    if (error !== null) {
      const description = url.searchParams.get("sso_error_description") ?? undefined;
      throw new SsoError(safeCode(error), description === undefined ? {} : { detail: description });
    }
    if (!code) {
      throw new SsoError("invalid_sso_code", { detail: "empty sso_code" });
    }
    // Without a verifier this tab did not start the sign-in (a copied or planted link). The
    // code is still sent, without a verifier: the API burns it and refuses, so the link is
    // dead for everyone, including whoever it was copied from.
    const generation = this.generation;
    const answer = await this.post(
      "token/",
      verifier ? { sso_code: code, code_verifier: verifier } : { sso_code: code },
    );
    const session = this.toSession(answer);
    const user = toUser(isRecord(answer) ? answer.user : undefined);
    if (generation !== this.generation) return null;
    this.session = session;
    this.noteCookieSession(true);
    this.setUser(user);
    return user;
  }

  /**
   * Cookie mode: resumes the session kept in the API's refresh cookie (call on page load).
   * It asks the API only when a sign-in or refresh in this origin left a refresh cookie
   * behind (see `sessionHintStorage`); otherwise it answers `null` at once.
   * Body mode: there is nothing to resume after a reload; returns the current user.
   *
   * @returns the user, or `null` when there is no session.
   * @throws SsoError when the API cannot be reached or is misconfigured.
   */
  async restoreSession(): Promise<SsoUser | null> {
    if (!this.cookieMode) return this.currentUser;
    if (!this.session && !this.cookieSessionMayExist()) return null;
    try {
      await this.refresh(true);
      return await this.me();
    } catch (error) {
      if (error instanceof SsoError && isSessionGone(error)) {
        this.clear();
        return null;
      }
      throw error;
    }
  }

  /**
   * A valid access token, refreshed first when it expires within `refreshMarginSeconds`.
   * Concurrent callers share one refresh. Resolves `null` when nobody is signed in.
   *
   * @throws SsoError when a needed refresh fails (the session is dropped if it is gone).
   */
  async getAccessToken(): Promise<string | null> {
    const session = this.session;
    if (!session) return null;
    if (this.now() < session.refreshAt) return session.access;
    try {
      return (await this.refresh(false)).access;
    } catch (error) {
      // A passing outage should not cost a token that still works.
      const current = this.session;
      if (current && !isSessionGone(error) && this.now() < current.expiresAt) return current.access;
      throw error;
    }
  }

  /**
   * `fetch` with `Authorization: Bearer <access>`. On a 401 it refreshes once and retries
   * once; a second 401 is returned as is. Pass bodies that can be sent twice (strings,
   * FormData, Blobs), not streams.
   *
   * @throws SsoError `not_authenticated` when nobody is signed in, or a refresh failure.
   */
  async authorizedFetch(input: string, init: RequestInit = {}): Promise<Response> {
    const token = await this.getAccessToken();
    if (token === null) throw new SsoError("not_authenticated");
    const response = await this.send(input, init, token);
    if (response.status !== 401) return response;

    // Another caller may already have replaced the token this request used.
    let retryToken = this.session && this.session.access !== token ? this.session.access : null;
    if (retryToken === null) {
      if (!this.session) return response;
      retryToken = (await this.refresh(false)).access;
    }
    return this.send(input, init, retryToken);
  }

  /** Reads the signed-in user from `/me/` (and updates {@link SsoClient.user}). */
  async me(): Promise<SsoUser> {
    const user = toUser(await this.callAsUser("GET", "me/"));
    this.setUser(user);
    return user;
  }

  /**
   * The signed-in user's live sessions from `/sessions/`, newest first: one per sign-in,
   * on this device or another, with `current` set on the one this client holds.
   *
   * `user_agent` is whatever the signing-in client sent: show it as text, never as markup.
   *
   * @throws SsoError `not_authenticated` when nobody is signed in, or the API's refusal.
   */
  async listSessions(): Promise<SsoSession[]> {
    return toSessions(await this.callAsUser("GET", "sessions/"));
  }

  /**
   * Ends one of the user's sessions (`DELETE /sessions/{id}/`): its refresh token stops
   * working at once, so the device holding it is signed out at its next refresh, within
   * one access token's lifetime. To end this client's own session, use
   * {@link SsoClient.signOut}, which also forgets it here.
   *
   * @throws SsoError `session_not_found` (404) when the id is not one of the user's live
   *   sessions (already ended, expired, or never theirs), or the API's other refusals.
   */
  async endSession(sessionId: string): Promise<void> {
    await this.callAsUser("DELETE", `sessions/${encodeURIComponent(sessionId)}/`);
  }

  /**
   * Signs the user out on every device (`POST /logout/all/`): every session ends, this
   * one included, and in cookie mode the API clears the refresh cookie. The client is
   * signed out here whatever the answer, as after {@link SsoClient.signOut}. Microsoft's
   * own session is left alone: this API's sessions are what ends.
   *
   * @returns how many sessions the API ended.
   * @throws SsoError when the API could not end them (or nobody was signed in); the local
   *   sign-out has happened anyway.
   */
  async signOutEverywhere(): Promise<number> {
    try {
      // The call needs the access token, so the local state goes only once it is answered.
      const answer = await this.callAsUser("POST", "logout/all/");
      const ended = isRecord(answer) ? (answer as Partial<LogoutAllAnswer>).ended : undefined;
      return typeof ended === "number" ? ended : 0;
    } finally {
      // Bumping the generation also stops a refresh still in flight from restoring it.
      this.clear();
    }
  }

  /**
   * Signs out: forgets the tokens and the user at once, asks the API to revoke the session,
   * and follows Microsoft's end-session URL when the API returns one (single sign-out).
   *
   * @throws SsoError when the API cannot revoke the session for a reason other than it being
   *   gone already; the local sign-out has happened anyway.
   */
  async signOut(): Promise<void> {
    // Let a refresh in flight settle so the token sent below is the current one.
    if (this.refreshing) await this.refreshing.catch(() => undefined);
    const refresh = this.session?.refresh ?? null;
    this.clear();
    // Body mode without a refresh token has nothing to revoke. Cookie mode always asks:
    // only the API can clear its HttpOnly cookie.
    if (!this.cookieMode && refresh === null) return;

    let answer: unknown;
    try {
      answer = await this.post("logout/", this.cookieMode ? {} : { refresh });
    } catch (error) {
      if (error instanceof SsoError && isSessionGone(error)) return;
      throw error;
    }
    const logoutUrl = isRecord(answer) ? answer.logout_url : null;
    if (typeof logoutUrl === "string" && /^https?:\/\//i.test(logoutUrl)) {
      this.location().assign(logoutUrl);
    }
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * Calls one of the API's endpoints for the signed-in user through
   * {@link SsoClient.authorizedFetch} (so the access token is refreshed as needed) and
   * resolves the parsed body, `null` when there is none. An answer saying the session is
   * gone signs the client out before it is thrown.
   */
  private async callAsUser(method: "GET" | "POST" | "DELETE", path: string): Promise<unknown> {
    const init: RequestInit = {
      method,
      headers: { Accept: "application/json" },
      // The user and their sessions change at any time elsewhere: never from a cache.
      cache: "no-store",
    };
    // A browser applies a cross-origin Set-Cookie (/logout/all/ clearing the refresh
    // cookie) only to a request sent with credentials.
    if (this.cookieMode) init.credentials = "include";
    const response = await this.authorizedFetch(`${this.apiBase}${path}`, init);
    const body = await readJson(response);
    if (!response.ok) {
      const error = errorFrom(response.status, body);
      if (isSessionGone(error)) this.clear();
      throw error;
    }
    return body;
  }

  /** Rotates the tokens; every concurrent caller gets the same promise. */
  private refresh(force: boolean): Promise<Session> {
    if (this.refreshing) return this.refreshing;
    const generation = this.generation;
    const refreshToken = this.session?.refresh ?? null;
    const run = async (): Promise<Session> => {
      try {
        if (!force && !this.session) throw new SsoError("not_authenticated");
        if (!this.cookieMode && refreshToken === null) {
          throw new SsoError("session_expired", { detail: "no refresh token in memory" });
        }
        const body = this.cookieMode ? {} : { refresh: refreshToken };
        const session = this.toSession(
          await this.acrossTabs(() => this.post("token/refresh/", body)),
        );
        if (generation !== this.generation) throw new SsoError("session_revoked");
        this.session = session;
        this.noteCookieSession(true);
        return session;
      } catch (error) {
        if (generation === this.generation && isSessionGone(error)) this.clear();
        throw error;
      }
    };
    const promise = run().finally(() => {
      if (this.refreshing === promise) this.refreshing = null;
    });
    this.refreshing = promise;
    return promise;
  }

  /**
   * In cookie mode every tab of this origin shares one refresh cookie. Two tabs refreshing
   * at the same moment would present the same token twice, which the API treats as theft
   * and answers by revoking the session. A Web Lock makes the tabs take turns, so the
   * second one refreshes with the cookie the first one just received.
   */
  private acrossTabs<T>(task: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!this.cookieMode || !locks) return task();
    return locks.request(REFRESH_LOCK, task) as Promise<T>;
  }

  private toSession(answer: unknown): Session {
    if (!isRecord(answer) || typeof answer.access !== "string" || !answer.access) {
      throw new SsoError("invalid_response", { detail: "no access token in the answer" });
    }
    const tokens = answer as unknown as TokenAnswer;
    const lifetimeMs = Math.max(0, Number(tokens.expires_in) || 0) * 1000;
    const now = this.now();
    // Refresh `margin` before expiry, but never before half the lifetime has passed: a
    // token that lives less than the margin would otherwise be refreshed on every call.
    const refreshIn = Math.max(lifetimeMs - this.marginMs, lifetimeMs / 2);
    const keepRefresh = !this.cookieMode && typeof tokens.refresh === "string";
    return {
      access: tokens.access,
      expiresAt: now + lifetimeMs,
      refreshAt: now + refreshIn,
      refresh: keepRefresh ? (tokens.refresh ?? null) : (this.session?.refresh ?? null),
    };
  }

  private clear(): void {
    this.generation += 1;
    this.session = null;
    this.refreshing = null;
    this.noteCookieSession(false);
    this.setUser(null);
  }

  /** Cookie mode: whether a refresh cookie may exist; true when nothing was noted. */
  private cookieSessionMayExist(): boolean {
    const hints = this.sessionHints();
    if (!hints) return true;
    try {
      return hints.getItem(COOKIE_SESSION_HINT_KEY) !== null;
    } catch {
      return true; // Storage refused (privacy settings): ask the API, as without hints.
    }
  }

  /** Cookie mode: note that the API did (or no longer does) keep a refresh cookie. */
  private noteCookieSession(present: boolean): void {
    const hints = this.cookieMode ? this.sessionHints() : null;
    if (!hints) return;
    try {
      if (present) hints.setItem(COOKIE_SESSION_HINT_KEY, "1");
      else hints.removeItem(COOKIE_SESSION_HINT_KEY);
    } catch {
      // Storage full or refused: restoreSession then asks the API, as without hints.
    }
  }

  private sessionHints(): SsoStorage | null {
    if (this.options.sessionHintStorage !== undefined) return this.options.sessionHintStorage;
    try {
      return globalThis.localStorage ?? null;
    } catch {
      return null; // Reading localStorage throws where the browser blocks storage.
    }
  }

  private setUser(user: SsoUser | null): void {
    const same = JSON.stringify(user) === JSON.stringify(this.currentUser);
    this.currentUser = user;
    if (same) return;
    for (const listener of [...this.listeners]) listener(user);
  }

  private send(input: string, init: RequestInit, token: string): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${token}`);
    return this.fetch(input, { ...init, headers });
  }

  /** POSTs JSON to the API; resolves the parsed body or rejects with an SsoError. */
  private async post(path: string, body: unknown): Promise<unknown> {
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      Accept: "application/json",
    };
    if (this.cookieMode) headers["X-SSO-CSRF"] = "1";
    const response = await this.fetch(`${this.apiBase}${path}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      credentials: this.cookieMode ? "include" : "omit",
      cache: "no-store",
    });
    const answer = await readJson(response);
    if (!response.ok) throw errorFrom(response.status, answer);
    return answer;
  }

  private async fetch(input: string, init: RequestInit): Promise<Response> {
    const impl = this.options.fetch ?? globalThis.fetch;
    if (typeof impl !== "function") {
      throw new SsoError("client_misconfigured", { detail: "no fetch available" });
    }
    try {
      // Called unbound-safe: the browser's fetch must not be invoked with another `this`.
      return await impl.call(globalThis, input, init);
    } catch (error) {
      if (error instanceof SsoError) throw error;
      throw new SsoError("network_error", { detail: String(error), cause: error });
    }
  }

  private storage(): SsoStorage {
    return this.required(this.options.storage ?? globalThis.sessionStorage, "sessionStorage");
  }

  private location(): SsoLocation {
    return this.required(this.options.location ?? globalThis.location, "location");
  }

  private history(): SsoHistory {
    return this.required(this.options.history ?? globalThis.history, "history");
  }

  private required<T>(value: T | undefined, name: string): T {
    if (value === undefined || value === null) {
      throw new SsoError("client_misconfigured", { detail: `no ${name}: pass it in the options` });
    }
    return value;
  }
}

// --- PKCE (RFC 7636) -----------------------------------------------------------------------

/** A fresh PKCE code verifier: base64url of 48 random bytes (64 characters). */
export function createCodeVerifier(): string {
  const bytes = new Uint8Array(VERIFIER_BYTES);
  globalThis.crypto.getRandomValues(bytes);
  return base64Url(bytes);
}

/** The S256 code challenge of a verifier: base64url(SHA-256(verifier)), no padding. */
export async function codeChallengeS256(verifier: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(verifier),
  );
  return base64Url(new Uint8Array(digest));
}

function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// --- Error sentences -----------------------------------------------------------------------

const MESSAGES: Record<string, string> = {
  invalid_state:
    "This sign-in link has expired or was already used. Please start signing in again.",
  response_mode_mismatch:
    "Microsoft's answer came back in an unexpected way. Please start signing in again.",
  access_denied: "Sign-in was cancelled at Microsoft, or access was not granted.",
  interaction_required:
    "Microsoft needs you to sign in again yourself. Please use the sign-in button.",
  provider_error: "Microsoft could not complete the sign-in. Please try again.",
  provider_unavailable:
    "Microsoft's sign-in service could not be reached. Please try again in a moment.",
  token_exchange_failed: "Microsoft did not accept the sign-in. Please start again.",
  invalid_id_token: "Microsoft's answer could not be verified. Please start signing in again.",
  tenant_not_allowed: "Accounts from your organization are not allowed to sign in here.",
  domain_not_allowed: "Accounts with your email domain are not allowed to sign in here.",
  email_not_verified:
    "Microsoft has not verified the email address of this account, so it cannot sign in here.",
  user_not_found: "There is no account for you here yet. Ask an administrator for access.",
  user_inactive: "Your account here is disabled. Contact an administrator.",
  login_refused: "This account is not allowed to sign in here.",
  groups_unavailable:
    "Your group memberships could not be read from Microsoft right now. Please try again shortly.",
  invalid_sso_code:
    "This sign-in link has expired or was already used. Please start signing in again.",
  invalid_code_verifier:
    "Sign-in was started in another browser or tab. Please start again from this page.",
  invalid_refresh_token: "Your session is no longer valid. Please sign in again.",
  refresh_token_reused:
    "For your safety, your session was ended because it was used from two places. Please sign in again.",
  session_revoked: "You have been signed out. Please sign in again.",
  session_expired: "Your session has expired. Please sign in again.",
  sso_disabled: "Sign-in with Microsoft is turned off on this site.",
  sso_not_configured: "Sign-in with Microsoft is not set up on this site yet.",
  cache_unavailable: "The sign-in service is temporarily unavailable. Please try again shortly.",
  server_error: "Something went wrong on the server. Please try again.",
  invalid_next_url: "This page is not allowed as a sign-in return address. Contact the site owner.",
  code_challenge_required:
    "The sign-in request was incomplete (no PKCE challenge). Please reload the page and try again.",
  invalid_code_challenge:
    "The sign-in request was malformed (bad PKCE challenge). Please reload the page and try again.",
  invalid_request: "The sign-in request was not understood. Please reload the page and try again.",
  session_not_found: "That session has already ended.",
  database_unavailable:
    "The sign-in service is temporarily unavailable. Please try again shortly.",
  throttled: "Too many requests in a short time. Please wait a moment and try again.",
  parse_error: "The sign-in request was not understood. Please reload the page and try again.",
  unsupported_media_type:
    "The sign-in request was not understood. Please reload the page and try again.",
  method_not_allowed: "The sign-in request was not understood. Please reload the page and try again.",
  request_too_large: "The sign-in request was too large. Please start signing in again.",
  too_many_fields: "The sign-in request had too many fields. Please start signing in again.",
  duplicate_refresh_cookie:
    "Your browser held two sessions for this site, so both were ended. Please sign in again.",
  // This module's own codes and the API's authentication errors.
  token_not_valid: "Your session has expired. Please sign in again.",
  not_authenticated: "You are not signed in.",
  password_changed: "Your password was changed. Please sign in again.",
  app_role_required: "Your account does not hold the role this needs.",
  scope_required: "Your sign-in was not granted the access this needs.",
  invalid_entra_token: "The Microsoft token is invalid or expired. Please sign in again.",
  entra_scope_missing: "The Microsoft token was not granted access to this API.",
  entra_client_not_allowed: "This app may not call the API.",
  entra_token_reused: "This Microsoft token was already used. Please sign in again.",
  exchange_disabled: "Signing in with a Microsoft token is not enabled on this site.",
  network_error:
    "The sign-in service could not be reached. Check your connection and try again.",
  invalid_response: "The sign-in service gave an unexpected answer. Please try again.",
  client_misconfigured: "This page is not set up correctly for signing in.",
};

const FALLBACK_MESSAGE = "Sign-in failed for an unexpected reason. Please try again.";

/** A plain-English sentence for an error code; a generic sentence for unknown codes. */
export function describeError(code: string): string {
  return Object.prototype.hasOwnProperty.call(MESSAGES, code)
    ? (MESSAGES[code] ?? FALLBACK_MESSAGE)
    : FALLBACK_MESSAGE;
}

// --- helpers -------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSessionGone(error: unknown): boolean {
  return error instanceof SsoError && SESSION_GONE.has(error.code);
}

/** The code as given if it looks like one (it comes from the URL), else `unknown_error`. */
function safeCode(code: string): string {
  return /^[a-z0-9_]{1,64}$/.test(code) ? code : "unknown_error";
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => "");
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function errorFrom(status: number, body: unknown): SsoError {
  const given = isRecord(body) && typeof body.code === "string" ? safeCode(body.code) : null;
  const code =
    given ?? (status === 401 ? "not_authenticated" : status >= 500 ? "server_error" : "invalid_response");
  const detail = isRecord(body) && typeof body.detail === "string" ? body.detail : undefined;
  return new SsoError(code, detail === undefined ? { status } : { status, detail });
}

function toUser(value: unknown): SsoUser {
  if (!isRecord(value) || value.id === undefined || value.id === null) {
    throw new SsoError("invalid_response", { detail: "no user in the answer" });
  }
  const text = (field: unknown): string => (typeof field === "string" ? field : "");
  const maybe = (field: unknown): string | null => (typeof field === "string" ? field : null);
  const strings = (field: unknown): string[] =>
    Array.isArray(field) ? field.filter((item): item is string => typeof item === "string") : [];
  return {
    id: String(value.id),
    username: text(value.username),
    email: text(value.email),
    first_name: text(value.first_name),
    last_name: text(value.last_name),
    tenant_id: maybe(value.tenant_id),
    object_id: maybe(value.object_id),
    roles: strings(value.roles),
    groups: strings(value.groups),
  };
}

const SESSION_METHODS: readonly SsoSessionMethod[] = ["browser", "exchange"];

/** The `/sessions/` answer, checked field by field: a wrong shape is `invalid_response`. */
function toSessions(value: unknown): SsoSession[] {
  if (!Array.isArray(value)) {
    throw new SsoError("invalid_response", { detail: "sessions/ returned no list" });
  }
  return value.map(toSession);
}

function toSession(value: unknown): SsoSession {
  const invalid = (what: string) =>
    new SsoError("invalid_response", { detail: `a session without ${what}` });
  if (!isRecord(value)) throw invalid("fields");
  const { id, started_at, last_refreshed_at, expires_at, user_agent, method } = value;
  if (typeof id !== "string" || !id) throw invalid("an id");
  if (typeof started_at !== "string" || typeof expires_at !== "string") throw invalid("dates");
  // An unknown method is a newer API than the schema this module was built from.
  const known = SESSION_METHODS.find((candidate) => candidate === method);
  if (known === undefined) throw invalid("a known method");
  return {
    id,
    started_at,
    last_refreshed_at: typeof last_refreshed_at === "string" ? last_refreshed_at : null,
    expires_at,
    user_agent: typeof user_agent === "string" ? user_agent : "",
    method: known,
    current: value.current === true,
  };
}

/**
 * `href` without the parameters the API adds on return, keeping every other query
 * parameter exactly as written (no re-encoding) and the hash.
 */
function withoutCallbackParams(href: string): URL {
  const url = new URL(href);
  const kept = url.search
    .slice(1)
    .split("&")
    .filter((pair) => {
      if (!pair) return false;
      const rawKey = pair.split("=", 1)[0] ?? "";
      let key = rawKey;
      try {
        key = decodeURIComponent(rawKey.replace(/\+/g, " "));
      } catch {
        // Not valid percent-encoding: keep the pair untouched.
      }
      return !(CALLBACK_PARAMS as readonly string[]).includes(key);
    });
  url.search = kept.length ? `?${kept.join("&")}` : "";
  return url;
}
