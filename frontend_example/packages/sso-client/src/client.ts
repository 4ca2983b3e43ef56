/**
 * "Sign in with Microsoft" for a single-page app, against the `sso_api` Django REST API.
 *
 * Framework-free. Where the secrets live:
 * - The access token lives in memory only; it is never written to any storage.
 * - Body mode (the default): the refresh token is in memory too, so a reload signs the user
 *   out. Cookie mode (`cookieMode: true`, with the API's `MICROSOFT_SSO_REFRESH_COOKIE`): the
 *   refresh token is an HttpOnly cookie this code never sees, shared by every tab.
 * - A sign-in in progress (its PKCE verifier) sits in sessionStorage, private to the tab,
 *   keyed by a transaction id that the return address carries back, and expires.
 * - Cookie mode notes in localStorage that a refresh cookie may exist ("1", never a token),
 *   and that a sign-out still has to reach the API.
 *
 * One identity per origin: tabs tell each other about sign-ins and sign-outs, and a refresh
 * that answers another user than the one shown is never taken silently.
 */

import type { components } from "./api-types.js";
import {
  broadcastChannel,
  LockTimeoutError,
  storageChannel,
  storageLock,
  webLock,
  type CrossTabChannel,
  type CrossTabLock,
  type CrossTabMessage,
} from "./cross-tab.js";
import { SsoError, errorForCode } from "./errors.js";
import { codeChallengeS256, createCodeVerifier, randomToken } from "./pkce.js";
import type { SsoStorage } from "./storage.js";

type Schemas = components["schemas"];

/** The signed-in user, as the API's `/token/`, `/token/refresh/` and `/me/` describe them. */
export type SsoUser = Schemas["User"];
/** One of the signed-in user's sessions (one per sign-in), as `/sessions/` lists it. */
export type SsoSession = Schemas["Session"];
/** How a session began: `"browser"` (this flow) or `"exchange"` (an app's MSAL token). */
export type SsoSessionMethod = Schemas["MethodEnum"];
type TokenAnswer = Schemas["TokenResponse"];
type RefreshAnswer = Schemas["TokenPair"];
type StartAnswer = Schemas["StartResponse"];
type LogoutAnswer = Schemas["LogoutResponse"];
type LogoutAllAnswer = Schemas["LogoutAllResponse"];

/** Why the client is signed out. */
export type SignOutReason =
  /** {@link SsoClient.signOut} or {@link SsoClient.signOutEverywhere} in this tab. */
  | "signed_out"
  /** Another tab of the origin signed out. */
  | "other_tab"
  /** The API said the session is gone (revoked, expired, reused, ended elsewhere). */
  | "session_ended"
  /** Another user signed in elsewhere and the rule is to sign out (see `onUserChange`). */
  | "user_changed";

/**
 * The client's state: a new object at every change, the same object otherwise, as
 * React's `useSyncExternalStore` needs. `error` is the last failure worth showing: why a
 * sign-in did not complete, or (status `"error"`) why the client cannot tell whether the
 * user is signed in.
 */
export type SsoState =
  | { readonly status: "initializing"; readonly user: null; readonly error: null }
  | {
      readonly status: "signed_out";
      readonly user: null;
      readonly error: SsoError | null;
      readonly reason: SignOutReason | null;
    }
  | { readonly status: "signed_in"; readonly user: SsoUser; readonly error: SsoError | null }
  | { readonly status: "error"; readonly user: null; readonly error: SsoError };

/** The events of {@link SsoClient.on}, by name. */
export interface SsoEvents {
  /** Signed in from signed out: in this tab, or adopted from another tab (cookie mode). */
  signedIn: { readonly user: SsoUser };
  /** Signed out, and why. */
  signedOut: { readonly reason: SignOutReason };
  /** Another person is now signed in than the one shown until now (cookie mode). */
  userChanged: { readonly previous: SsoUser; readonly user: SsoUser };
  /** The client entered the `error` state. */
  error: { readonly error: SsoError };
}

/** The parts of `window.location` this package uses. */
export interface SsoLocation {
  readonly href: string;
  assign(url: string): void;
}

/** The parts of `window.history` this package uses (`state` is kept when present). */
export interface SsoHistory {
  readonly state?: unknown;
  replaceState(data: unknown, unused: string, url?: string | URL | null): void;
}

export type { SsoStorage } from "./storage.js";

