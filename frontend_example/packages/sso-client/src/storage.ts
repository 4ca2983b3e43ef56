/** The parts of `Storage` this package uses (sessionStorage, localStorage, or a stand-in). */
export type SsoStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;
