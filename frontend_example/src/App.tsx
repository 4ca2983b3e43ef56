import { useCallback, useEffect, useRef, useState } from "react";

import {
  SsoError,
  describeError,
  type SsoSession,
  type SsoSessionMethod,
  type SsoUser,
} from "@sso-api/client";
import { useSso, useSsoClient, useSsoEvent } from "@sso-api/react";

import type { components } from "./api-types";
import type { AppConfig } from "./config";

type AdminReport = components["schemas"]["AdminReport"];
type ApiError = components["schemas"]["Error"];

/** The example project's view for holders of the `Admin` app role, on the API's origin. */
const ADMIN_REPORT_PATH = "/api/example/admin-report/";

/** How each way of signing in reads in the sessions list. */
const METHOD_LABELS: Record<SsoSessionMethod, string> = {
  browser: "Signed in with Microsoft in a browser",
  exchange: "Signed in from an app with a Microsoft token",
};

/** How often the sessions list's "5 minutes ago" texts are brought up to date. */
const CLOCK_TICK_MS = 30_000;

interface Props {
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
  // userMessage comes from the code, never from the API's or the address bar's text.
  if (error instanceof SsoError) return { code: error.code, message: error.userMessage };
  return { code: "unknown_error", message: describeError("unknown_error") };
}

/** What the page says after the identity changed without this tab's doing. */
interface IdentityNotice {
  kind: "user-changed" | "signed-out-elsewhere";
  message: string;
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

/**
 * A date as the sessions list says it: "just now", "5 minutes ago", "in 14 days". Relative
 * times tell a person at a glance which session is which; the exact time is in the
 * `<time>` element's `title` and `dateTime`.
 */
function relativeTime(iso: string, now: number): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const seconds = Math.round((at - now) / 1000);
  if (Math.abs(seconds) < 60) return "just now";
  const format = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
  ];
  for (const [unit, size] of units) {
    // Rounded, not truncated: a 14-day session that began seconds ago ends "in 14 days".
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return "just now";
}

