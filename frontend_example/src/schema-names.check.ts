/**
 * The API types a client gets from openapi-typescript, checked by the compiler.
 *
 * `api-types.ts` is generated from docs/openapi.yaml before every build, type check and
 * test run (`npm run generate:api`), and `tsc` reads this file with the rest of `src/`
 * (`npm run build`, `npm run typecheck`). It names the components a client imports and
 * states what it relies on about them; a schema change that renames one, splits the error
 * type again or loosens a field fails the build. Nothing here is bundled or run.
 */

import type { components } from "./api-types";

type Schemas = components["schemas"];

// The names a client imports: one per endpoint and direction, one error type.
export type StartRequest = Schemas["StartRequest"];
export type StartResponse = Schemas["StartResponse"];
export type CallbackRequest = Schemas["CallbackRequest"];
export type TokenRequest = Schemas["TokenRequest"];
export type TokenResponse = Schemas["TokenResponse"];
export type RefreshRequest = Schemas["RefreshRequest"];
export type TokenPair = Schemas["TokenPair"];
export type LogoutRequest = Schemas["LogoutRequest"];
export type LogoutResponse = Schemas["LogoutResponse"];
export type User = Schemas["User"];
export type Session = Schemas["Session"];
export type SessionMethod = Schemas["MethodEnum"];
export type LogoutAllResponse = Schemas["LogoutAllResponse"];
export type ApiError = Schemas["Error"];
export type ErrorCode = Schemas["ErrorCodeEnum"];

// drf-spectacular once named request bodies "StartRequestRequest"; no such name remains.
// @ts-expect-error: not a component of the schema
export type DoubledSuffix = Schemas["StartRequestRequest"];

/** `true` when `A` and `B` are the same type, `false` otherwise. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2
  ? true
  : false;

// Each entry must be `true`: a wrong one is a compile error.
export const shapes: [
  Same<ApiError["code"], ErrorCode>,
  Same<ApiError["detail"], string>,
  Same<ApiError["fields"], { [key: string]: string[] } | undefined>,
  Same<StartRequest["code_challenge_method"], "S256" | undefined>,
  Same<StartRequest["next"], string | undefined>,
  Same<StartResponse["authorization_url"], string>,
  Same<TokenRequest["sso_code"], string>,
  Same<TokenPair["access"], string>,
  Same<TokenPair["refresh"], string | undefined>,
  Same<TokenPair["token_type"], "Bearer">,
  Same<TokenPair["expires_in"], number>,
  Same<TokenResponse["user"], User>,
  Same<User["tenant_id"], string | null>,
  Same<LogoutResponse["logout_url"], string | null>,
  Same<Session["id"], string>,
  Same<Session["last_refreshed_at"], string | null>,
  Same<Session["user_agent"], string>,
  Same<Session["method"], "browser" | "exchange">,
  Same<Session["current"], boolean>,
  Same<LogoutAllResponse["ended"], number>,
  // What ending someone else's (or an ended) session answers, by name.
  Same<Extract<ErrorCode, "session_not_found">, "session_not_found">,
] = [
  true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true,
  true, true, true, true, true,
];

/**
 * A client's `/start/` body: the method is the literal "S256", and `redirect` (which has a
 * default) may be left out. openapi-typescript 7 makes every property with a default
 * required unless given `--default-non-nullable false`, as `generate:api` does.
 */
export function startRequest(codeChallenge: string, next: string): StartRequest {
  return { next, code_challenge: codeChallenge, code_challenge_method: "S256" };
}

/**
 * Branching on the one error type. Each `case` must be a member of the code enum, the
 * callback's `server_error` and the outage codes of every endpoint included.
 */
export function retryLater(error: ApiError): boolean {
  switch (error.code) {
    case "cache_unavailable":
    case "database_unavailable":
    case "provider_unavailable":
    case "throttled":
      return true;
    case "server_error":
    case "invalid_request":
      return false;
    default:
      return false;
  }
}
