/**
 * No Docker engine runs here, so the compose file and Dockerfile are checked for
 * what can be checked: services, env names, commands, healthchecks, users, files;
 * and the processes they start are started here with the env they pass.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS } from "../src/core/config.js";
import { BIN, ROOT, runCli } from "./helpers/cli.js";
import { freshDatabase } from "./helpers/db.js";
import { engine, REDIS_URL } from "./helpers/env.js";
import { startProcess } from "./helpers/process.js";
import { freePorts } from "./helpers/prometheus.js";

type Service = {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  ports?: string[];
};
const compose = parse(fs.readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, Service>;
};
const dockerfile = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");

describe.skipIf(engine !== "pg")("docker-compose.yml", () => {
  it("has PostgreSQL, Redis, the API and a separate worker, each with a healthcheck or a healthy dependency", () => {
    const s = compose.services;
    expect(Object.keys(s).sort()).toEqual(["api", "grafana", "postgres", "prometheus", "redis", "worker"]);
    expect(s.postgres!.image).toMatch(/^postgres:/);
    expect(s.redis!.image).toMatch(/^redis:/);
    for (const name of ["postgres", "redis", "api"]) expect(s[name]!.healthcheck?.test.length, name).toBeGreaterThan(0);
    expect(s.api!.depends_on).toEqual({
      postgres: { condition: "service_healthy" },
      redis: { condition: "service_healthy" },
    });
    expect(s.worker!.depends_on?.api?.condition).toBe("service_healthy");
    expect(s.api!.command).toEqual(["serve"]);
    expect(s.worker!.command).toEqual(["worker"]);
    expect(s.api!.environment?.TRANSFER_WORKERS).toBe("0");
  });

  it("runs Prometheus and Grafana from pinned images with files that exist, scraping the api and worker", () => {
    const s = compose.services;
    expect(s.prometheus!.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(s.grafana!.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    for (const name of ["prometheus", "grafana"]) {
      const mounts = s[name]!.volumes!.filter((v) => v.startsWith("./"));
      expect(mounts.length, name).toBeGreaterThan(0);
      for (const v of mounts) expect(fs.existsSync(path.join(ROOT, v.split(":")[0]!)), v).toBe(true);
    }
    expect(s.prometheus!.volumes).toContain("./deploy/prometheus:/etc/prometheus:ro");
    expect(s.prometheus!.healthcheck?.test.length).toBeGreaterThan(0);
    expect(s.grafana!.depends_on?.prometheus?.condition).toBe("service_healthy");
    // each job finds a service by its name, on the METRICS_PORT that service is given
    const prometheus = parse(fs.readFileSync(path.join(ROOT, "deploy/prometheus/prometheus.yml"), "utf8")) as {
      scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[];
    };
    const scraped = prometheus.scrape_configs.flatMap((j) =>
      j.dns_sd_configs.flatMap((d) => d.names.map((n) => `${n}:${d.port}`)),
    );
    expect(scraped.sort()).toEqual(["api", "worker"].map((n) => `${n}:${s[n]!.environment!.METRICS_PORT}`));
    // nothing outside the compose network reaches /metrics
    for (const n of ["api", "worker"]) {
      expect(s[n]!.ports ?? [], n).not.toContainEqual(expect.stringContaining(s[n]!.environment!.METRICS_PORT!));
    }
  });

  it("passes only environment names the service knows, and a valid configuration", () => {
    for (const name of ["api", "worker"]) {
      const env = compose.services[name]!.environment!;
      for (const key of Object.keys(env)) expect(CONFIG_KEYS, `${name}: ${key}`).toContain(key);
      expect(env.DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(env.REDIS_URL).toBe("redis://redis:6379");
    }
  });

  it("starts the processes the compose file names, with its env, and their healthchecks pass", async () => {
    const db = await freshDatabase();
    // both metrics listeners on one host here (in compose each has a container)
    const [apiMetrics, workerMetrics] = await freePorts(2);
    const local = (env: Record<string, string>, metricsPort: number) => ({
      ...env,
      DATABASE_URL: db.url!,
      REDIS_URL,
      HOST: "127.0.0.1",
      PORT: "0",
      METRICS_PORT: env.METRICS_PORT ? String(metricsPort) : "0",
    });
    const api = await startProcess(
      compose.services.api!.command![0] as "serve",
      local(compose.services.api!.environment!, apiMetrics!),
    );
    const worker = await startProcess(
      compose.services.worker!.command![0] as "worker",
      local(compose.services.worker!.environment!, workerMetrics!),
    );
    try {
      // the api's healthcheck command, pointed at the port it got here
      const test = compose.services.api!.healthcheck!.test;
      const script = test[test.length - 1]!.replace("127.0.0.1:8080", api.url.replace("http://", ""));
      execFileSync(process.execPath, ["-e", script]);
      // the Dockerfile's healthcheck likewise
      const dockerHealth = /^HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])$/m.exec(dockerfile)![1]!;
      const dockerScript = (JSON.parse(dockerHealth) as string[]).pop()!;
      execFileSync(process.execPath, ["-e", dockerScript], { env: { ...process.env, PORT: new URL(api.url).port } });
      // what Prometheus scrapes
      for (const port of [apiMetrics, workerMetrics]) {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        expect(res.status).toBe(200);
        expect(await res.text()).toMatch(/^wallet_async_queue_depth \d+$/m);
      }
    } finally {
      expect(await worker.stop()).toBe(0);
      expect(await api.stop()).toBe(0);
      await db.drop();
    }
  });
});

describe.skipIf(engine !== "pg")("Dockerfile", () => {
  it("builds in two stages and runs as a non-root user", () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^FROM node:20[-\w]* AS build$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/wallet\.js"\]$/m);
  });

  it("copies files that exist, and its entrypoint is the CLI", async () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \.\/?\S*$/gm)) {
      for (const f of m[1]!.split(" ")) expect(fs.existsSync(path.join(ROOT, f)), f).toBe(true);
    }
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(fs.existsSync(BIN)).toBe(true);
  });
});