/** Options of {@link SsoClient}. Only `apiBase` is required in a browser. */
export interface SsoClientOptions {
  /** Where `sso_api` is mounted, e.g. `https://api.example.com/api/sso/`. */
  apiBase: string;
  /**
   * Keep the refresh token in the API's HttpOnly cookie, so a session survives reloads.
   * API requests then go with `credentials: "include"` and `X-SSO-CSRF: 1`. Default `false`.
   */
  cookieMode?: boolean;
  /** Refresh the access token when it expires within this many seconds. Default 30. */
  refreshMarginSeconds?: number;
  /** Every request to the API gives up after this long. Default 15 000 ms. */
  requestTimeoutMs?: number;
  /** How long to wait for another tab's refresh to finish. Default 20 000 ms. */
  lockTimeoutMs?: number;
  /**
   * Origins `authorizedFetch` may send the access token to. Default: the API's origin.
   * Any other origin is refused with `untrusted_origin`, before anything is sent.
   */
  authorizedOrigins?: readonly string[];
  /**
   * Cookie mode: what to do when a refresh answers another user than the one shown
   * (another tab signed in as someone else; they share the cookie). `"switch"` (default):
   * show the new user and emit `userChanged`. `"sign_out"`: sign out here, reason
   * `"user_changed"`, without touching the other tab's session. Body mode always signs out.
   */
  onUserChange?: "switch" | "sign_out";
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Where a sign-in in progress waits for the return trip. Default: `sessionStorage`. */
  storage?: SsoStorage;
  /**
   * Cookie mode: where the client notes that a refresh cookie may exist and that a
   * sign-out is still owed to the API. Default: `localStorage`. `null`: no notes (every
   * page load asks the API).
   */
  sessionHintStorage?: SsoStorage | null;
  /** How tabs tell each other. Default: BroadcastChannel, else storage events. `null`: none. */
  crossTab?: CrossTabChannel | null;
  /** How tabs take turns refreshing (cookie mode). Default: Web Locks, else a storage lease. */
  lock?: CrossTabLock | null;
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

/** Query parameters the API (and this client) add to the return address; removed at once. */
const CALLBACK_PARAMS = ["sso_code", "sso_error", "sso_error_description", "sso_tx"] as const;
/** The return address's parameter naming this tab's transaction (the client's own). */
const TRANSACTION_PARAM = "sso_tx";
const TRANSACTIONS_KEY = "sso-client:transactions";
/** How long a sign-in may take when `/start/` does not say (the API's default is 10 minutes). */
const DEFAULT_TRANSACTION_SECONDS = 600;
const COOKIE_SESSION_HINT_KEY = "sso-client:cookie-session";
const PENDING_LOGOUT_KEY = "sso-client:logout-pending";
const REFRESH_LOCK = "sso-client:refresh";
/** After a refresh failed with an outage and no Retry-After, wait this long before the next. */
const DEFAULT_BACKOFF_SECONDS = 5;

interface Session {
  access: string;
  /** When the access token stops working (ms). */
  expiresAt: number;
  /** When to refresh it proactively (ms). */
  refreshAt: number;
  /** Body mode only: the current refresh token. */
  refresh: string | null;
}

interface Transaction {
  verifier: string;
  expiresAt: number;
}

const INITIALIZING: SsoState = { status: "initializing", user: null, error: null };

/**
 * Signs a user in with Microsoft through `sso_api` and keeps their tokens fresh.
 *
 * On every page load call {@link SsoClient.initialize} (once or many times: it runs once);
 * read the state with {@link SsoClient.getSnapshot} and {@link SsoClient.subscribe}, or
 * listen to {@link SsoClient.on}. One instance per page.
 */
export class SsoClient {
  private readonly apiBase: string;
  private readonly cookieMode: boolean;
  private readonly marginMs: number;
  private readonly timeoutMs: number;
  private readonly lockTimeoutMs: number;
  private readonly allowedOrigins: ReadonlySet<string>;
  private readonly apiOrigin: string;
  private readonly options: SsoClientOptions;
  private readonly now: () => number;
  private readonly channel: CrossTabChannel | null;
  private readonly lock: CrossTabLock | null;
  private readonly stopListening: () => void;

  private state: SsoState = INITIALIZING;
  private session: Session | null = null;
  private readonly storeListeners = new Set<() => void>();
  private readonly eventListeners = new Map<keyof SsoEvents, Set<(event: never) => void>>();
  private initializing: Promise<SsoState> | null = null;
  /** The one refresh in flight, shared by every caller that needs a new access token. */
  private refreshing: Promise<Session> | null = null;
  /** No refresh before this time (ms): the API asked to wait, or it is having an outage. */
  private refreshBlockedUntil = 0;
  private refreshBlockedBy: SsoError | null = null;
  /** Bumped whenever the session is dropped, so work in flight cannot bring it back. */
  private generation = 0;

  constructor(options: SsoClientOptions) {
    if (!options.apiBase) {
      throw new SsoError("client_misconfigured", { detail: "apiBase is required" });
    }
    this.options = options;
    const base = options.apiBase.endsWith("/") ? options.apiBase : `${options.apiBase}/`;
    const apiUrl = new URL(base, options.location?.href ?? globalThis.location?.href);
    this.apiBase = apiUrl.href;
    this.apiOrigin = apiUrl.origin;
    this.cookieMode = options.cookieMode ?? false;
    this.marginMs = Math.max(0, options.refreshMarginSeconds ?? 30) * 1000;
    this.timeoutMs = Math.max(1, options.requestTimeoutMs ?? 15_000);
    this.lockTimeoutMs = Math.max(1, options.lockTimeoutMs ?? 20_000);
    this.allowedOrigins = new Set(
      (options.authorizedOrigins ?? [apiUrl.origin]).map((origin) => new URL(origin).origin),
    );
    this.now = options.now ?? (() => Date.now());
    this.channel =
      options.crossTab !== undefined
        ? options.crossTab
        : (broadcastChannel(`sso-client:${this.apiBase}`) ??
          storageChannel(`sso-client:message:${this.apiBase}`));
    this.lock = options.lock !== undefined ? options.lock : this.defaultLock();
    this.stopListening = this.channel?.listen((message) => this.onOtherTab(message)) ?? (() => {});
  }

  // --- state and events ----------------------------------------------------------------

  /** The current state; the same object until it changes. */
  readonly getSnapshot = (): SsoState => this.state;

  /** Calls `listener` after every state change; returns a function that unsubscribes. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.storeListeners.add(listener);
    return () => {
      this.storeListeners.delete(listener);
    };
  };

  /** Calls `handler` for each event `name`; returns a function that unsubscribes. */
  on<K extends keyof SsoEvents>(name: K, handler: (event: SsoEvents[K]) => void): () => void {
    let handlers = this.eventListeners.get(name);
    if (!handlers) {
      handlers = new Set();
      this.eventListeners.set(name, handlers);
    }
    const stored = handler as (event: never) => void;
    handlers.add(stored);
    return () => {
      handlers.delete(stored);
    };
  }

  /** The signed-in user, or `null`. */
  get user(): SsoUser | null {
    return this.state.user;
  }

  /** Stops listening to other tabs. The client keeps working in this tab alone. */
  dispose(): void {
    this.stopListening();
    this.channel?.close();
  }

