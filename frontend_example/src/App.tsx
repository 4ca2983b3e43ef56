import { useCallback, useEffect, useRef, useState } from "react";

import type { components } from "./api-types";
import type { AppConfig } from "./config";
import { SsoError, describeError, type SsoClient, type SsoUser } from "./sso-client";

type AdminReport = components["schemas"]["AdminReport"];
type ApiError = components["schemas"]["Error"];

/** The example project's view for holders of the `Admin` app role, on the API's origin. */
const ADMIN_REPORT_PATH = "/api/example/admin-report/";

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

/** What the admin report answered: its message, or the reason and code of a refusal. */
interface AdminReportResult {
  status: number;
  allowed: boolean;
  message: string;
  code: ApiError["code"] | null;
}

function toShownError(error: unknown): ShownError {
  if (error instanceof SsoError) return { code: error.code, message: error.userMessage };
  return { code: "unexpected_error", message: describeError("unexpected_error") };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The admin report's answer as the page shows it, whatever the status and body. */
function toAdminReportResult(status: number, body: unknown): AdminReportResult {
  if (status === 200 && isRecord(body) && typeof body.message === "string") {
    const report = body as AdminReport;
    return { status, allowed: true, message: report.message, code: null };
  }
  if (isRecord(body) && typeof body.detail === "string") {
    const code = typeof body.code === "string" ? (body.code as ApiError["code"]) : null;
    return { status, allowed: false, message: body.detail, code };
  }
  return { status, allowed: false, message: "The API gave an unexpected answer.", code: null };
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
  const [adminReport, setAdminReport] = useState<AdminReportResult | null>(null);
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
      setAdminReport(null);
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

  const readAdminReport = () =>
    run("Asking for the admin report…", async () => {
      // The example project serves it on the API's origin, beside sso_api's mount.
      const url = new URL(ADMIN_REPORT_PATH, config.apiBase).href;
      const response = await client.authorizedFetch(url, {
        headers: { Accept: "application/json" },
      });
      setAdminReport(toAdminReportResult(response.status, parseJson(await response.text())));
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
          <dl className="access">
            <div>
              <dt>App roles</dt>
              <dd data-testid="user-roles">
                <Badges items={user.roles} />
              </dd>
            </div>
            <div>
              <dt>Groups</dt>
              <dd data-testid="user-groups">
                <Badges items={user.groups} />
              </dd>
            </div>
          </dl>
          <p className="muted small">
            App roles come from Microsoft, in your token. Groups are your groups in this API,
            kept in step with your app roles and Entra groups at every sign-in. The admin
            report answers holders of the app role Admin only.
          </p>
          <div className="actions">
            <button type="button" className="secondary" onClick={callMe} data-testid="call-me">
              Call /me/ again
            </button>
            <button
              type="button"
              className="secondary"
              onClick={readAdminReport}
              data-testid="admin-report"
            >
              Read the admin report
            </button>
            <button type="button" className="secondary" onClick={signOut} data-testid="sign-out">
              Sign out
            </button>
          </div>
          {adminReport && (
            <div
              className={adminReport.allowed ? "notice allowed" : "notice refused"}
              aria-live="polite"
              data-testid="admin-report-result"
            >
              <p>
                <strong>{adminReport.allowed ? "Allowed" : "Refused"}</strong>:{" "}
                <code>GET {ADMIN_REPORT_PATH}</code> answered HTTP {adminReport.status}.
              </p>
              <p data-testid="admin-report-message">{adminReport.message}</p>
              {adminReport.code && (
                <p className="error-code">
                  Code: <code data-testid="admin-report-code">{adminReport.code}</code>
                </p>
              )}
            </div>
          )}
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
          <h3 className="label" id="user-json-label">
            Your user record
          </h3>
          <pre aria-labelledby="user-json-label" data-testid="user-json">
            {JSON.stringify(user, null, 2)}
          </pre>
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

function Badges({ items }: { items: readonly string[] }) {
  if (items.length === 0) return <span className="muted">none</span>;
  return (
    <ul className="badges">
      {items.map((item) => (
        <li key={item} className="badge">
          {item}
        </li>
      ))}
    </ul>
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

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function pretty(text: string): string {
  const parsed = parseJson(text);
  return parsed === null ? text : JSON.stringify(parsed, null, 2);
}
