/**
 * The route table compiled for matching: exact paths in a map, paths with
 * parameters as patterns. A parameter is percent-decoded here; a malformed
 * encoding (`%`, `%E0%A4%A`, `%ff`) is the client's mistake: a WalletError
 * (400 invalid_request), thrown inside the request's error boundary.
 */
import { WalletError } from "../core/errors.js";
import type { Route } from "./routes.js";

type CompiledRoute = Route & { regex: RegExp; paramNames: string[] };

export type Match = { route?: Route; params: Record<string, string>; allowed: string[] };

function compile(route: Route): CompiledRoute {
  const paramNames: string[] = [];
  const pattern = route.path.replace(/\{([a-z_]+)\}/g, (_m, name: string) => {
    paramNames.push(name);
    return "([^/]+)";
  });
  return { ...route, regex: new RegExp(`^${pattern}$`), paramNames };
}

function decodeParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new WalletError("invalid_request", `The path parameter ${name} is not valid percent-encoded UTF-8.`);
  }
}

export function createRouter(routes: Route[]): (method: string, path: string) => Match {
  const compiled = routes.map(compile);
  // by method, then by path: no key built per request
  const exact = new Map<string, Map<string, CompiledRoute>>();
  for (const r of compiled) {
    if (r.paramNames.length > 0) continue;
    let paths = exact.get(r.method);
    if (!paths) exact.set(r.method, (paths = new Map()));
    paths.set(r.path, r);
  }

  return (method, path) => {
    const hit = exact.get(method === "HEAD" ? "GET" : method)?.get(path);
    if (hit) return { route: hit, params: {}, allowed: [] };
    const allowed: string[] = [];
    for (const r of compiled) {
      const m = r.regex.exec(path);
      if (!m) continue;
      if (r.method === method || (method === "HEAD" && r.method === "GET")) {
        const params: Record<string, string> = {};
        r.paramNames.forEach((name, i) => (params[name] = decodeParam(name, m[i + 1]!)));
        return { route: r, params, allowed };
      }
      allowed.push(r.method);
    }
    return { params: {}, allowed };
  };
}