  // --- the page load -------------------------------------------------------------------

  /**
   * Brings the client from `initializing` to its first real state, once per page however
   * often it is called (React StrictMode runs effects twice; the sign-in code works once):
   *
   * 1. a sign-out that could not reach the API last time is sent again (cookie mode);
   * 2. a return from Microsoft (`sso_code` or `sso_error` in the address) is completed: the
   *    parameters leave the address bar first, and a code that this tab's stored
   *    transaction does not expect is refused here, without being sent anywhere;
   * 3. otherwise, in cookie mode, the session in the refresh cookie is resumed.
   *
   * Resolves the state reached; never rejects (failures are in `state.error`).
   */
  initialize(): Promise<SsoState> {
    this.initializing ??= this.runInitialize();
    return this.initializing;
  }

  private async runInitialize(): Promise<SsoState> {
    const url = new URL(this.location().href);
    const returning = url.searchParams.has("sso_code") || url.searchParams.has("sso_error");
    if (this.cookieMode && this.hint(PENDING_LOGOUT_KEY)) {
      try {
        await this.sendLogout(null);
      } catch (error) {
        // Never resume a session the user asked to end. A sign-in coming back is the
        // user's newer wish: it goes ahead, and tries the sign-out again first.
        if (!returning) return this.enterError(asSsoError(error, "sign_out_incomplete"));
      }
    }
    if (returning) {
      try {
        await this.completeCallback(url);
        return this.state;
      } catch (error) {
        const failure = asSsoError(error);
        if (this.state.status === "signed_in") return this.state;
        // A failed sign-in does not end a session the cookie may still hold (another tab's,
        // or this user's from before): resume it, and report the failure beside it.
        if (this.cookieMode && this.cookieSessionMayExist()) {
          const restored = await this.restore();
          if (restored.status === "signed_in") {
            this.setState({ ...restored, error: failure });
            return this.state;
          }
          if (restored.status === "error") return restored;
        }
        this.setState({ status: "signed_out", user: null, error: failure, reason: null });
        return this.state;
      }
    }
    if (this.state.status !== "initializing") return this.state; // another tab got here first
    if (!this.cookieMode || !this.cookieSessionMayExist()) {
      this.setState({ status: "signed_out", user: null, error: null, reason: null });
      return this.state;
    }
    return this.restore();
  }

  /** Cookie mode: the session in the refresh cookie, or the reason there is none. */
  private async restore(): Promise<SsoState> {
    try {
      const session = await this.refresh(true);
      // An API older than the user in /token/refresh/ answers none: ask /me/.
      if (this.state.status !== "signed_in" && session) await this.me();
      return this.state;
    } catch (error) {
      const failure = asSsoError(error);
      if (failure.sessionGone) {
        if (this.state.status === "initializing") {
          this.setState({ status: "signed_out", user: null, error: null, reason: null });
        }
        return this.state;
      }
      // The cookie may well hold a live session: saying "signed out" would hide it.
      this.dropTokens();
      return this.enterError(failure);
    }
  }

  private async completeCallback(url: URL): Promise<void> {
    const code = url.searchParams.get("sso_code");
    const error = url.searchParams.get("sso_error");
    const transactionId = url.searchParams.get(TRANSACTION_PARAM);
    const history = this.history();
    const clean = withoutCallbackParams(url.href);
    history.replaceState(history.state ?? null, "", clean.pathname + clean.search + clean.hash);

    // Read before the transaction is taken: when the API lost the flow (expired, unknown
    // state) it sends the error to MICROSOFT_SSO_LOGIN_FAILED_URL, without our `sso_tx`.
    const signInPending = Object.keys(this.withoutExpired(this.readTransactions())).length > 0;
    const transaction = this.takeTransaction(transactionId);
    // An error this tab did not start a sign-in for is refused like a stray code: anyone
    // can link to the app with `sso_error`, and it must not pose as this tab's failure.
    // It is this tab's when it names one of its transactions or, naming none, when a
    // sign-in of this tab is in progress.
    const errorIsOurs = transactionId === null ? signInPending : transaction !== "missing";
    if (error !== null && !errorIsOurs) throw new SsoError("no_sign_in_in_progress");
    if (error !== null) {
      const description = url.searchParams.get("sso_error_description");
      // sso_error_description is whatever the address bar says: logs only, never shown.
      throw errorForCode(error, description === null ? {} : { detail: description });
    }
    if (!code || transaction === "missing") {
      // A code this tab did not ask for (copied, planted, or from another tab) is never
      // sent: if the API accepted codes without a verifier, redeeming a planted one would
      // sign this browser in as whoever planted it.
      throw new SsoError("no_sign_in_in_progress");
    }
    if (transaction === "expired") throw new SsoError("sign_in_expired");
    await this.redeem(code, transaction.verifier);
  }

  private async redeem(code: string, verifier: string): Promise<void> {
    const generation = this.generation;
    const answer = await this.withRefreshLock(async () => {
      // A sign-out that still has to reach the API is for the cookie this sign-in replaces.
      if (this.cookieMode && this.hint(PENDING_LOGOUT_KEY)) {
        await this.sendLogout(null).catch(() => undefined);
      }
      const redeemed = await this.post("token/", { sso_code: code, code_verifier: verifier });
      // The cookie the owed sign-out was for is replaced now: sending it at the next load
      // would end the session that just began.
      this.noteHint(PENDING_LOGOUT_KEY, false);
      return redeemed;
    });
    const session = this.toSession(answer);
    const user = toUser(isRecord(answer) ? (answer as Partial<TokenAnswer>).user : undefined);
    if (generation !== this.generation) return;
    this.session = session;
    this.refreshBlockedUntil = 0;
    this.refreshBlockedBy = null;
    this.noteHint(COOKIE_SESSION_HINT_KEY, true);
    this.acceptUser(user);
    this.channel?.post({ type: "signed_in", userId: user.id });
  }

