/**
 * `@sso-api/client`: "Sign in with Microsoft" for single-page apps, against `sso_api`.
 *
 * @packageDocumentation
 */

export {
  SsoClient,
  safeNavigation,
  type SignInOptions,
  type SignOutReason,
  type SsoClientOptions,
  type SsoEvents,
  type SsoHistory,
  type SsoLocation,
  type SsoSession,
  type SsoSessionMethod,
  type SsoState,
  type SsoUser,
} from "./client.js";
export {
  SsoError,
  describeError,
  isSsoErrorCode,
  type ApiErrorCode,
  type LocalErrorCode,
  type SsoErrorCode,
  type SsoErrorOptions,
} from "./errors.js";
export {
  broadcastChannel,
  storageChannel,
  storageLock,
  webLock,
  LockTimeoutError,
  type CrossTabChannel,
  type CrossTabLock,
  type CrossTabMessage,
} from "./cross-tab.js";
export { codeChallengeS256, createCodeVerifier } from "./pkce.js";
export type { SsoStorage } from "./storage.js";
/** The API's schema, as openapi-typescript generates it from docs/openapi.yaml. */
export type { components as ApiComponents, paths as ApiPaths } from "./api-types.js";
