/** PKCE (RFC 7636): the verifier stays in the tab, its S256 challenge goes to `/start/`. */

/** 48 random bytes give a 64-character verifier (RFC 7636 allows 43 to 128). */
const VERIFIER_BYTES = 48;

/** A fresh PKCE code verifier: base64url of 48 random bytes (64 characters). */
export function createCodeVerifier(): string {
  return randomToken(VERIFIER_BYTES);
}

/** base64url of `bytes` random bytes, from the platform's CSPRNG. */
export function randomToken(bytes: number): string {
  const buffer = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buffer);
  return base64Url(buffer);
}

/** The S256 code challenge of a verifier: base64url(SHA-256(verifier)), no padding. */
export async function codeChallengeS256(verifier: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
