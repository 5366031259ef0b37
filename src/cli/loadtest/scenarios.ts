/** What each loadtest scenario sends. Users are first..first+users-1. */
export const SCENARIOS = [
  "deposit",
  "withdraw",
  "transfer",
  "transfer-async",
  "balance",
  "history",
  "mixed",
  "hot",
  "holds",
  "exchange",
  "batch",
  "baseline-get",
  "baseline-post",
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** The batch scenario's batch: this many transfers of 1 cent, all or none. */
export const BATCH_OPERATIONS = 10;

/** The exchange scenario's currencies: the first is the one every scenario funds. */
export const EXCHANGE_PAIR = ["USD", "EUR"] as const;

export type Call = {
  kind: string;
  method: "GET" | "POST";
  path: string;
  user: number;
  body?: string;
  amount?: number;
  /** a request that follows this one's successful answer (a hold's capture) */
  next?: (answer: string) => Call | undefined;
};

export type Picker = () => Call;

export function picker(scenario: Scenario, first: number, users: number): Picker {
  const rnd = () => first + Math.floor(Math.random() * users);
  const other = (u: number) => first + ((u - first + 1 + Math.floor(Math.random() * (users - 1))) % users);
  const deposit = (): Call => ({
    kind: "deposit",
    method: "POST",
    path: "/api/deposit/v1",
    user: rnd(),
    body: '{"amount":1}',
    amount: 1,
  });
  const withdraw = (): Call => ({
    kind: "withdraw",
    method: "POST",
    path: "/api/withdraw/v1",
    user: rnd(),
    body: '{"amount":1}',
    amount: 1,
  });
  const transfer = (path = "/api/transfer/v1", kind = "transfer"): Call => {
    const from = rnd();
    return { kind, method: "POST", path, user: from, body: `{"destination_user_id":${other(from)},"amount":1}` };
  };
  const balance = (): Call => ({ kind: "balance", method: "GET", path: "/api/wallet/balance/v1", user: rnd() });
  const history = (): Call => ({
    kind: "history",
    method: "GET",
    path: "/api/transactions/v1?page_size=10",
    user: rnd(),
  });
  switch (scenario) {
    case "deposit":
      return deposit;
    case "withdraw":
      return withdraw;
    case "transfer":
      return () => transfer();
    case "transfer-async":
      return () => transfer("/api/transfer/v2", "transfer-async");
    case "balance":
      return balance;
    case "history":
      return history;
    case "hot":
      // every transfer pays the first wallet
      return () => {
        const from = first + 1 + Math.floor(Math.random() * (users - 1));
        return {
          kind: "transfer",
          method: "POST",
          path: "/api/transfer/v1",
          user: from,
          body: `{"destination_user_id":${first},"amount":1}`,
        };
      };
    case "holds":
      // a payment in two phases: hold, then the destination captures it (half of them in part)
      return () => {
        const payer = rnd();
        const dest = other(payer);
        return {
          kind: "hold",
          method: "POST",
          path: "/api/holds/v1",
          user: payer,
          body: `{"amount":2,"destination_user_id":${dest}}`,
          next: (answer) => {
            const id = /"hold_id":"(\d+)"/.exec(answer)?.[1];
            if (!id) return undefined;
            return {
              kind: "capture",
              method: "POST",
              path: `/api/holds/v1/${id}/capture`,
              user: dest,
              body: Math.random() < 0.5 ? '{"amount":1}' : "{}",
            };
          },
        };
      };
    case "exchange":
      // a quote, then its exchange, in a random direction of the pair
      return () => {
        const user = rnd();
        const [from, to] = Math.random() < 0.5 ? EXCHANGE_PAIR : [EXCHANGE_PAIR[1], EXCHANGE_PAIR[0]];
        return {
          kind: "quote",
          method: "POST",
          path: "/api/fx/quotes/v1",
          user,
          body: `{"from_currency":"${from}","to_currency":"${to}","amount":100}`,
          next: (answer) => {
            const id = /"quote_id":"(\d+)"/.exec(answer)?.[1];
            if (!id) return undefined;
            return {
              kind: "exchange",
              method: "POST",
              path: "/api/fx/exchanges/v1",
              user,
              body: `{"quote_id":"${id}"}`,
            };
          },
        };
      };
    case "batch":
      // half the requests a batch of BATCH_OPERATIONS transfers, half a single transfer: the two rates in one run
      return () => {
        if (Math.random() < 0.5) return transfer();
        const from = rnd();
        const ops = Array.from({ length: BATCH_OPERATIONS }, () => ({
          type: "transfer",
          destination_user_id: other(from),
          amount: 1,
        }));
        return {
          kind: "batch",
          method: "POST",
          path: "/api/batches/v1",
          user: from,
          body: JSON.stringify({ operations: ops }),
        };
      };
    case "mixed":
      return () => {
        const r = Math.random();
        if (r < 0.4) return balance();
        if (r < 0.6) return history();
        if (r < 0.75) return deposit();
        if (r < 0.85) return withdraw();
        return transfer();
      };
    case "baseline-get":
      return () => ({ kind: "baseline", method: "GET", path: "/", user: 1 });
    case "baseline-post":
      return () => ({ kind: "baseline", method: "POST", path: "/", user: 1, body: '{"amount":1}' });
  }
}