function exactTime(iso: string): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  return new Date(at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function sessionCount(count: number): string {
  return count === 1 ? "1 session" : `${count} sessions`;
}

function displayName(user: SsoUser): string {
  const full = [user.first_name, user.last_name].filter(Boolean).join(" ");
  return full || user.username || user.email || `user ${user.id}`;
}

export function App({ config }: Props) {
  const client = useSsoClient();
  const state = useSso();
  const user = state.user;
  /** What the page is busy with, or null. */
  const [busy, setBusy] = useState<string | null>(null);
  /** The failure of the last button pressed here. */
  const [actionError, setError] = useState<ShownError | null>(null);
  /** The client's own error (a refused sign-in, an outage at load) once dismissed. */
  const [dismissed, setDismissed] = useState<SsoError | null>(null);
  const [notice, setNotice] = useState<IdentityNotice | null>(null);
  const stateError = state.error !== null && state.error !== dismissed ? state.error : null;
  const error = actionError ?? (stateError ? toShownError(stateError) : null);
  const [meResult, setMeResult] = useState<MeResult | null>(null);
  const [adminReport, setAdminReport] = useState<AdminReportResult | null>(null);
  /** The signed-in user's sessions; null until the first answer. */
  const [sessions, setSessions] = useState<SsoSession[] | null>(null);
  /** How many sessions "Sign out everywhere" ended, shown once signed out. */
  const [endedEverywhere, setEndedEverywhere] = useState<number | null>(null);
  /** Bumped by every sessions request: only the latest one's outcome is shown. */
  const sessionsRequest = useRef(0);

  // Another tab changed who is signed in: say so, never switch silently.
  useSsoEvent("userChanged", ({ user: now }) => {
    setMeResult(null);
    setAdminReport(null);
    setNotice({
      kind: "user-changed",
      message: `You are now signed in as ${displayName(now)}: they signed in in another tab of this browser.`,
    });
  });
  useSsoEvent("signedOut", ({ reason }) => {
    setMeResult(null);
    setAdminReport(null);
    if (reason === "other_tab" || reason === "user_changed") {
      setNotice({
        kind: "signed-out-elsewhere",
        message:
          reason === "other_tab"
            ? "You were signed out in another tab of this browser."
            : "Someone else signed in in another tab of this browser, so you were signed out here.",
      });
    }
  });
  useSsoEvent("signedIn", () => setNotice(null));

  const loadSessions = useCallback(async () => {
    const request = ++sessionsRequest.current;
    try {
      const listed = await client.listSessions();
      // A list that arrives after the user signed out is nobody's business any more.
      if (request === sessionsRequest.current && client.user !== null) setSessions(listed);
    } catch (caught) {
      // Shown even when the failure signed the user out (their session was ended
      // elsewhere): that is what they need to hear.
      if (request === sessionsRequest.current) setError(toShownError(caught));
    }
  }, [client]);

  const userId = user?.id ?? null;
  useEffect(() => {
    setSessions(null);
    if (userId !== null) void loadSessions();
  }, [userId, loadSessions]);

  useEffect(() => {
    // Coming back with the browser's Back button from Microsoft restores this page from the
    // back/forward cache, still "redirecting": make it usable again.
    const onPageShow = (event: PageTransitionEvent) => {
      if (event.persisted) setBusy(null);
    };
    window.addEventListener("pageshow", onPageShow);
    return () => window.removeEventListener("pageshow", onPageShow);
  }, []);

  const run = useCallback(
    async (label: string, action: () => Promise<void>) => {
      setError(null);
      setNotice(null);
      // A new action makes the client's last error old news too.
      setDismissed(client.getSnapshot().error);
      setBusy(label);
      try {
        await action();
      } catch (caught) {
        setError(toShownError(caught));
      } finally {
        setBusy(null);
      }
    },
    [client],
  );

  const signIn = () =>
    run("Redirecting to Microsoft…", async () => {
      setEndedEverywhere(null);
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

  const endSession = (session: SsoSession) =>
    run("Ending the session…", async () => {
      try {
        await client.endSession(session.id);
      } finally {
        // Also after a refusal: session_not_found means the list is out of date.
        await loadSessions();
      }
    });

  const signOutEverywhere = () =>
    run("Signing out everywhere…", async () => {
      setMeResult(null);
      setAdminReport(null);
      setEndedEverywhere(await client.signOutEverywhere());
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

      {notice && (
        <div className="notice allowed" role="status" data-testid={notice.kind}>
          <p>{notice.message}</p>
          <button type="button" className="link" onClick={() => setNotice(null)}>
            Dismiss
          </button>
        </div>
      )}

      {error && (
        <div className="error" role="alert" data-testid="error">
          <p>{error.message}</p>
          <p className="error-code">
            Error code: <code data-testid="error-code">{error.code}</code>
          </p>
          <button
            type="button"
            className="link"
            onClick={() => {
              setError(null);
              setDismissed(state.error);
            }}
          >
            Dismiss
          </button>
        </div>
      )}

      {busy || state.status === "initializing" ? (
        <section className="card" aria-busy="true" data-testid="working">
          <p role="status" className="status">
            <span className="spinner" aria-hidden="true" />
            {busy ?? "Checking your sign-in…"}
          </p>
        </section>
      ) : state.status === "error" ? (
        <section className="card" aria-labelledby="unknown-heading" data-testid="sign-in-unknown">
          {state.error.code === "sign_out_incomplete" ? (
            <>
              <h2 id="unknown-heading">Your sign-out has not reached the server yet</h2>
              <p className="muted">
                You are signed out on this page, but the server could not be told, so your
                session may still be live there. Try again in a moment to finish signing out.
              </p>
            </>
          ) : (
            <>
              <h2 id="unknown-heading">Your sign-in could not be checked</h2>
              <p className="muted">
                You may still be signed in. Nothing was changed; try again in a moment.
              </p>
            </>
          )}
          <button
            type="button"
            className="secondary"
            onClick={() => window.location.reload()}
            data-testid="try-again"
          >
            Try again
          </button>
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
          {endedEverywhere !== null && (
            <p
              className="notice allowed signed-out-everywhere"
              role="status"
              data-testid="signed-out-everywhere"
            >
              Signed out everywhere: {sessionCount(endedEverywhere)} ended.
            </p>
          )}
          <p className="muted">Use your work or school account to continue.</p>
          <button type="button" className="microsoft" onClick={signIn} data-testid="sign-in">
            <MicrosoftLogo />
            Sign in with Microsoft
          </button>
        </section>
      )}

      {/* Its own card, under the user's: shown while signed in and nothing is busy. */}
      {!busy && user && (
        <Sessions
          sessions={sessions}
          onEnd={endSession}
          onReload={() => run("Reading your sessions…", loadSessions)}
          onSignOutEverywhere={signOutEverywhere}
        />
      )}
    </main>
  );
}

interface SessionsProps {
  /** null while the first answer is awaited. */
  sessions: readonly SsoSession[] | null;
  onEnd: (session: SsoSession) => void;
  onReload: () => void;
  onSignOutEverywhere: () => void;
}

/** The user's sessions on every device, each but this one with a button to end it. */
function Sessions({ sessions, onEnd, onReload, onSignOutEverywhere }: SessionsProps) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), CLOCK_TICK_MS);
    return () => window.clearInterval(timer);
  }, []);

  return (
    <section className="card" aria-labelledby="sessions-heading" data-testid="sessions">
      <h2 id="sessions-heading">Your sessions</h2>
      <p className="muted small">
        Every sign-in to this API is a session, on this device or another. Ending one signs
        that device out the next time it renews its access, within minutes. Sign out
        everywhere ends them all, this one too.
      </p>
      {sessions === null ? (
        <p role="status" className="muted" data-testid="sessions-loading">
          Reading your sessions…
        </p>
      ) : sessions.length === 0 ? (
        <p className="muted">No session is active.</p>
      ) : (
        <ul className="sessions" aria-label="Active sessions" data-testid="session-list">
          {sessions.map((session, index) => (
            <li
              key={session.id}
              className={session.current ? "session current" : "session"}
              data-testid="session"
              data-current={session.current ? "true" : "false"}
            >
              <div className="session-heading">
                <strong>{METHOD_LABELS[session.method]}</strong>
                {session.current && (
                  <span className="badge this-device" data-testid="this-device">
                    This device
                  </span>
                )}
              </div>
              <dl className="session-facts">
                <div>
                  <dt>Started</dt>
                  <dd>
                    <Time iso={session.started_at} now={now} />
                  </dd>
                </div>
                <div>
                  <dt>Last refreshed</dt>
                  <dd>
                    {session.last_refreshed_at === null ? (
                      "not yet"
                    ) : (
                      <Time iso={session.last_refreshed_at} now={now} />
                    )}
                  </dd>
                </div>
                <div>
                  <dt>Ends at the latest</dt>
                  <dd>
                    <Time iso={session.expires_at} now={now} />
                  </dd>
                </div>
                <div>
                  <dt>Browser or app</dt>
                  {/* Whatever the signing-in client sent: React renders it as text. */}
                  <dd
                    className="user-agent"
                    id={`session-${index}-agent`}
                    data-testid="session-user-agent"
                  >
                    {session.user_agent || "not given"}
                  </dd>
                </div>
              </dl>
              {!session.current && (
                <button
                  type="button"
                  className="secondary"
                  onClick={() => onEnd(session)}
                  aria-label={`End the session started ${exactTime(session.started_at)}`}
                  aria-describedby={`session-${index}-agent`}
                  data-testid="end-session"
                >
                  End
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <div className="actions">
        <button type="button" className="secondary" onClick={onReload} data-testid="reload-sessions">
          Refresh the list
        </button>
        <button
          type="button"
          className="secondary danger"
          onClick={onSignOutEverywhere}
          data-testid="sign-out-everywhere"
        >
          Sign out everywhere
        </button>
      </div>
    </section>
  );
}

function Time({ iso, now }: { iso: string; now: number }) {
  return (
    <time dateTime={iso} title={exactTime(iso)}>
      {relativeTime(iso, now)}
    </time>
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