  // --- sign-in and sign-out ------------------------------------------------------------

  /**
   * Starts a sign-in: a PKCE pair and a transaction kept in this tab, `/start/`, then
   * navigates to Microsoft. The promise settles just before the page unloads; it rejects
   * with an {@link SsoError} if the API refuses or names a page that is not https.
   */
  async signIn(options: SignInOptions = {}): Promise<void> {
    const verifier = createCodeVerifier();
    const challenge = await codeChallengeS256(verifier);
    const transactionId = randomToken(16);
    const returnTo = new URL(options.returnTo ?? withoutCallbackParams(this.location().href).href);
    returnTo.searchParams.set(TRANSACTION_PARAM, transactionId);
    this.saveTransaction(transactionId, {
      verifier,
      expiresAt: this.now() + DEFAULT_TRANSACTION_SECONDS * 1000,
    });
    const body: Record<string, string> = {
      next: returnTo.href,
      code_challenge: challenge,
      code_challenge_method: "S256",
    };
    if (options.prompt) body.prompt = options.prompt;
    if (options.loginHint) body.login_hint = options.loginHint;
    try {
      const answer = await this.post("start/", body);
      const started = isRecord(answer) ? (answer as Partial<StartAnswer>) : {};
      if (typeof started.authorization_url !== "string") {
        throw new SsoError("invalid_response", { detail: "start/ returned no authorization_url" });
      }
      const url = safeNavigation(started.authorization_url);
      if (typeof started.expires_in === "number" && started.expires_in > 0) {
        this.saveTransaction(transactionId, {
          verifier,
          expiresAt: this.now() + started.expires_in * 1000,
        });
      }
      this.location().assign(url);
    } catch (error) {
      this.takeTransaction(transactionId);
      throw error;
    }
  }

  /**
   * Signs out: forgets the tokens and the user at once (every tab of the origin follows),
   * then asks the API to revoke the session and follows Microsoft's sign-out URL when the
   * API returns one. Never waits for a refresh in flight; the request has a timeout.
   *
   * @throws SsoError `sign_out_incomplete` when the API could not be told. In cookie mode
   *   the client remembers it and sends the sign-out again at the next page load instead of
   *   resuming the session; the local sign-out has happened anyway.
   */
  async signOut(): Promise<void> {
    const refresh = this.session?.refresh ?? null;
    if (!this.cookieMode && refresh === null) {
      this.signOutHere("signed_out", true);
      return;
    }
    // Noted before anything else: if this page dies mid-request, the next load finishes it.
    if (this.cookieMode) this.noteHint(PENDING_LOGOUT_KEY, true);
    this.signOutHere("signed_out", true);
    let logoutUrl: string | null;
    try {
      logoutUrl = await this.sendLogout(refresh);
    } catch (error) {
      throw asSsoError(error, "sign_out_incomplete");
    }
    if (logoutUrl !== null) this.location().assign(safeNavigation(logoutUrl));
  }

  /**
   * Signs the user out on every device (`POST /logout/all/`): every session ends, this one
   * included. With the same guarantees as {@link SsoClient.signOut}: the client is signed
   * out here (and in every tab) at once, before the request, which has a timeout.
   *
   * When the API cannot be told: in cookie mode the sign-out of this browser's cookie is
   * owed and sent (as a plain `logout/`, the access token being gone) at the next page
   * load; in body mode this session's refresh token is revoked at once (`logout/`). The
   * other devices stay signed in until the user tries again.
   *
   * @returns how many sessions the API ended.
   * @throws SsoError `not_authenticated` when nobody is signed in; `sign_out_incomplete`
   *   when the API could not end the sessions (the local sign-out has happened anyway).
   */
  async signOutEverywhere(): Promise<number> {
    // A token that still works is taken as it is, so the sign-out here happens at once;
    // only an expired one waits for a refresh first.
    const held = this.session;
    let access: string | null = held && this.now() < held.expiresAt ? held.access : null;
    let failure: unknown = null;
    if (access === null) {
      try {
        access = await this.getAccessToken();
      } catch (error) {
        failure = error; // Signed out here all the same; the sessions stay for the next try.
      }
    }
    if (access === null && failure === null) throw new SsoError("not_authenticated");
    const refresh = this.session?.refresh ?? null;
    // Noted before anything else: if this page dies mid-request, the next load ends the
    // session in the cookie.
    if (this.cookieMode) this.noteHint(PENDING_LOGOUT_KEY, true);
    this.signOutHere("signed_out", true);
    try {
      if (access === null) throw failure;
      const answer = await this.endAllSessions(access);
      if (this.cookieMode) this.noteHint(PENDING_LOGOUT_KEY, false);
      const ended = isRecord(answer) ? (answer as Partial<LogoutAllAnswer>).ended : undefined;
      return typeof ended === "number" ? ended : 0;
    } catch (error) {
      // Body mode has no next load to finish it: end at least this session now.
      if (!this.cookieMode && refresh !== null) await this.sendLogout(refresh).catch(() => null);
      throw asSsoError(error, "sign_out_incomplete");
    }
  }

  /** `POST /logout/all/` with `access`, which the client no longer holds. */
  private async endAllSessions(access: string): Promise<unknown> {
    const init: RequestInit = {
      method: "POST",
      headers: { Accept: "application/json" },
      cache: "no-store",
      // A cross-origin Set-Cookie (the answer clearing the cookie) needs credentials.
      credentials: this.cookieMode ? "include" : "omit",
    };
    const [response, answer] = await this.fetch(
      `${this.apiBase}logout/all/`,
      { ...init, headers: bearerHeaders(init.headers, access) },
      async (r) => [r, await readJson(r)] as const,
    );
    if (!response.ok) throw errorFrom(response, answer);
    return answer;
  }

