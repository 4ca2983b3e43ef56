/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Fallback API base when ./config.json is missing. */
  readonly VITE_SSO_API_BASE?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
