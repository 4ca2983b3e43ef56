import { createElement } from "react";
import { renderToString } from "react-dom/server";
import { describe, expect, it } from "vitest";

import { SsoClient } from "@sso-api/client";

import { SsoProvider, useSso } from "./index.js";

function Status() {
  return createElement("p", null, useSso().status);
}

describe("@sso-api/react", () => {
  it("hands the client's snapshot to components through the provider", () => {
    const client = new SsoClient({
      apiBase: "https://api.example/api/sso/",
      crossTab: null,
      lock: null,
      location: { href: "https://app.example/", assign: () => undefined },
    });
    const html = renderToString(
      createElement(SsoProvider, { client }, createElement(Status)),
    );
    expect(html).toBe("<p>initializing</p>");
  });

  it("refuses to work without a provider, instead of rendering nobody as signed out", () => {
    expect(() => renderToString(createElement(Status))).toThrow(/SsoProvider/);
  });
});
