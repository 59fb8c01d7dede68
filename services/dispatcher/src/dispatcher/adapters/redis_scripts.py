"""Lua scripts: each task, offer and lease transition is one atomic step in Redis.

Scripts derive some key names from ARGV[1] (the key prefix), which is fine on a single Redis
primary (with replicas), not on Redis Cluster.
"""

# ARGV: prefix, platform, then (client id, task id, fingerprint, task type) per task.
# A task still on its way through Kafka counts towards its platform's backlog until ingested.
RECORD_ACCEPTED = """
local p, platform = ARGV[1], ARGV[2]
for i = 3, #ARGV, 4 do
  local cid, tid, printed, ttype = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local tk = p .. 'task:' .. tid
  redis.call('HSET', p .. 'client:' .. platform, cid, printed)
  redis.call('HSETNX', tk, 'platform_id', platform)
  redis.call('HSETNX', tk, 'client_task_id', cid)
  redis.call('HSETNX', tk, 'task_type', ttype)
  redis.call('HSETNX', tk, 'state', 'queued')
  if redis.call('HGET', tk, 'ingested') ~= '1' then
    redis.call('SADD', p .. 'accepted:' .. platform, tid)
  end
end
return 1
"""

# Waiting = on its way through Kafka + queued in any of the platform's pools.
BACKLOG = """
local p, platform = ARGV[1], ARGV[2]
local waiting = redis.call('SCARD', p .. 'accepted:' .. platform)
for _, pool in ipairs(redis.call('SMEMBERS', p .. 'platform-pools:' .. platform)) do
  waiting = waiting + redis.call('ZCARD', p .. 'queue:' .. pool)
end
return waiting
"""

INGEST = """
local p, tid = ARGV[1], ARGV[2]
local tk = p .. 'task:' .. tid
redis.call('SREM', p .. 'accepted:' .. ARGV[4], tid)
if redis.call('HGET', tk, 'ingested') == '1' then return 0 end
redis.call('HSET', tk, 'event', ARGV[3], 'platform_id', ARGV[4], 'client_task_id', ARGV[5],
  'task_type', ARGV[6], 'pool', ARGV[7], 'ingested', '1')
redis.call('HSETNX', p .. 'pools', ARGV[7], ARGV[8])
redis.call('SADD', p .. 'platform-pools:' .. ARGV[4], ARGV[7])
if redis.call('HGET', tk, 'state') == 'cancelled' then return 0 end
local seq = redis.call('INCR', p .. 'seq')
redis.call('HSET', tk, 'state', 'queued', 'seq', seq)
redis.call('ZADD', p .. 'queue:' .. ARGV[7], seq, tid)
return 1
"""

CANCEL = """
local p, tid, platform = ARGV[1], ARGV[2], ARGV[3]
local tk = p .. 'task:' .. tid
local t = redis.call('HMGET', tk, 'platform_id', 'state', 'pool', 'offer_id', 'worker_id')
if not t[1] or t[1] ~= platform then return {'not_found'} end
local state = t[2]
if state == 'queued' then
  redis.call('HSET', tk, 'state', 'cancelled')
  if t[3] then redis.call('ZREM', p .. 'queue:' .. t[3], tid) end
  return {'cancelled'}
elseif state == 'offered' then
  local expires = redis.call('HGET', p .. 'offer:' .. t[4], 'expires_at')
  redis.call('DEL', p .. 'offer:' .. t[4])
  redis.call('ZREM', p .. 'offers:expiry', t[4])
  redis.call('HSET', tk, 'state', 'cancelled')
  redis.call('HDEL', tk, 'offer_id', 'worker_id')
  return {'cancelled', t[4], t[5], redis.call('HGET', tk, 'event'), expires}
elseif state == 'cancelled' then
  return {'cancelled'}
end
return {'conflict', state}
"""

TAKE = """
local p, worker, offer, expires = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
for i = 5, #ARGV do
  local q = p .. 'queue:' .. ARGV[i]
  while true do
    local popped = redis.call('ZPOPMIN', q)
    if #popped == 0 then break end
    local tid = popped[1]
    local tk = p .. 'task:' .. tid
    if redis.call('HGET', tk, 'state') == 'queued' then
      redis.call('HSET', tk, 'state', 'offered', 'offer_id', offer, 'worker_id', worker)
      redis.call('HSET', p .. 'offer:' .. offer, 'task_id', tid, 'worker_id', worker,
        'expires_at', expires)
      redis.call('ZADD', p .. 'offers:expiry', expires, offer)
      return redis.call('HGET', tk, 'event')
    end
  end
end
return false
"""

