import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App";
import { loadConfig } from "./config";
import { SsoClient } from "./sso-client";
import "./styles.css";

async function main(): Promise<void> {
  const config = await loadConfig();
  const client = new SsoClient({ apiBase: config.apiBase, cookieMode: config.cookieMode });
  const container = document.getElementById("root");
  if (!container) throw new Error("index.html has no #root element");
  createRoot(container).render(
    <StrictMode>
      <App client={client} config={config} />
    </StrictMode>,
  );
}

void main();
