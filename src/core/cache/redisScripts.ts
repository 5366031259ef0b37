/**
 * The Lua scripts of the Redis cache. Keys (P = prefix, E = epoch):
 *   P epoch          the cache epoch, a random id; every other key lives under it
 *   P E:v:USER       the wallet's latest known version (only moves forward)
 *   P E:d:USER:VER:F a cached value of field F at that version
 * Without an epoch (Redis restarted empty, or lost the key) every script does nothing:
 * nothing is read, filled or bumped until an instance has set a new epoch.
 */
import type { Redis } from "ioredis";

// KEYS[1] epoch key; ARGV[1] prefix, ARGV[2] user, ARGV[3] field: {epoch, version, value} (as far as known)
const GET_SCRIPT = `
local e = redis.call('GET', KEYS[1])
if not e then return {} end
local v = redis.call('GET', ARGV[1] .. e .. ':v:' .. ARGV[2])
if not v then return {e} end
local val = redis.call('GET', ARGV[1] .. e .. ':d:' .. ARGV[2] .. ':' .. v .. ':' .. ARGV[3])
if not val then return {e, v} end
return {e, v, val}`;

// KEYS[1] epoch key; ARGV[1] prefix, ARGV[2] user: the version known in the current epoch
const VERSION_SCRIPT = `
local e = redis.call('GET', KEYS[1])
if not e then return false end
return redis.call('GET', ARGV[1] .. e .. ':v:' .. ARGV[2])`;

// KEYS[1] epoch key; ARGV: prefix, user, field, version, value, epoch seen by get, value ttl ms, version ttl ms
const FILL_SCRIPT = `
local e = redis.call('GET', KEYS[1])
if not e or e ~= ARGV[6] then return 0 end
local vk = ARGV[1] .. e .. ':v:' .. ARGV[2]
local cur = tonumber(redis.call('GET', vk) or '-1')
local ver = tonumber(ARGV[4])
if ver < cur then return 0 end
if ver > cur then redis.call('SET', vk, ARGV[4], 'PX', ARGV[8]) end
redis.call('SET', ARGV[1] .. e .. ':d:' .. ARGV[2] .. ':' .. ARGV[4] .. ':' .. ARGV[3], ARGV[5], 'PX', ARGV[7])
return 1`;

// KEYS[1] epoch key; ARGV: prefix, version ttl ms, then user, version pairs. 0: no epoch
const BUMP_SCRIPT = `
local e = redis.call('GET', KEYS[1])
if not e then return 0 end
for i = 3, #ARGV, 2 do
  local vk = ARGV[1] .. e .. ':v:' .. ARGV[i]
  local cur = tonumber(redis.call('GET', vk) or '-1')
  if tonumber(ARGV[i + 1]) > cur then redis.call('SET', vk, ARGV[i + 1], 'PX', ARGV[2]) end
end
return 1`;

export type ScriptedRedis = Redis & {
  walletCacheGet(epochKey: string, prefix: string, user: string, field: string): Promise<string[]>;
  walletCacheVersion(epochKey: string, prefix: string, user: string): Promise<string | null>;
  walletCacheFill(epochKey: string, ...args: string[]): Promise<number>;
  walletCacheBump(epochKey: string, ...args: string[]): Promise<number>;
};

export function defineCacheScripts(redis: Redis): ScriptedRedis {
  redis.defineCommand("walletCacheGet", { numberOfKeys: 1, lua: GET_SCRIPT });
  redis.defineCommand("walletCacheVersion", { numberOfKeys: 1, lua: VERSION_SCRIPT });
  redis.defineCommand("walletCacheFill", { numberOfKeys: 1, lua: FILL_SCRIPT });
  redis.defineCommand("walletCacheBump", { numberOfKeys: 1, lua: BUMP_SCRIPT });
  return redis as ScriptedRedis;
}
