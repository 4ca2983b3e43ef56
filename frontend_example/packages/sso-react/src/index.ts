/**
 * `@sso-api/react`: the React side of `@sso-api/client`, and nothing more. The client does
 * the work; this package hands its state to components and starts it once.
 *
 * @packageDocumentation
 */

import {
  createContext,
  createElement,
  useContext,
  useEffect,
  useRef,
  useSyncExternalStore,
  type ReactNode,
} from "react";

import type { SsoClient, SsoEvents, SsoState } from "@sso-api/client";

const ClientContext = createContext<SsoClient | null>(null);

/** Props of {@link SsoProvider}. */
export interface SsoProviderProps {
  client: SsoClient;
  children?: ReactNode;
}

/**
 * Makes `client` available to {@link useSso} and its siblings, and calls its idempotent
 * `initialize()` once mounted (safe under StrictMode, which mounts twice).
 */
export function SsoProvider({ client, children }: SsoProviderProps) {
  useEffect(() => {
    void client.initialize();
  }, [client]);
  return createElement(ClientContext.Provider, { value: client }, children);
}

/** The client given to the nearest {@link SsoProvider}. */
export function useSsoClient(): SsoClient {
  const client = useContext(ClientContext);
  if (client === null) throw new Error("useSsoClient needs an <SsoProvider> above it");
  return client;
}

/** The client's state; the component renders again whenever it changes. */
export function useSso(): SsoState {
  const client = useSsoClient();
  return useSyncExternalStore(client.subscribe, client.getSnapshot, client.getSnapshot);
}

/** Calls `handler` for every event `name` of the client while the component is mounted. */
export function useSsoEvent<K extends keyof SsoEvents>(
  name: K,
  handler: (event: SsoEvents[K]) => void,
): void {
  const client = useSsoClient();
  // The latest handler, without re-subscribing at every render.
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => client.on(name, (event) => latest.current(event)), [client, name]);
}
