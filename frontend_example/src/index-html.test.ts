import { describe, expect, it } from "vitest";

import html from "../index.html?raw";

describe("index.html", () => {
  it("sends no Referer, so the callback's sso_code cannot reach the static host in one", () => {
    // The page's own scripts and config.json load while sso_code is still in the address
    // bar; with the browser's default policy (or same-origin) each request would carry it.
    const policies = [...html.matchAll(/<meta\s+name="referrer"\s+content="([^"]+)"/g)].map(
      (match) => match[1],
    );
    expect(policies).toEqual(["no-referrer"]);
  });
});
