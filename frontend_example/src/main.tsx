import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { SsoClient } from "@sso-api/client";
import { SsoProvider } from "@sso-api/react";

import { App } from "./App";
import { loadConfig } from "./config";
import "./styles.css";

async function main(): Promise<void> {
  const config = await loadConfig();
  const client = new SsoClient({ apiBase: config.apiBase, cookieMode: config.cookieMode });
  const container = document.getElementById("root");
  if (!container) throw new Error("index.html has no #root element");
  // StrictMode mounts twice: the provider's initialize() runs the sign-in once regardless.
  createRoot(container).render(
    <StrictMode>
      <SsoProvider client={client}>
        <App config={config} />
      </SsoProvider>
    </StrictMode>,
  );
}

void main();