CLOSE_OFFER = """
local p, offer, worker = ARGV[1], ARGV[2], ARGV[3]
local ok = p .. 'offer:' .. offer
local o = redis.call('HMGET', ok, 'task_id', 'worker_id', 'expires_at')
if not o[1] then return false end
if worker ~= '' and o[2] ~= worker then return false end
redis.call('DEL', ok)
redis.call('ZREM', p .. 'offers:expiry', offer)
local tk = p .. 'task:' .. o[1]
local t = redis.call('HMGET', tk, 'state', 'offer_id', 'pool', 'seq', 'event')
if t[1] == 'offered' and t[2] == offer then
  redis.call('HSET', tk, 'state', 'queued')
  redis.call('HDEL', tk, 'offer_id', 'worker_id')
  -- Back at its original place: an unlucky task is not pushed behind later arrivals.
  redis.call('ZADD', p .. 'queue:' .. t[3], t[4], o[1])
end
return {o[2], o[3], t[5]}
"""

ACCEPT = """
local p, offer, worker, lease, region, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ok = p .. 'offer:' .. offer
local o = redis.call('HMGET', ok, 'task_id', 'worker_id', 'expires_at')
if not o[1] or o[2] ~= worker then return {'not_found'} end
if tonumber(o[3]) <= tonumber(now) then return {'expired'} end
local tk = p .. 'task:' .. o[1]
local t = redis.call('HMGET', tk, 'state', 'offer_id')
if t[1] ~= 'offered' or t[2] ~= offer then return {'not_found'} end
redis.call('DEL', ok)
redis.call('ZREM', p .. 'offers:expiry', offer)
redis.call('HSET', tk, 'state', 'leased', 'lease_id', lease)
redis.call('HDEL', tk, 'offer_id')
redis.call('HSET', p .. 'lease:' .. lease, 'task_id', o[1], 'worker_id', worker,
  'region', region, 'offer_id', offer, 'leased_at', now, 'last_seen', now, 'state', 'active',
  'draft', '')
redis.call('SET', p .. 'worker:' .. worker .. ':lease', lease)
redis.call('SADD', p .. 'leases:active', lease)
return {'ok'}
"""

HEARTBEAT = """
local p, lease, worker, now, has_draft, draft = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local lk = p .. 'lease:' .. lease
local l = redis.call('HMGET', lk, 'worker_id', 'state')
if l[1] ~= worker or l[2] ~= 'active' then return 0 end
redis.call('HSET', lk, 'last_seen', now)
if has_draft == '1' then redis.call('HSET', lk, 'draft', draft) end
return 1
"""

COMPLETE = """
local p, lease, worker = ARGV[1], ARGV[2], ARGV[3]
local lk = p .. 'lease:' .. lease
local l = redis.call('HMGET', lk, 'worker_id', 'state', 'task_id')
if not l[1] or l[1] ~= worker or l[2] == 'released' then return 'not_found' end
if l[2] ~= 'active' then return 'done' end
redis.call('HSET', lk, 'state', 'submitted')
redis.call('HSET', p .. 'task:' .. l[3], 'state', 'submitted')
local wk = p .. 'worker:' .. worker .. ':lease'
if redis.call('GET', wk) == lease then redis.call('DEL', wk) end
redis.call('SREM', p .. 'leases:active', lease)
redis.call('ZREM', p .. 'leases:grace', lease)
return 'ok'
"""

RELEASE = """
local p, lease = ARGV[1], ARGV[2]
local lk = p .. 'lease:' .. lease
local l = redis.call('HMGET', lk, 'worker_id', 'state', 'task_id')
redis.call('ZREM', p .. 'leases:grace', lease)
if l[2] ~= 'active' then return 0 end
redis.call('HSET', lk, 'state', 'released')
local tk = p .. 'task:' .. l[3]
local t = redis.call('HMGET', tk, 'pool', 'seq')
redis.call('HSET', tk, 'state', 'queued')
redis.call('HDEL', tk, 'lease_id', 'worker_id')
redis.call('ZADD', p .. 'queue:' .. t[1], t[2], l[3])
local wk = p .. 'worker:' .. l[1] .. ':lease'
if redis.call('GET', wk) == lease then redis.call('DEL', wk) end
redis.call('SREM', p .. 'leases:active', lease)
return 1
"""

OFFER_TASK = """
local p, tid, worker, offer, expires = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local tk = p .. 'task:' .. tid
local t = redis.call('HMGET', tk, 'state', 'pool')
if t[1] ~= 'queued' then return false end
redis.call('ZREM', p .. 'queue:' .. t[2], tid)
redis.call('HSET', tk, 'state', 'offered', 'offer_id', offer, 'worker_id', worker)
redis.call('HSET', p .. 'offer:' .. offer, 'task_id', tid, 'worker_id', worker,
  'expires_at', expires)
redis.call('ZADD', p .. 'offers:expiry', expires, offer)
return redis.call('HGET', tk, 'event')
"""
