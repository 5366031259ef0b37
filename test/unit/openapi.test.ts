/** What the OpenAPI document declares of the statement's range, against what is enforced. */
import { describe, expect, it } from "vitest";
import type { CoreContext } from "../../src/core/context.js";
import { statement, STATEMENT_MAX_DAYS } from "../../src/core/operator.js";
import { moneyRoutes } from "../../src/server/moneyRoutes.js";
import { buildOpenApi } from "../../src/server/openapi.js";

const DAY = 86_400_000;
const doc = buildOpenApi(moneyRoutes, { authMode: "userid" }) as {
  paths: Record<string, Record<string, { description?: string; responses: Record<string, { description: string }> }>>;
};
const op = doc.paths["/api/statements/v1"]!.get!;

describe("GET /api/statements/v1 in the OpenAPI document", () => {
  it("declares the longest range a statement may cover", () => {
    expect(STATEMENT_MAX_DAYS).toBe(366);
    expect(op.description).toMatch(/at most 366 days/);
  });

  it("declares the refusal a longer range gets", () => {
    expect(op.description).toMatch(/400 invalid_request/);
    expect(op.responses["400"]!.description).toMatch(/^invalid_request: /);
  });

  it("declares the limit that is enforced: a range one day longer is refused before any read", async () => {
    const from = new Date("2025-01-01T00:00:00Z");
    const noDatabase = {} as CoreContext; // refused before the context is used
    const longer = statement(noDatabase, {
      userId: 1,
      from,
      to: new Date(from.getTime() + (STATEMENT_MAX_DAYS + 1) * DAY),
    });
    await expect(longer).rejects.toMatchObject({ code: "invalid_request", message: /at most 366 days/ });
  });
});