  // --- tokens --------------------------------------------------------------------------

  /**
   * A valid access token, refreshed first when it expires within `refreshMarginSeconds`.
   * Concurrent callers share one refresh. While the API asks to wait (`Retry-After`) or is
   * down, a token that still works is handed out without asking again.
   *
   * @returns the token, or `null` when nobody is signed in.
   * @throws SsoError when a needed refresh fails (the session is dropped if it is gone).
   */
  async getAccessToken(): Promise<string | null> {
    const session = this.session;
    if (!session) return null;
    const now = this.now();
    if (now < session.refreshAt) return session.access;
    if (now < this.refreshBlockedUntil) {
      if (now < session.expiresAt) return session.access;
      throw this.refreshBlockedBy ?? new SsoError("throttled");
    }
    try {
      return (await this.refresh(false)).access;
    } catch (error) {
      const current = this.session;
      if (current && asSsoError(error).retryable && this.now() < current.expiresAt) {
        return current.access;
      }
      throw error;
    }
  }

  /**
   * `fetch` with `Authorization: Bearer <access>`, for the configured origins only
   * (`authorizedOrigins`, the API's by default). On a 401 from the API's origin it
   * refreshes once and retries once; a second 401, or a 401 from any other origin, is
   * returned as is. Pass bodies that can be sent twice.
   *
   * @throws SsoError `untrusted_origin` for any other origin (nothing is sent),
   *   `not_authenticated` when nobody is signed in, `timeout`, or a refresh failure.
   */
  async authorizedFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(String(input), this.location().href);
    if (!this.allowedOrigins.has(url.origin)) {
      throw new SsoError("untrusted_origin", { detail: url.origin });
    }
    const token = await this.getAccessToken();
    if (token === null) throw new SsoError("not_authenticated");
    const response = await this.send(url.href, init, token);
    // Only the API speaks for the session: another origin's 401 (its own rules, or a
    // mistake) must not rotate the refresh token, and goes back to the caller as is.
    if (response.status !== 401 || url.origin !== this.apiOrigin) return response;

    // Another caller may already have replaced the token this request used.
    let retryToken = this.session && this.session.access !== token ? this.session.access : null;
    if (retryToken === null) {
      if (!this.session) return response;
      if (this.now() < this.refreshBlockedUntil) {
        throw this.refreshBlockedBy ?? new SsoError("throttled");
      }
      retryToken = (await this.refresh(false)).access;
    }
    return this.send(url.href, init, retryToken);
  }

  /** Reads the signed-in user from `/me/` (and updates the state). */
  async me(): Promise<SsoUser> {
    const user = toUser(await this.callAsUser("GET", "me/"));
    this.acceptUser(user);
    return user;
  }

  /**
   * The signed-in user's live sessions from `/sessions/`, newest first, `current` marking
   * this client's. `user_agent` is whatever the signing-in client sent: text, never markup.
   */
  async listSessions(): Promise<SsoSession[]> {
    return toSessions(await this.callAsUser("GET", "sessions/"));
  }

  /**
   * Ends one of the user's sessions (`DELETE /sessions/{id}/`); that device is signed out
   * at its next refresh. To end this client's own session, use {@link SsoClient.signOut}.
   *
   * @throws SsoError `session_not_found` when the id is not one of the user's live sessions.
   */
  async endSession(sessionId: string): Promise<void> {
    await this.callAsUser("DELETE", `sessions/${encodeURIComponent(sessionId)}/`);
  }

  // --- internals -----------------------------------------------------------------------

  private async callAsUser(method: "GET" | "POST" | "DELETE", path: string): Promise<unknown> {
    const init: RequestInit = {
      method,
      headers: { Accept: "application/json" },
      cache: "no-store",
    };
    // A cross-origin Set-Cookie (/logout/all/ clearing the cookie) needs credentials.
    if (this.cookieMode) init.credentials = "include";
    const response = await this.authorizedFetch(`${this.apiBase}${path}`, init);
    const body = await readJson(response);
    if (!response.ok) {
      const error = errorFrom(response, body);
      if (error.sessionGone) this.signOutHere("session_ended", this.cookieMode);
      throw error;
    }
    return body;
  }

