/**
 * Runtime configuration: `./config.json` next to index.html, written by whoever serves
 * `dist/`, so one build works against any API. Without it: `VITE_SSO_API_BASE` at build
 * time, else the local development API. See config.example.json.
 */
export interface AppConfig {
  /** Where sso_api is mounted, e.g. "http://127.0.0.1:8000/api/sso/". */
  apiBase: string;
  /** Keep the refresh token in the API's HttpOnly cookie (session survives reloads). */
  cookieMode: boolean;
}

export const DEFAULT_API_BASE = "http://127.0.0.1:8000/api/sso/";

export function fallbackConfig(envApiBase: string | undefined): AppConfig {
  return { apiBase: envApiBase || DEFAULT_API_BASE, cookieMode: true };
}

/** Merges a parsed config.json over the fallback, ignoring fields of the wrong type. */
export function parseConfig(raw: unknown, fallback: AppConfig): AppConfig {
  if (typeof raw !== "object" || raw === null) return fallback;
  const record = raw as Record<string, unknown>;
  return {
    apiBase:
      typeof record.apiBase === "string" && record.apiBase ? record.apiBase : fallback.apiBase,
    cookieMode: typeof record.cookieMode === "boolean" ? record.cookieMode : fallback.cookieMode,
  };
}

export async function loadConfig(
  fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  envApiBase: string | undefined = import.meta.env.VITE_SSO_API_BASE as string | undefined,
): Promise<AppConfig> {
  const fallback = fallbackConfig(envApiBase);
  try {
    const response = await fetchImpl("./config.json", {
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return fallback;
    return parseConfig(await response.json(), fallback);
  } catch {
    // Missing, or not JSON (a dev server may answer index.html): use the fallback.
    return fallback;
  }
}
