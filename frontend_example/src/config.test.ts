import { describe, expect, it } from "vitest";

import { DEFAULT_API_BASE, loadConfig } from "./config";

const answer = (status: number, body: string) => async () => new Response(body, { status });

describe("loadConfig", () => {
  it("reads config.json", async () => {
    const config = await loadConfig(
      answer(200, '{"apiBase": "https://api.example.com/api/sso/", "cookieMode": false}'),
      undefined,
    );
    expect(config).toEqual({ apiBase: "https://api.example.com/api/sso/", cookieMode: false });
  });

  it("falls back to the build-time variable, then the local API", async () => {
    expect(await loadConfig(answer(404, "Not found"), "https://env.example/sso/")).toEqual({
      apiBase: "https://env.example/sso/",
      cookieMode: true,
    });
    expect(await loadConfig(answer(200, "<!doctype html>"), undefined)).toEqual({
      apiBase: DEFAULT_API_BASE,
      cookieMode: true,
    });
  });

  it("ignores fields of the wrong type", async () => {
    const config = await loadConfig(answer(200, '{"apiBase": 3, "cookieMode": "yes"}'), undefined);
    expect(config).toEqual({ apiBase: DEFAULT_API_BASE, cookieMode: true });
  });
});
