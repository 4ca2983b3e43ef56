/**
 * Every failure of the client is an {@link SsoError}: a code from the API's schema or one of
 * the client's own, a sentence for people, and whether trying again later may help.
 */

import type { components } from "./api-types.js";

/** Every `code` the API documents in its schema (`ErrorCodeEnum`), callback errors included. */
export type ApiErrorCode = components["schemas"]["ErrorCodeEnum"];

/** Failures the client finds itself, with no API answer behind them. */
export type LocalErrorCode =
  /** The API could not be reached (offline, DNS, CORS refused, connection reset). */
  | "network_error"
  /** The API did not answer within `requestTimeoutMs`. */
  | "timeout"
  /** The API answered something this client cannot read. */
  | "invalid_response"
  /** The client's options or environment are incomplete. */
  | "client_misconfigured"
  /** A callback arrived that this tab never started, or whose record is gone. */
  | "no_sign_in_in_progress"
  /** A callback arrived for a sign-in started too long ago. */
  | "sign_in_expired"
  /** The API named a page to navigate to that is not https (or loopback http). */
  | "unsafe_redirect"
  /** `authorizedFetch` was asked to send the access token to an origin not configured. */
  | "untrusted_origin"
  /** Another tab held the refresh lock for longer than `lockTimeoutMs`. */
  | "refresh_lock_timeout"
  /** Sign-out happened here, but the API could not be told; it is retried at next load. */
  | "sign_out_incomplete"
  /** A code this client does not know (an API newer than its schema, or a bad URL). */
  | "unknown_error";

/** Every code an {@link SsoError} can carry. */
export type SsoErrorCode = ApiErrorCode | LocalErrorCode;

// One sentence per code. The type makes the compiler refuse a schema code without a
// sentence (and a sentence for a code that no longer exists): regenerating the schema's
// types after the API adds a code fails the build until it is described here.
const MESSAGES: Record<SsoErrorCode, string> = {
  access_denied: "Sign-in was cancelled at Microsoft, or access was not granted.",
  app_role_required: "Your account does not hold the role this needs.",
  authentication_failed: "Your sign-in could not be checked. Please sign in again.",
  bad_authorization_header: "Your sign-in could not be read. Please sign in again.",
  cache_unavailable: "The sign-in service is temporarily unavailable. Please try again shortly.",
  code_challenge_required:
    "The sign-in request was incomplete (no PKCE challenge). Please reload the page and try again.",
  csrf_failed: "The request did not prove it came from this app. Please reload the page.",
  database_unavailable: "The sign-in service is temporarily unavailable. Please try again shortly.",
  domain_not_allowed: "Accounts with your email domain are not allowed to sign in here.",
  duplicate_refresh_cookie:
    "Your browser held two sessions for this site, so both were ended. Please sign in again.",
  email_not_verified:
    "Microsoft has not verified the email address of this account, so it cannot sign in here.",
  entra_client_not_allowed: "This app may not call the API.",
  entra_scope_missing: "The Microsoft token was not granted access to this API.",
  entra_token_reused: "This Microsoft token was already used. Please sign in again.",
  exchange_disabled: "Signing in with a Microsoft token is not enabled on this site.",
  groups_unavailable:
    "Your group memberships could not be read from Microsoft right now. Please try again shortly.",
  interaction_required:
    "Microsoft needs you to sign in again yourself. Please use the sign-in button.",
  invalid_code_challenge:
    "The sign-in request was malformed (bad PKCE challenge). Please reload the page and try again.",
  invalid_code_verifier:
    "Sign-in was started in another browser or tab. Please start again from this page.",
  invalid_entra_token: "The Microsoft token is invalid or expired. Please sign in again.",
  invalid_id_token: "Microsoft's answer could not be verified. Please start signing in again.",
  invalid_next_url: "This page is not allowed as a sign-in return address. Contact the site owner.",
  invalid_refresh_token: "Your session is no longer valid. Please sign in again.",
  invalid_request: "The sign-in request was not understood. Please reload the page and try again.",
  invalid_sso_code:
    "This sign-in link has expired or was already used. Please start signing in again.",
  invalid_state:
    "This sign-in link has expired or was already used. Please start signing in again.",
  login_refused: "This account is not allowed to sign in here.",
  method_not_allowed:
    "The sign-in request was not understood. Please reload the page and try again.",
  not_authenticated: "You are not signed in.",
  parse_error: "The sign-in request was not understood. Please reload the page and try again.",
  password_changed: "Your password was changed. Please sign in again.",
  provider_error: "Microsoft could not complete the sign-in. Please try again.",
  provider_unavailable:
    "Microsoft's sign-in service could not be reached. Please try again in a moment.",
  refresh_token_reused:
    "For your safety, your session was ended because it was used from two places. Please sign in again.",
  request_too_large: "The sign-in request was too large. Please start signing in again.",
  response_mode_mismatch:
    "Microsoft's answer came back in an unexpected way. Please start signing in again.",
  scope_required: "Your sign-in was not granted the access this needs.",
  server_error: "Something went wrong on the server. Please try again.",
  session_expired: "Your session has expired. Please sign in again.",
  session_not_found: "That session has already ended.",
  session_revoked: "You have been signed out. Please sign in again.",
  sso_disabled: "Sign-in with Microsoft is turned off on this site.",
  sso_not_configured: "Sign-in with Microsoft is not set up on this site yet.",
  tenant_not_allowed: "Accounts from your organization are not allowed to sign in here.",
  throttled: "Too many requests in a short time. Please wait a moment and try again.",
  token_exchange_failed: "Microsoft did not accept the sign-in. Please start again.",
  token_not_valid: "Your session has expired. Please sign in again.",
  too_many_fields: "The sign-in request had too many fields. Please start signing in again.",
  unsupported_media_type:
    "The sign-in request was not understood. Please reload the page and try again.",
  user_inactive: "Your account here is disabled. Contact an administrator.",
  user_not_found: "There is no account for you here yet. Ask an administrator for access.",
  // The client's own.
  network_error: "The sign-in service could not be reached. Check your connection and try again.",
  timeout: "The sign-in service took too long to answer. Please try again.",
  invalid_response: "The sign-in service gave an unexpected answer. Please try again.",
  client_misconfigured: "This page is not set up correctly for signing in.",
  no_sign_in_in_progress:
    "This sign-in was not started in this tab, so it was not completed. Please sign in again here.",
  sign_in_expired: "This sign-in took too long. Please start signing in again.",
  unsafe_redirect: "The sign-in service named an unsafe address, so this page did not go there.",
  untrusted_origin: "This page tried to send your sign-in to a site it does not trust.",
  refresh_lock_timeout: "Another tab of this site is busy renewing your sign-in. Please try again.",
  sign_out_incomplete:
    "You are signed out here, but the server could not be told yet. It will be told when you come back.",
  unknown_error: "Sign-in failed for an unexpected reason. Please try again.",
};

