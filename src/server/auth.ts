/**
 * Who is calling. AUTH_MODE=userid (the seed's mode) trusts "Authorization: <userId>";
 * AUTH_MODE=token wants "Authorization: Bearer <JWT>" signed HS256 with AUTH_SECRET.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import { WalletError } from "../core/errors.js";
import { parsePositiveInt } from "../core/money.js";

export type Authenticator = (header: string | undefined) => Promise<number>;

export function createAuthenticator(mode: "userid" | "token", secret?: string): Authenticator {
  if (mode === "userid") {
    return async (header) => {
      const userId = header === undefined ? undefined : parsePositiveInt(header.trim());
      if (userId === undefined) {
        throw new WalletError("unauthorized", "Authorization must be your user id (a positive integer).");
      }
      return userId;
    };
  }
  const key = new TextEncoder().encode(secret);
  return async (header) => {
    const match = header === undefined ? null : /^Bearer\s+([A-Za-z0-9_\-.]+)$/.exec(header.trim());
    if (!match) throw new WalletError("unauthorized", "Authorization must be 'Bearer <token>'.");
    try {
      const { payload } = await jwtVerify(match[1]!, key, { algorithms: ["HS256"], requiredClaims: ["sub", "exp"] });
      const userId = subjectUserId(payload.sub);
      if (userId === undefined) throw new Error("sub is not a user id");
      return userId;
    } catch {
      throw new WalletError("unauthorized", "The token is invalid or expired.");
    }
  };
}

/**
 * RFC 7519: `sub` is a string. A user id is its canonical decimal form only ("1", not
 * 1, ["1"], "01", "+1", "1.0" or " 1"), so that one user has one subject.
 */
export function subjectUserId(sub: unknown): number | undefined {
  if (typeof sub !== "string" || !/^[1-9][0-9]{0,15}$/.test(sub)) return undefined;
  return parsePositiveInt(sub);
}

export async function signToken(secret: string, userId: number, ttlSeconds: number): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(String(userId))
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

/** Who acts through the admin API: the name in X-Actor, once the bearer token is right. */
export type AdminAuthenticator = (authorization: string | undefined, actor: string | undefined) => string;

const ACTOR = /^[\x20-\x7e]{1,200}$/;

/**
 * The admin API's check: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant
 * time (SHA-256 digests of both, so that lengths leak nothing either), and `X-Actor`.
 * A user's credentials are never this token.
 */
export function createAdminAuthenticator(token: string): AdminAuthenticator {
  const expected = createHash("sha256").update(`Bearer ${token}`).digest();
  return (authorization, actor) => {
    const given = createHash("sha256")
      .update(authorization ?? "")
      .digest();
    if (!timingSafeEqual(given, expected)) {
      throw new WalletError("unauthorized", "The admin API wants Authorization: Bearer <ADMIN_TOKEN>.");
    }
    const name = actor?.trim();
    if (!name || !ACTOR.test(name)) {
      throw new WalletError("invalid_request", "X-Actor must name the person acting (1 to 200 printable characters).");
    }
    return name;
  };
}