  /** Rotates the tokens; every concurrent caller gets the same promise. */
  private refresh(force: boolean): Promise<Session> {
    if (this.refreshing) return this.refreshing;
    const generation = this.generation;
    const run = async (): Promise<Session> => {
      try {
        if (!force && !this.session) throw new SsoError("not_authenticated");
        const answer = await this.withRefreshLock(() => {
          // Read inside the lock: a refresh that waited may find the token rotated.
          const refreshToken = this.session?.refresh ?? null;
          if (!this.cookieMode && refreshToken === null) {
            throw new SsoError("session_expired", { detail: "no refresh token in memory" });
          }
          return this.post("token/refresh/", this.cookieMode ? {} : { refresh: refreshToken });
        });
        if (generation !== this.generation) throw new SsoError("session_revoked");
        const session = this.toSession(answer);
        // The user is checked before the tokens are kept: tokens that answer a malformed,
        // missing or refused user never reach memory.
        const rawUser = isRecord(answer) ? (answer as Partial<RefreshAnswer>).user : undefined;
        const user = rawUser === undefined ? null : toUser(rawUser);
        if (user === null && this.state.status !== "initializing") {
          // The API always names the user (docs/api.md, "Refresh"); only the page load's
          // restore may ask /me/ instead, as nobody is shown yet. In body mode the refresh
          // token in memory is spent now: its next use ends the session (reuse detection).
          throw new SsoError("invalid_response", { detail: "token/refresh/ named no user" });
        }
        if (user !== null && this.refusesUser(user)) {
          // Sign out here only: the session now in the cookie is the other tab's to end.
          this.signOutHere("user_changed", false);
          throw new SsoError("not_authenticated");
        }
        this.session = session;
        this.refreshBlockedUntil = 0;
        this.refreshBlockedBy = null;
        this.noteHint(COOKIE_SESSION_HINT_KEY, true);
        if (user !== null) this.acceptUser(user);
        return session;
      } catch (caught) {
        const error = asSsoError(caught);
        if (generation === this.generation) {
          if (error.sessionGone) {
            this.signOutHere("session_ended", this.cookieMode);
          } else if (error.retryable) {
            // No refresh storm: wait as long as the API asked, or a moment.
            const seconds = error.retryAfterSeconds ?? DEFAULT_BACKOFF_SECONDS;
            this.refreshBlockedUntil = this.now() + seconds * 1000;
            this.refreshBlockedBy = error;
          }
        }
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
   * In cookie mode every tab shares one refresh cookie, and a refresh or a sign-in in one
   * tab replaces it for all. Two tabs refreshing with the same cookie would look like theft
   * to the API (reuse detection revokes the session), and a refresh answered after another
   * tab's sign-in would put the earlier user's cookie back. So refreshes and sign-ins take
   * turns across tabs; waiting is bounded by `lockTimeoutMs`.
   */
  private async withRefreshLock<T>(task: () => Promise<T>): Promise<T> {
    if (!this.cookieMode || !this.lock) return task();
    try {
      return await this.lock.run(REFRESH_LOCK, this.lockTimeoutMs, task);
    } catch (error) {
      if (error instanceof LockTimeoutError) throw new SsoError("refresh_lock_timeout");
      throw error;
    }
  }

  private defaultLock(): CrossTabLock | null {
    if (!this.cookieMode) return null;
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (locks) return webLock(locks);
    const shared = this.sessionHints();
    // The lease outlives the longest task it guards (a sign-in: the owed logout/, then
    // token/, each up to the request timeout), so no other tab takes it mid-task; and a
    // tab that dies holding it frees it soon.
    const leaseMs = 2 * this.timeoutMs + 1_000;
    return shared ? storageLock(shared, { leaseMs, now: this.now }) : null;
  }

  /**
   * Whether `user`, named by an API answer, is someone else than the signed-in user whom
   * the rule (`onUserChange`; body mode always) says not to switch to.
   */
  private refusesUser(user: SsoUser): boolean {
    const current = this.state;
    if (current.status !== "signed_in" || sameIdentity(current.user, user)) return false;
    return !(this.cookieMode && (this.options.onUserChange ?? "switch") === "switch");
  }

  /** Takes the user an API answer names, by the documented rule when it is someone else. */
  private acceptUser(user: SsoUser): void {
    const current = this.state;
    if (current.status !== "signed_in") {
      this.setState({ status: "signed_in", user, error: null });
      this.emit("signedIn", { user });
      return;
    }
    if (sameIdentity(current.user, user)) {
      if (JSON.stringify(current.user) !== JSON.stringify(user)) {
        this.setState({ status: "signed_in", user, error: current.error });
      }
      return;
    }
    if (this.refusesUser(user)) {
      // Sign out here only: the session now in the cookie is the other tab's to end.
      this.signOutHere("user_changed", false);
      return;
    }
    this.setState({ status: "signed_in", user, error: null });
    this.emit("userChanged", { previous: current.user, user });
  }

  /** What another tab said. */
  private onOtherTab(message: CrossTabMessage): void {
    // A message during the page load waits for it, so the two never interleave.
    const handle = () => this.applyOtherTab(message);
    if (this.initializing && this.state.status === "initializing") {
      void this.initializing.then(handle);
    } else {
      handle();
    }
  }

  private applyOtherTab(message: CrossTabMessage): void {
    const shown = this.state.user;
    if (message.type === "signed_out") {
      if (this.state.status === "signed_out") return;
      const refresh = this.session?.refresh ?? null;
      this.signOutHere("other_tab", false);
      // Body mode: this tab's session is its own; end it at the API too.
      if (!this.cookieMode && refresh !== null) void this.sendLogout(refresh).catch(() => undefined);
      return;
    }
    if (shown !== null && shown.id === message.userId) return;
    if (this.cookieMode) {
      // The cookie is now the other tab's sign-in: take it, by the rule in acceptUser.
      void this.refresh(true).catch(() => undefined);
      return;
    }
    if (shown !== null) {
      const refresh = this.session?.refresh ?? null;
      this.signOutHere("user_changed", false);
      if (refresh !== null) void this.sendLogout(refresh).catch(() => undefined);
    }
  }

  /** Forgets the session in this tab and says so; `tell` also tells the other tabs. */
  private signOutHere(reason: SignOutReason, tell: boolean): void {
    this.dropTokens();
    // Another user signed in elsewhere: the cookie holds their live session, so the note
    // stays and the next page load resumes it.
    if (reason !== "user_changed") this.noteHint(COOKIE_SESSION_HINT_KEY, false);
    // Finding no session while the page loads is no event: nobody saw one.
    const wasSignedIn = this.state.status === "signed_in" || this.state.status === "error";
    this.setState({ status: "signed_out", user: null, error: null, reason });
    if (wasSignedIn) this.emit("signedOut", { reason });
    // Only a tab that was signed in speaks for the session: a page load finding a stale
    // cookie, or a failed attempt to join another tab's session, must not sign others out.
    if (tell && wasSignedIn) this.channel?.post({ type: "signed_out" });
  }

  private dropTokens(): void {
    this.generation += 1;
    this.session = null;
    this.refreshing = null;
    // A wait the API asked of the old session is no reason to hold back the next one.
    this.refreshBlockedUntil = 0;
    this.refreshBlockedBy = null;
  }

  private enterError(error: SsoError): SsoState {
    this.setState({ status: "error", user: null, error });
    this.emit("error", { error });
    return this.state;
  }

  /** Tells the API to end the session; `null` in cookie mode. Resolves the logout URL. */
  private async sendLogout(refresh: string | null): Promise<string | null> {
    let answer: unknown = null;
    try {
      answer = await this.post("logout/", this.cookieMode ? {} : { refresh });
    } catch (error) {
      if (!(error instanceof SsoError && error.sessionGone)) throw error;
    }
    if (this.cookieMode) this.noteHint(PENDING_LOGOUT_KEY, false);
    const url = isRecord(answer) ? (answer as Partial<LogoutAnswer>).logout_url : null;
    return typeof url === "string" ? url : null;
  }

  private setState(next: SsoState): void {
    this.state = next;
    for (const listener of [...this.storeListeners]) isolate(listener);
  }

  private emit<K extends keyof SsoEvents>(name: K, event: SsoEvents[K]): void {
    const handlers = this.eventListeners.get(name);
    if (!handlers) return;
    for (const handler of [...handlers]) {
      isolate(() => (handler as (event: SsoEvents[K]) => void)(event));
    }
  }

  private send(url: string, init: RequestInit, token: string): Promise<Response> {
    return this.fetch(url, { ...init, headers: bearerHeaders(init.headers, token) });
  }

  /** POSTs JSON to the API; resolves the parsed body or rejects with an SsoError. */
  private async post(path: string, body: unknown): Promise<unknown> {
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      Accept: "application/json",
    };
    if (this.cookieMode) headers["X-SSO-CSRF"] = "1";
    const init: RequestInit = {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      credentials: this.cookieMode ? "include" : "omit",
      cache: "no-store",
    };
    // The body is read within the timeout too: a stalled answer must not hang a sign-out.
    const [response, answer] = await this.fetch(`${this.apiBase}${path}`, init, async (r) => [
      r,
      await readJson(r),
    ] as const);
    if (!response.ok) throw errorFrom(response, answer);
    return answer;
  }

  /**
   * `fetch` with this client's timeout, the caller's signal kept, and no Referer. `read`,
   * when given, runs on the response within the same timeout.
   */
  private fetch(url: string, init: RequestInit): Promise<Response>;
  private fetch<T>(url: string, init: RequestInit, read: (response: Response) => Promise<T>): Promise<T>;
  private async fetch<T>(
    url: string,
    init: RequestInit,
    read?: (response: Response) => Promise<T>,
  ): Promise<T | Response> {
    const impl = this.options.fetch ?? globalThis.fetch;
    if (typeof impl !== "function") {
      throw new SsoError("client_misconfigured", { detail: "no fetch available" });
    }
    const controller = new AbortController();
    const callerSignal = init.signal ?? null;
    const onCallerAbort = () => controller.abort(callerSignal?.reason);
    if (callerSignal?.aborted) onCallerAbort();
    callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new SsoError("timeout"));
      }, this.timeoutMs);
    });
    try {
      // Called with globalThis: the browser's fetch refuses another `this`. The race also
      // ends a stand-in fetch that ignores the signal.
      const work = impl
        .call(globalThis, url, { referrerPolicy: "no-referrer", ...init, signal: controller.signal })
        .then<T | Response>((response) => (read ? read(response) : response));
      return await Promise.race([work, timedOut]);
    } catch (error) {
      if (error instanceof SsoError) throw error;
      if (callerSignal?.aborted) throw error; // the caller's own abort stays theirs
      throw new SsoError("network_error", { detail: String(error), cause: error });
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener("abort", onCallerAbort);
    }
  }

  private toSession(answer: unknown): Session {
    if (!isRecord(answer) || typeof answer.access !== "string" || !answer.access) {
      throw new SsoError("invalid_response", { detail: "no access token in the answer" });
    }
    const tokens = answer as Partial<RefreshAnswer>;
    const lifetimeMs = Math.max(0, Number(tokens.expires_in) || 0) * 1000;
    const now = this.now();
    // Refresh `margin` before expiry, but never before half the lifetime has passed: a
    // token that lives less than the margin would otherwise be refreshed on every call.
    const refreshIn = Math.max(lifetimeMs - this.marginMs, lifetimeMs / 2);
    const keepRefresh = !this.cookieMode && typeof tokens.refresh === "string";
    return {
      access: answer.access,
      expiresAt: now + lifetimeMs,
      refreshAt: now + refreshIn,
      refresh: keepRefresh ? (tokens.refresh ?? null) : (this.session?.refresh ?? null),
    };
  }

  // --- transactions (sessionStorage, this tab only) -------------------------------------

  private readTransactions(): Record<string, Transaction> {
    try {
      const parsed = JSON.parse(this.storage().getItem(TRANSACTIONS_KEY) ?? "{}") as unknown;
      if (!isRecord(parsed)) return {};
      const kept: Record<string, Transaction> = {};
      for (const [id, value] of Object.entries(parsed)) {
        if (
          isRecord(value) &&
          typeof value.verifier === "string" &&
          typeof value.expiresAt === "number"
        ) {
          kept[id] = { verifier: value.verifier, expiresAt: value.expiresAt };
        }
      }
      return kept;
    } catch (error) {
      if (error instanceof SsoError) throw error;
      return {};
    }
  }

  private writeTransactions(transactions: Record<string, Transaction>): void {
    const storage = this.storage();
    if (Object.keys(transactions).length === 0) storage.removeItem(TRANSACTIONS_KEY);
    else storage.setItem(TRANSACTIONS_KEY, JSON.stringify(transactions));
  }

  private saveTransaction(id: string, transaction: Transaction): void {
    const transactions = this.withoutExpired(this.readTransactions());
    transactions[id] = transaction;
    this.writeTransactions(transactions);
  }

  /** Removes and returns the transaction `id`, dropping every expired one on the way. */
  private takeTransaction(id: string | null): Transaction | "missing" | "expired" {
    const transactions = this.readTransactions();
    const found = id !== null && Object.prototype.hasOwnProperty.call(transactions, id)
      ? transactions[id]
      : undefined;
    if (id !== null) delete transactions[id];
    this.writeTransactions(this.withoutExpired(transactions));
    if (found === undefined) return "missing";
    return found.expiresAt <= this.now() ? "expired" : found;
  }

  private withoutExpired(transactions: Record<string, Transaction>): Record<string, Transaction> {
    const now = this.now();
    return Object.fromEntries(
      Object.entries(transactions).filter(([, transaction]) => transaction.expiresAt > now),
    );
  }

  // --- notes in shared storage (cookie mode) --------------------------------------------

  private cookieSessionMayExist(): boolean {
    return this.sessionHints() === null || this.hint(COOKIE_SESSION_HINT_KEY);
  }

  private hint(key: string): boolean {
    const hints = this.notesFor(key);
    if (!hints) return false;
    try {
      return hints.getItem(key) !== null;
    } catch {
      return key === COOKIE_SESSION_HINT_KEY; // Refused: ask the API, as without hints.
    }
  }

  private noteHint(key: string, present: boolean): void {
    const hints = this.cookieMode ? this.notesFor(key) : null;
    if (!hints) return;
    try {
      if (present) hints.setItem(key, "1");
      else hints.removeItem(key);
    } catch {
      // Storage full or refused: the next page load asks the API, as without hints.
    }
  }

  /**
   * Where the note `key` lives. Without hint storage (`sessionHintStorage: null`) the owed
   * sign-out still needs a place: this tab's `storage`, so at least its next load sends it.
   */
  private notesFor(key: string): SsoStorage | null {
    const hints = this.sessionHints();
    if (hints || key !== PENDING_LOGOUT_KEY) return hints;
    try {
      return this.options.storage ?? globalThis.sessionStorage ?? null;
    } catch {
      return null; // Reading sessionStorage throws where the browser blocks storage.
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

  private storage(): SsoStorage {
    return required(this.options.storage ?? globalThis.sessionStorage, "sessionStorage");
  }

  private location(): SsoLocation {
    return required(this.options.location ?? globalThis.location, "location");
  }

  private history(): SsoHistory {
    return required(this.options.history ?? globalThis.history, "history");
  }
}

// --- helpers -------------------------------------------------------------------------------

function bearerHeaders(headers: HeadersInit | undefined, token: string): Headers {
  const withToken = new Headers(headers);
  withToken.set("Authorization", `Bearer ${token}`);
  return withToken;
}

function required<T>(value: T | undefined | null, name: string): T {
  if (value === undefined || value === null) {
    throw new SsoError("client_misconfigured", { detail: `no ${name}: pass it in the options` });
  }
  return value;
}

/** Runs a listener so that its exception is reported, never thrown into the client. */
function isolate(run: () => void): void {
  try {
    run();
  } catch (error) {
    const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
    if (typeof report === "function") report(error);
    else
      setTimeout(() => {
        throw error;
      });
  }
}

function asSsoError(error: unknown, fallback: "unknown_error" | "sign_out_incomplete" = "unknown_error"): SsoError {
  if (error instanceof SsoError) {
    if (fallback === "sign_out_incomplete" && !error.sessionGone) {
      return new SsoError("sign_out_incomplete", {
        ...(error.status === undefined ? {} : { status: error.status }),
        cause: error,
      });
    }
    return error;
  }
  return new SsoError(fallback, { detail: String(error), cause: error });
}

/** Whether two user records are the same person (not merely the same profile). */
function sameIdentity(a: SsoUser, b: SsoUser): boolean {
  return a.id === b.id && a.tenant_id === b.tenant_id && a.object_id === b.object_id;
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * `url` if the browser may be sent there: https, or http on loopback (development and the
 * demo). Anything else (http elsewhere, javascript:, data:) is refused.
 */
export function safeNavigation(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SsoError("unsafe_redirect", { detail: "not an absolute URL" });
  }
  const allowed =
    parsed.protocol === "https:" || (parsed.protocol === "http:" && isLoopback(parsed.hostname));
  if (!allowed) throw new SsoError("unsafe_redirect", { detail: parsed.protocol });
  return parsed.href;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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

/** Seconds from a `Retry-After` header: a number of seconds or an HTTP date. */
function retryAfterSeconds(response: Response): number | undefined {
  const value = response.headers.get("Retry-After");
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function errorFrom(response: Response, body: unknown): SsoError {
  const status = response.status;
  const detail = isRecord(body) && typeof body.detail === "string" ? body.detail : undefined;
  const retryAfter = status === 429 || status === 503 ? retryAfterSeconds(response) : undefined;
  const options = {
    status,
    ...(detail === undefined ? {} : { detail }),
    ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
  };
  if (isRecord(body) && typeof body.code === "string") return errorForCode(body.code, options);
  if (status === 401) return new SsoError("not_authenticated", options);
  if (status === 429) return new SsoError("throttled", options);
  if (status >= 500) return new SsoError("server_error", options);
  return new SsoError("invalid_response", options);
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

function toSessions(value: unknown): SsoSession[] {
  if (!Array.isArray(value)) {
    throw new SsoError("invalid_response", { detail: "sessions/ returned no list" });
  }
  return value.map(toSessionRow);
}

function toSessionRow(value: unknown): SsoSession {
  const invalid = (what: string) =>
    new SsoError("invalid_response", { detail: `a session without ${what}` });
  if (!isRecord(value)) throw invalid("fields");
  const { id, started_at, last_refreshed_at, expires_at, user_agent, method } = value;
  if (typeof id !== "string" || !id) throw invalid("an id");
  if (typeof started_at !== "string" || typeof expires_at !== "string") throw invalid("dates");
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
 * `href` without the parameters of the return trip, keeping every other query parameter
 * exactly as written (no re-encoding) and the hash.
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
