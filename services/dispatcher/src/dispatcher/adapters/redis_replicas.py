"""Lua scripts for workers' connections, replica liveness and the relay's turn.

A worker's connection is a `conn:<worker>` hash naming the replica holding it and its sequence
number; each replica's connections are also in `replica:<id>:workers`, so that when it dies the
others can end them. `replicas` maps each replica to the moment it stops counting as alive.
"""

from dispatcher.adapters.redis_scripts import PRELUDE, with_prelude

# A connection of a worker to a replica. A newer one supersedes any earlier one (on whichever
# replica): it gets a higher `seq`, the earlier connection's offer is withdrawn and its lease's
# grace period ends, since the worker is back.
CONNECT = """
local p, worker, hello, region, origin, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ck = p .. 'conn:' .. worker
local previous = redis.call('HGET', ck, 'holder')
if previous then redis.call('SREM', p .. 'replica:' .. previous .. ':workers', worker) end
local seq = redis.call('INCR', p .. 'conn:seq')
redis.call('HSET', ck, 'hello', hello, 'region', region, 'holder', origin, 'seq', seq)
redis.call('SADD', p .. 'online', worker)
redis.call('SADD', p .. 'replica:' .. origin .. ':workers', worker)
local withdrawn = false
local offer = redis.call('GET', p .. 'worker:' .. worker .. ':offer')
if offer then
  withdrawn = close_offer(p, offer, 'withdrawn', origin, at, ARGV[8])
  if withdrawn then table.insert(withdrawn, 1, offer) end
end
local lease = redis.call('GET', p .. 'worker:' .. worker .. ':lease') or ''
local l = {false, false, false}
if lease ~= '' then
  redis.call('ZREM', p .. 'leases:grace', lease)
  l = redis.call('HMGET', p .. 'lease:' .. lease, 'task_id', 'offer_id', 'by')
end
note(p, {'kind', 'connected', 'origin', origin, 'at', at, 'id', ARGV[7], 'worker', worker,
  'region', region, 'hello', hello, 'holder', origin, 'seq', seq, 'lease', lease,
  'task', l[1] or '', 'offer', l[2] or '', 'by', l[3] or ''})
return {seq, lease, l[3] or '', withdrawn}
"""

# The end of a connection: only the worker's current one (`seq`, or any held by `holder` when
# the sweep buries a dead replica). Its offer is withdrawn and its lease's grace period starts.
# `now` is the moment the worker was last seen, or '' to keep the last heartbeat.
DISCONNECT = """
local p, worker, seq, holder = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, grace_until, origin, at = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local ck = p .. 'conn:' .. worker
local c = redis.call('HMGET', ck, 'holder', 'seq', 'region')
if not c[1] then return {0} end
if (seq ~= '' and c[2] ~= seq) or (holder ~= '' and c[1] ~= holder) then return {0} end
redis.call('DEL', ck)
redis.call('SREM', p .. 'online', worker)
redis.call('SREM', p .. 'replica:' .. c[1] .. ':workers', worker)
local withdrawn = false
local offer = redis.call('GET', p .. 'worker:' .. worker .. ':offer')
if offer then
  withdrawn = close_offer(p, offer, 'withdrawn', origin, at, ARGV[10])
  if withdrawn then table.insert(withdrawn, 1, offer) end
end
local lease = redis.call('GET', p .. 'worker:' .. worker .. ':lease')
if lease then
  local lk = p .. 'lease:' .. lease
  if now ~= '' and redis.call('HGET', lk, 'state') == 'active' then
    redis.call('HSET', lk, 'last_seen', now)
  end
  -- The task stays reserved and the draft kept until the grace period runs out.
  redis.call('ZADD', p .. 'leases:grace', 'NX', grace_until, lease)
end
note(p, {'kind', 'disconnected', 'origin', origin, 'at', at, 'id', ARGV[9], 'worker', worker,
  'region', c[3], 'holder', c[1], 'seq', c[2]})
return {1, withdrawn}
"""

# The relay: one replica at a time publishes the log to Kafka, in log order.
LEAD = """
local key = ARGV[1] .. 'log:relay'
local holder = redis.call('GET', key)
if holder == ARGV[2] or not holder then
  redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

# After publishing up to ARGV[2]: drop entries every live replica has read and Kafka has.
PUBLISHED = """
local p, upto, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
redis.call('SET', p .. 'log:published', upto)
local floor = upto
local cursors = redis.call('HGETALL', p .. 'log:cursors')
for i = 1, #cursors, 2 do
  local alive = redis.call('HGET', p .. 'replicas', cursors[i])
  if alive and tonumber(alive) >= now then
    local a1, a2 = string.match(floor, '(%d+)-(%d+)')
    local b1, b2 = string.match(cursors[i + 1], '(%d+)-(%d+)')
    if tonumber(b1) < tonumber(a1) or (b1 == a1 and tonumber(b2) < tonumber(a2)) then
      floor = cursors[i + 1]
    end
  end
end
local f1, f2 = string.match(floor, '(%d+)-(%d+)')
redis.call('XTRIM', p .. 'log', 'MINID', f1 .. '-' .. (tonumber(f2) + 1))
return floor
"""


CONNECT = with_prelude(CONNECT, PRELUDE)
DISCONNECT = with_prelude(DISCONNECT, PRELUDE)
