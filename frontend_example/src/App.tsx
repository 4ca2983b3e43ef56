import { useCallback, useEffect, useRef, useState } from "react";

import type { AppConfig } from "./config";
import { SsoError, describeError, type SsoClient, type SsoUser } from "./sso-client";

interface Props {
  client: SsoClient;
  config: AppConfig;
}

interface ShownError {
  code: string;
  message: string;
}

interface MeResult {
  status: number;
  body: string;
}

function toShownError(error: unknown): ShownError {
  if (error instanceof SsoError) return { code: error.code, message: error.userMessage };
  return { code: "unexpected_error", message: describeError("unexpected_error") };
}

function displayName(user: SsoUser): string {
  const full = [user.first_name, user.last_name].filter(Boolean).join(" ");
  return full || user.username || user.email || `user ${user.id}`;
}

export function App({ client, config }: Props) {
  const [user, setUser] = useState<SsoUser | null>(client.user);
  /** What the page is busy with, or null. "Checking" until the start-up work is done. */
  const [busy, setBusy] = useState<string | null>("Checking your sign-in…");
  const [error, setError] = useState<ShownError | null>(null);
  const [meResult, setMeResult] = useState<MeResult | null>(null);
  const booted = useRef(false);

  useEffect(() => client.subscribe(setUser), [client]);

  useEffect(() => {
    // Coming back with the browser's Back button from Microsoft restores this page from the
    // back/forward cache, still "redirecting": make it usable again.
    const onPageShow = (event: PageTransitionEvent) => {
      if (event.persisted) setBusy(null);
    };
    window.addEventListener("pageshow", onPageShow);
    return () => window.removeEventListener("pageshow", onPageShow);
  }, []);

  useEffect(() => {
    // Once per page, even under StrictMode's double effects: the sso_code is single-use.
    if (booted.current) return;
    booted.current = true;
    (async () => {
      try {
        const signedIn = await client.completeSignIn();
        if (!signedIn && config.cookieMode) await client.restoreSession();
      } catch (caught) {
        setError(toShownError(caught));
      } finally {
        setBusy(null);
      }
    })();
  }, [client, config.cookieMode]);

  const run = useCallback(async (label: string, action: () => Promise<void>) => {
    setError(null);
    setBusy(label);
    try {
      await action();
    } catch (caught) {
      setError(toShownError(caught));
    } finally {
      setBusy(null);
    }
  }, []);

  const signIn = () =>
    run("Redirecting to Microsoft…", async () => {
      await client.signIn();
      // The page is unloading; keep the working state until it does.
      await new Promise(() => undefined);
    });

  const signOut = () =>
    run("Signing out…", async () => {
      setMeResult(null);
      await client.signOut();
    });

  const callMe = () =>
    run("Calling /me/…", async () => {
      const response = await client.authorizedFetch(`${trailingSlash(config.apiBase)}me/`, {
        headers: { Accept: "application/json" },
      });
      const text = await response.text();
      setMeResult({ status: response.status, body: pretty(text) });
    });

  return (
    <main className="page">
      <header className="header">
        <h1>Sign in with Microsoft</h1>
        <p className="muted">
          Example single-page app for <code>{config.apiBase}</code>
          {config.cookieMode ? " (refresh cookie mode)" : " (tokens in memory only)"}
        </p>
      </header>

      {error && (
        <div className="error" role="alert" data-testid="error">
          <p>{error.message}</p>
          <p className="error-code">
            Error code: <code data-testid="error-code">{error.code}</code>
          </p>
          <button type="button" className="link" onClick={() => setError(null)}>
            Dismiss
          </button>
        </div>
      )}

      {busy ? (
        <section className="card" aria-busy="true" data-testid="working">
          <p role="status" className="status">
            <span className="spinner" aria-hidden="true" />
            {busy}
          </p>
        </section>
      ) : user ? (
        <section className="card" aria-labelledby="signed-in-heading">
          <h2 id="signed-in-heading">
            Signed in as <span data-testid="user-name">{displayName(user)}</span>
          </h2>
          <h3 className="label" id="user-json-label">
            Your user record
          </h3>
          <pre aria-labelledby="user-json-label" data-testid="user-json">
            {JSON.stringify(user, null, 2)}
          </pre>
          <div className="actions">
            <button type="button" className="secondary" onClick={callMe} data-testid="call-me">
              Call /me/ again
            </button>
            <button type="button" className="secondary" onClick={signOut} data-testid="sign-out">
              Sign out
            </button>
          </div>
          {meResult && (
            <>
              <h3 className="label" id="me-result-label">
                Answer of /me/ (HTTP {meResult.status})
              </h3>
              <pre aria-labelledby="me-result-label" aria-live="polite" data-testid="me-result">
                {meResult.body}
              </pre>
            </>
          )}
        </section>
      ) : (
        <section className="card" aria-labelledby="signed-out-heading">
          <h2 id="signed-out-heading">You are signed out</h2>
          <p className="muted">Use your work or school account to continue.</p>
          <button type="button" className="microsoft" onClick={signIn} data-testid="sign-in">
            <MicrosoftLogo />
            Sign in with Microsoft
          </button>
        </section>
      )}
    </main>
  );
}

function MicrosoftLogo() {
  return (
    <svg width="20" height="20" viewBox="0 0 21 21" aria-hidden="true" focusable="false">
      <rect x="1" y="1" width="9" height="9" fill="#f25022" />
      <rect x="11" y="1" width="9" height="9" fill="#7fba00" />
      <rect x="1" y="11" width="9" height="9" fill="#00a4ef" />
      <rect x="11" y="11" width="9" height="9" fill="#ffb900" />
    </svg>
  );
}

function trailingSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