/** Codes after which trying the same thing again later may succeed. */
const RETRYABLE: ReadonlySet<SsoErrorCode> = new Set<SsoErrorCode>([
  "network_error",
  "timeout",
  "throttled",
  "cache_unavailable",
  "database_unavailable",
  "provider_unavailable",
  "groups_unavailable",
  "server_error",
  "refresh_lock_timeout",
  "sign_out_incomplete",
]);

/** Codes that mean "there is no session any more" (as opposed to "try again later"). */
const SESSION_GONE: ReadonlySet<SsoErrorCode> = new Set<SsoErrorCode>([
  "invalid_refresh_token",
  "refresh_token_reused",
  "session_revoked",
  "session_expired",
  "token_not_valid",
  "not_authenticated",
  "password_changed",
  "duplicate_refresh_cookie",
  "user_inactive",
  "user_not_found",
]);

/** Whether `code` is one of the codes this client knows (from the schema or its own). */
export function isSsoErrorCode(code: string): code is SsoErrorCode {
  return Object.prototype.hasOwnProperty.call(MESSAGES, code);
}

/** A plain-English sentence for an error code; a generic sentence for unknown codes. */
export function describeError(code: string): string {
  return isSsoErrorCode(code) ? MESSAGES[code] : MESSAGES.unknown_error;
}

/** Options of {@link SsoError}. */
export interface SsoErrorOptions {
  status?: number;
  /** For logs only: the API's `detail`, or `sso_error_description` (untrusted text). */
  detail?: string;
  /** Seconds the API asked to wait (`Retry-After` on 429 and 503). */
  retryAfterSeconds?: number;
  /** The code as received, when it is not one this client knows. */
  receivedCode?: string;
  cause?: unknown;
}

/** Every failure this package reports: a stable `code` and a sentence for people. */
export class SsoError extends Error {
  /** Stable snake_case code: the API's `code`, `sso_error`, or one of this client's own. */
  readonly code: SsoErrorCode;
  /** A plain-English sentence to show the user ({@link describeError} of the code). */
  readonly userMessage: string;
  /** HTTP status of the API answer that failed, when there was one. */
  readonly status: number | undefined;
  /**
   * The API's `detail` or the callback's `sso_error_description`, for logs. It may come
   * from the address bar, so anyone can write it: never display it as trusted text.
   */
  readonly detail: string | undefined;
  /** Whether the same call may succeed later (outage, rate limit, timeout). */
  readonly retryable: boolean;
  /** Seconds to wait before trying again, when the API said (`Retry-After`). */
  readonly retryAfterSeconds: number | undefined;
  /** The code as received when it was unknown and `code` is `unknown_error`. */
  readonly receivedCode: string | undefined;

  constructor(code: SsoErrorCode, options: SsoErrorOptions = {}) {
    const userMessage = describeError(code);
    super(userMessage, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SsoError";
    this.code = code;
    this.userMessage = userMessage;
    this.status = options.status;
    this.detail = options.detail;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.receivedCode = options.receivedCode;
    this.retryable =
      RETRYABLE.has(code) || options.status === 429 || options.status === 503;
  }

  /** Whether this error means the session is gone and the user must sign in again. */
  get sessionGone(): boolean {
    return SESSION_GONE.has(this.code);
  }
}

/** An {@link SsoError} for a code read from outside (a URL, an API body). */
export function errorForCode(received: string, options: SsoErrorOptions = {}): SsoError {
  // Only codes this client knows are kept: the URL is attacker-writable, and a code is
  // shown to users next to its sentence.
  if (isSsoErrorCode(received)) return new SsoError(received, options);
  const receivedCode = /^[a-z0-9_]{1,64}$/.test(received) ? received : undefined;
  return new SsoError(
    "unknown_error",
    receivedCode === undefined ? options : { ...options, receivedCode },
  );
}
