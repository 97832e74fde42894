// Redis's commands and their arity, as data: what makes an inline line a Redis command (caches.ts).
//
// Source: the command list of redis.io ("Commands", https://redis.io/docs/latest/commands/), with each command's
// arity as Redis itself reports it in `COMMAND INFO` (the `arity` field of the server's src/commands/*.json): N > 0
// means exactly N words including the command name, N < 0 at least -N. Taken from the table ioredis ships
// (@ioredis/commands 2.0.0, generated from a Redis server's COMMAND output), plus SENTINEL (port 26379), which a
// data node does not list. Container commands (CONFIG, CLIENT, ACL...) count their subcommand as an argument.
// Module commands (RedisJSON, Search, TimeSeries, probabilistic: in Redis 8's own list) are named by prefix.

/** Upper-case command name to arity (Redis's convention, the name included). */
export const REDIS_COMMAND_ARITY: Readonly<Record<string, number>> = Object.freeze({
  ACL: -2, APPEND: 3, ARCOUNT: 2, ARDEL: -3, ARDELRANGE: -4, ARGET: 3, ARGETRANGE: 4, ARGREP: -6, ARINFO: -2,
  ARINSERT: -3, ARLASTITEMS: -3, ARLEN: 2, ARMGET: -3, ARMSET: -4, ARNEXT: 2, AROP: -5, ARRING: -4, ARSCAN: -4,
  ARSEEK: 3, ARSET: -4, ASKING: 1, AUTH: -2, BACKUP: 2, BGREWRITEAOF: 1, BGSAVE: -1, BITCOUNT: -2, BITFIELD: -2,
  BITFIELD_RO: -2, BITOP: -4, BITPOS: -3, BLMOVE: 6, BLMOVEM: -6, BLMPOP: -5, BLPOP: -3, BRPOP: -3, BRPOPLPUSH: 4,
  BZMPOP: -5, BZPOPMAX: -3, BZPOPMIN: -3, CLIENT: -2, CLUSTER: -2, COMMAND: -1, CONFIG: -2, COPY: -3, DBSIZE: 1,
  DEBUG: -2, DECR: 2, DECRBY: 3, DEL: -2, DELEX: -2, DIGEST: 2, DISCARD: 1, DUMP: 2, ECHO: 2, EVAL: -3, EVALSHA: -3,
  EVALSHA_RO: -3, EVAL_RO: -3, EXEC: 1, EXISTS: -2, EXPIRE: -3, EXPIREAT: -3, EXPIRETIME: 2, FAILOVER: -1, FCALL: -3,
  FCALL_RO: -3, FLUSHALL: -1, FLUSHDB: -1, FUNCTION: -2, GEOADD: -5, GEODIST: -4, GEOHASH: -2, GEOPOS: -2,
  GEORADIUS: -6, GEORADIUSBYMEMBER: -5, GEORADIUSBYMEMBER_RO: -5, GEORADIUS_RO: -6, GEOSEARCH: -7,
  GEOSEARCHSTORE: -8, GET: 2, GETBIT: 3, GETDEL: 2, GETEX: -2, GETRANGE: 4, GETSET: 3, HDEL: -3, HELLO: -1,
  HEXISTS: 3, HEXPIRE: -6, HEXPIREAT: -6, HEXPIRETIME: -5, HGET: 3, HGETALL: 2, HGETDEL: -5, HGETEX: -5, HIMPORT: -2,
  HINCRBY: 4, HINCRBYFLOAT: 4, HKEYS: 2, HLEN: 2, HMGET: -3, HMSET: -4, HOTKEYS: -2, HPERSIST: -5, HPEXPIRE: -6,
  HPEXPIREAT: -6, HPEXPIRETIME: -5, HPTTL: -5, HRANDFIELD: -2, HSCAN: -3, HSET: -4, HSETEX: -6, HSETNX: 4,
  HSTRLEN: 3, HTTL: -5, HVALS: 2, INCR: 2, INCRBY: 3, INCRBYFLOAT: 3, INCREX: -2, INFO: -1, KEYS: 2, LASTSAVE: 1,
  LATENCY: -2, LCS: -3, LINDEX: 3, LINSERT: 5, LLEN: 2, LMOVE: 5, LMOVEM: -5, LMPOP: -4, LOLWUT: -1, LPOP: -2,
  LPOS: -3, LPUSH: -3, LPUSHX: -3, LRANGE: 4, LREM: 4, LSET: 4, LTRIM: 4, MEMORY: -2, MGET: -2, MIGRATE: -6,
  MODULE: -2, MONITOR: 1, MOVE: 3, MSET: -3, MSETEX: -4, MSETNX: -3, MULTI: 1, OBJECT: -2, PERSIST: 2, PEXPIRE: -3,
  PEXPIREAT: -3, PEXPIRETIME: 2, PFADD: -2, PFCOUNT: -2, PFDEBUG: 3, PFMERGE: -2, PFSELFTEST: 1, PING: -1, PSETEX: 4,
  PSUBSCRIBE: -2, PSYNC: -3, PTTL: 2, PUBLISH: 3, PUBSUB: -2, PUNSUBSCRIBE: -1, QUIT: -1, RANDOMKEY: 1, READONLY: 1,
  READWRITE: 1, RENAME: 3, RENAMENX: 3, REPLCONF: -1, REPLICAOF: 3, RESET: 1, RESTORE: -4, "RESTORE-ASKING": -4,
  ROLE: 1, RPOP: -2, RPOPLPUSH: 3, RPUSH: -3, RPUSHX: -3, SADD: -3, SAVE: 1, SCAN: -2, SCARD: 2, SCRIPT: -2,
  SDIFF: -2, SDIFFCARD: -3, SDIFFSTORE: -3, SELECT: 2, SENTINEL: -2, SET: -3, SETBIT: 4, SETEX: 4, SETNX: 3,
  SETRANGE: 4, SHUTDOWN: -1, SINTER: -2, SINTERCARD: -3, SINTERSTORE: -3, SISMEMBER: 3, SLAVEOF: 3, SLOWLOG: -2,
  SMEMBERS: 2, SMISMEMBER: -3, SMOVE: 4, SORT: -2, SORT_RO: -2, SPOP: -2, SPUBLISH: 3, SRANDMEMBER: -2, SREM: -3,
  SSCAN: -3, SSUBSCRIBE: -2, STRLEN: 2, SUBSCRIBE: -2, SUBSTR: 4, SUNION: -2, SUNIONCARD: -3, SUNIONSTORE: -3,
  SUNSUBSCRIBE: -1, SWAPDB: 3, SYNC: 1, TIME: 1, TOUCH: -2, TRIMSLOTS: -5, TTL: 2, TYPE: 2, UNLINK: -2,
  UNSUBSCRIBE: -1, UNWATCH: 1, VADD: -5, VCARD: 2, VDIM: 2, VEMB: -3, VGETATTR: 3, VINFO: 2, VISMEMBER: 3,
  VLINKS: -3, VRANDMEMBER: -2, VRANGE: -4, VREM: 3, VSETATTR: 4, VSIM: -4, WAIT: 3, WAITAOF: 4, WATCH: -2, XACK: -4,
  XACKDEL: -6, XADD: -5, XAUTOCLAIM: -6, XCFGSET: -2, XCLAIM: -6, XDEL: -3, XDELEX: -5, XGROUP: -2, XIDMPRECORD: 5,
  XINFO: -2, XLEN: 2, XNACK: -7, XPENDING: -3, XRANGE: -4, XREAD: -4, XREADGROUP: -7, XREVRANGE: -4, XSETID: -3,
  XTRIM: -4, ZADD: -4, ZCARD: 2, ZCOUNT: 4, ZDIFF: -3, ZDIFFSTORE: -4, ZINCRBY: 4, ZINTER: -3, ZINTERCARD: -3,
  ZINTERSTORE: -4, ZLEXCOUNT: 4, ZMPOP: -4, ZMSCORE: -3, ZPOPMAX: -2, ZPOPMIN: -2, ZRANDMEMBER: -2, ZRANGE: -4,
  ZRANGEBYLEX: -4, ZRANGEBYSCORE: -4, ZRANGESTORE: -5, ZRANK: -3, ZREM: -3, ZREMRANGEBYLEX: 4, ZREMRANGEBYRANK: 4,
  ZREMRANGEBYSCORE: 4, ZREVRANGE: -4, ZREVRANGEBYLEX: -4, ZREVRANGEBYSCORE: -4, ZREVRANK: -3, ZSCAN: -3, ZSCORE: 3,
  ZUNION: -3, ZUNIONSTORE: -4,
});

/** Prefixes of module commands on redis.io's list ("JSON.GET", "FT.SEARCH", "TS.ADD", "BF.ADD"...). */
export const REDIS_MODULE_PREFIXES: ReadonlySet<string> = new Set(["JSON", "FT", "TS", "BF", "CF", "CMS", "TOPK", "TDIGEST"]);

/** The arity of a Redis command name (any case), null when Redis has no such command. */
export function redisArity(name: string): number | null {
  const upper = name.toUpperCase();
  if (Object.hasOwn(REDIS_COMMAND_ARITY, upper)) return REDIS_COMMAND_ARITY[upper]!;
  const dot = upper.indexOf(".");
  if (dot > 0 && REDIS_MODULE_PREFIXES.has(upper.slice(0, dot)) && /^_?[A-Z]+$/.test(upper.slice(dot + 1))) return -1;
  return null;
}

/** `words` (the command name included) fit the arity. */
export function fitsArity(arity: number, words: number): boolean {
  return arity >= 0 ? words === arity : words >= -arity;
}
