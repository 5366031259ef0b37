/**
 * Who is calling. AUTH_MODE=userid (the seed's mode) trusts "Authorization: <userId>";
 * AUTH_MODE=token wants "Authorization: Bearer <JWT>" signed HS256 with AUTH_SECRET.
 */
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
      const userId = parsePositiveInt(String(payload.sub));
      if (userId === undefined) throw new Error("sub is not a user id");
      return userId;
    } catch {
      throw new WalletError("unauthorized", "The token is invalid or expired.");
    }
  };
}

export async function signToken(secret: string, userId: number, ttlSeconds: number): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(String(userId))
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}
