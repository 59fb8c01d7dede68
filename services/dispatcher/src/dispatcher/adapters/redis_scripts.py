"""Lua scripts: each task, offer, lease and connection transition is one atomic step in Redis.

Each step that changes what a task or worker is doing also appends an entry to the transition
log (the `log` stream) in the same step: every replica follows the log, and the relay publishes
it to Kafka, so a change is never made without its event even if the process dies right after.

Scripts derive some key names from ARGV[1] (the key prefix), which is fine on a single Redis
primary (with replicas), not on Redis Cluster.

A task that is done (submitted, cancelled or expired) and a lease that ended are kept for a
while (`kept`, in ms), then Redis drops them: long enough to refuse the task if Kafka delivers
it again and to answer GetTask. What they are kept for needs neither the task's content (its
encoded event, payload included: most of its memory) nor the lease's draft, so both go at
once, except the content of a task several workers answer, answered and not yet settled by
scoring: further answers' copies are built from it. Such a task and its copies are `held` (ms)
instead, until scoring settles it (SETTLE), so that a late or repeated request never queues a
copy again, however far behind scoring is.
"""

# Shared by the scripts below. `note` appends a log entry; `close_offer` ends an outstanding
# offer, puts its task back at its original place in the queue and logs it.
PRELUDE = """
local function note(p, fields)
  return redis.call('XADD', p .. 'log', '*', unpack(fields))
end

local function is_done(state)
  return state == 'submitted' or state == 'cancelled' or state == 'expired'
end

-- Rewrites a hash with only these fields (written anew, it is stored compactly again: a hash
-- that once held a large value keeps the roomier encoding) and its time to live.
local function shrink(key, fields, ttl)
  local values = redis.call('HMGET', key, unpack(fields))
  local kept = {}
  for i, field in ipairs(fields) do
    if values[i] then
      kept[#kept + 1] = field
      kept[#kept + 1] = values[i]
    end
  end
  redis.call('DEL', key)
  if #kept > 0 then redis.call('HSET', key, unpack(kept)) end
  redis.call('PEXPIRE', key, ttl)
end

-- What a task done keeps: its status, and what tells a delivery again, or a request for one of
-- its copies, apart from a new one.
local DONE = {'platform_id', 'client_task_id', 'task_type', 'state', 'worker_id', 'ingested',
  'answers', 'answer_of', 'settled'}

local function keep_done(tk, content, ttl)
  if content then redis.call('PEXPIRE', tk, ttl) else shrink(tk, DONE, ttl) end
end

-- A task done (in `state`) goes after `kept` ms, without its content. One several workers
-- answer, answered and not settled yet, keeps its content (later copies are built from it), and
-- it and its copies are `held` instead. A copy in play keeps its original (INGEST persists it);
-- once done it gives it its time again.
local function finished(p, tk, state, kept, held)
  local original = redis.call('HGET', tk, 'answer_of')
  local ok = original and (p .. 'task:' .. original) or tk
  local o = redis.call('HMGET', ok, 'state', 'answers', 'settled')
  if ok == tk then o[1] = state end
  -- Queued by a version before `answers` was recorded: held, as that version kept every task.
  local answers = tonumber(o[2] or '0')
  local open = o[1] == 'submitted' and answers ~= 1 and o[3] ~= '1'
  local ttl = open and held or kept
  keep_done(tk, open and ok == tk, ttl)
  if ok ~= tk and is_done(o[1]) then keep_done(ok, open, ttl) end
end

local function now_ms()
  local t = redis.call('TIME')
  return tostring(t[1] * 1000 + math.floor(t[2] / 1000))
end

local function close_offer(p, offer, outcome, origin, at, event_id)
  local ok = p .. 'offer:' .. offer
  local o = redis.call('HMGET', ok, 'task_id', 'worker_id', 'expires_at', 'by')
  if not o[1] then return false end
  redis.call('DEL', ok)
  redis.call('ZREM', p .. 'offers:expiry', offer)
  local wk = p .. 'worker:' .. o[2] .. ':offer'
  if redis.call('GET', wk) == offer then redis.call('DEL', wk) end
  local tk = p .. 'task:' .. o[1]
  local t = redis.call('HMGET', tk, 'state', 'offer_id', 'pool', 'seq', 'event')
  if t[1] == 'offered' and t[2] == offer then
    redis.call('HSET', tk, 'state', 'queued')
    redis.call('HDEL', tk, 'offer_id', 'worker_id')
    -- Back at its original place: an unlucky task is not pushed behind later arrivals.
    redis.call('ZADD', p .. 'queue:' .. t[3], t[4], o[1])
  end
  note(p, {'kind', 'closed', 'origin', origin, 'at', at, 'id', event_id, 'worker', o[2],
    'task', o[1], 'pool', t[3], 'offer', offer, 'expires', o[3], 'by', o[4] or '',
    'outcome', outcome, 't', t[5]})
  return {o[2], o[3], t[5], o[4] or ''}
end
"""

# ARGV: prefix, platform, then (client id, task id, task type) per task.
# A task still on its way through Kafka counts towards its platform's backlog until ingested.
RECORD_ACCEPTED = """
local p, platform = ARGV[1], ARGV[2]
for i = 3, #ARGV, 3 do
  local cid, tid, ttype = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local tk = p .. 'task:' .. tid
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
if ARGV[12] ~= '' and redis.call('EXISTS', tk) == 0 then
  -- A further answer's copy is queued only while its original waits for answers: one asked
  -- for again (a repeat still in Kafka) after scoring settled the task is dropped.
  local o = redis.call('HMGET', p .. 'task:' .. ARGV[12], 'state', 'settled')
  if not o[1] or o[2] == '1' then return 0 end
end
redis.call('HSET', tk, 'event', ARGV[3], 'platform_id', ARGV[4], 'client_task_id', ARGV[5],
  'task_type', ARGV[6], 'pool', ARGV[7], 'answers', ARGV[13], 'ingested', '1')
redis.call('HSETNX', p .. 'pools', ARGV[7], ARGV[8])
redis.call('SADD', p .. 'platform-pools:' .. ARGV[4], ARGV[7])
if redis.call('HGET', tk, 'state') == 'cancelled' then
  -- Cancelled before it got here: held until now (CANCEL), kept as any task done from now; a
  -- copy held on, until its task is settled (SETTLE), against a late request for it.
  keep_done(tk, false, ARGV[12] == '' and ARGV[14] or ARGV[15])
  return 0
end
local seq = redis.call('INCR', p .. 'seq')
redis.call('HSET', tk, 'state', 'queued', 'seq', seq)
redis.call('ZADD', p .. 'queue:' .. ARGV[7], seq, tid)
if ARGV[11] ~= '' then redis.call('ZADD', p .. 'deadlines', ARGV[11], tid) end
if ARGV[12] ~= '' then
  redis.call('HSET', tk, 'answer_of', ARGV[12])
  redis.call('PERSIST', p .. 'task:' .. ARGV[12])
end
note(p, {'kind', 'queued', 'origin', ARGV[9], 'at', ARGV[10], 'task', tid, 'pool', ARGV[7],
  't', ARGV[3]})
return 1
"""

# A task whose deadline passed: expired if it still waits in its queue. Offered, it is looked
# at again when the offer ends; leased, at ARGV[6] (a grace period may yet requeue it); done
# or cancelled, forgotten. The answers' copies after it (ARGV[10..], with their event ids)
# will never be asked for: those not known yet are recorded as cancelled, so a late request
# never queues them. Each expiry's log entry carries an event id: the relay publishes it as
# TaskCancelled, and payroll releases the escrow held for it.
EXPIRE = """
local p, tid, origin, at, event_id, recheck = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local kept, held, reason = ARGV[7], ARGV[8], ARGV[9]
local tk = p .. 'task:' .. tid
local t = redis.call('HMGET', tk, 'state', 'pool', 'offer_id', 'platform_id', 'answer_of')
if t[1] == 'offered' then
  local ends = redis.call('HGET', p .. 'offer:' .. t[3], 'expires_at')
  redis.call('ZADD', p .. 'deadlines', ends or at, tid)
  return 0
elseif t[1] == 'leased' then
  redis.call('ZADD', p .. 'deadlines', recheck, tid)
  return 0
end
redis.call('ZREM', p .. 'deadlines', tid)
if t[1] ~= 'queued' then return 0 end
redis.call('HSET', tk, 'state', 'expired')
finished(p, tk, 'expired', kept, held)
redis.call('ZREM', p .. 'queue:' .. t[2], tid)
local original = t[5] or ''
note(p, {'kind', 'cancelled', 'origin', origin, 'at', at, 'id', event_id, 'task', tid,
  'pool', t[2], 'platform', t[4], 'reason', reason, 'answer_of', original})
if original == '' then original = tid end
for i = 10, #ARGV, 2 do
  local copy = ARGV[i]
  if redis.call('EXISTS', p .. 'task:' .. copy) == 0 then
    redis.call('HSET', p .. 'task:' .. copy, 'platform_id', t[4], 'state', 'cancelled')
    redis.call('PEXPIRE', p .. 'task:' .. copy, held)
    note(p, {'kind', 'cancelled', 'origin', origin, 'at', at, 'id', ARGV[i + 1], 'task', copy,
      'pool', '', 'platform', t[4], 'reason', reason, 'answer_of', original})
  end
end
return 1
"""

CANCEL = """
local p, tid, platform, origin, ahead = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local kept, held = ARGV[6], ARGV[7]
local tk = p .. 'task:' .. tid
local t = redis.call('HMGET', tk, 'platform_id', 'state', 'pool', 'offer_id', 'worker_id')
if not t[1] and ahead == '1' then
  -- An answer's copy not asked for yet: INGEST finds it cancelled and never queues it.
  redis.call('HSET', tk, 'platform_id', platform, 'state', 'cancelled')
  redis.call('PEXPIRE', tk, held)
  return {'cancelled'}
end
if not t[1] or t[1] ~= platform then return {'not_found'} end
local state = t[2]
local withdrawn_event = false
if state == 'queued' or state == 'offered' then
  redis.call('ZREM', p .. 'deadlines', tid)
  withdrawn_event = redis.call('HGET', tk, 'event')
  if redis.call('HGET', tk, 'ingested') == '1' then
    finished(p, tk, 'cancelled', kept, held)
  else
    -- Still on its way through Kafka, however late: what refuses it when it arrives (INGEST).
    redis.call('PEXPIRE', tk, held)
  end
end
if state == 'queued' then
  redis.call('HSET', tk, 'state', 'cancelled')
  if t[3] then redis.call('ZREM', p .. 'queue:' .. t[3], tid) end
  note(p, {'kind', 'cancelled', 'origin', origin, 'at', now_ms(), 'task', tid,
    'pool', t[3] or ''})
  return {'cancelled'}
elseif state == 'offered' then
  local ok = p .. 'offer:' .. t[4]
  local o = redis.call('HMGET', ok, 'expires_at', 'by')
  redis.call('DEL', ok)
  redis.call('ZREM', p .. 'offers:expiry', t[4])
  local wk = p .. 'worker:' .. t[5] .. ':offer'
  if redis.call('GET', wk) == t[4] then redis.call('DEL', wk) end
  redis.call('HSET', tk, 'state', 'cancelled')
  redis.call('HDEL', tk, 'offer_id', 'worker_id')
  note(p, {'kind', 'cancelled', 'origin', origin, 'at', now_ms(), 'task', tid, 'pool', t[3],
    'offer', t[4], 'worker', t[5], 'by', o[2] or ''})
  return {'cancelled', t[4], t[5], withdrawn_event, o[1]}
elseif state == 'cancelled' then
  return {'cancelled'}
end
return {'conflict', state}
"""

# A task goes to a worker only if the task is queued and the worker is connected to a live
# replica, with no outstanding offer and no lease: two replicas choosing at once cannot give a
# task two offers, nor a worker two. `by` names the policy that chose, so its replica can tell
# its own offers from the others'.
OFFER_TASK = """
local p, tid, worker, offer, expires = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local region, by, origin, at, event_id = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local tk = p .. 'task:' .. tid
local t = redis.call('HMGET', tk, 'state', 'pool', 'event')
if t[1] ~= 'queued' then return {'task'} end
local c = redis.call('HMGET', p .. 'conn:' .. worker, 'holder', 'seq')
if not c[1] then return {'worker'} end
local alive = redis.call('HGET', p .. 'replicas', c[1])
if not alive or tonumber(alive) < tonumber(at) then return {'worker'} end
if redis.call('EXISTS', p .. 'worker:' .. worker .. ':offer',
    p .. 'worker:' .. worker .. ':lease') > 0 then
  return {'worker'}
end
redis.call('ZREM', p .. 'queue:' .. t[2], tid)
redis.call('HSET', tk, 'state', 'offered', 'offer_id', offer, 'worker_id', worker)
redis.call('HSET', p .. 'offer:' .. offer, 'task_id', tid, 'worker_id', worker,
  'expires_at', expires, 'by', by)
redis.call('ZADD', p .. 'offers:expiry', expires, offer)
redis.call('SET', p .. 'worker:' .. worker .. ':offer', offer)
note(p, {'kind', 'offered', 'origin', origin, 'at', at, 'id', event_id, 'worker', worker,
  'task', tid, 'pool', t[2], 'offer', offer, 'expires', expires, 'by', by, 'region', region,
  'holder', c[1], 'seq', c[2], 't', t[3]})
return {'ok', t[3], c[1], c[2]}
"""

CLOSE_OFFER = """
local p, offer, worker = ARGV[1], ARGV[2], ARGV[3]
if worker ~= '' and redis.call('HGET', p .. 'offer:' .. offer, 'worker_id') ~= worker then
  return false
end
return close_offer(p, offer, ARGV[4], ARGV[5], ARGV[6], ARGV[7])
"""

ACCEPT = """
local p, offer, worker, lease, region, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ok = p .. 'offer:' .. offer
local o = redis.call('HMGET', ok, 'task_id', 'worker_id', 'expires_at', 'by')
if not o[1] or o[2] ~= worker then return {'not_found'} end
if tonumber(o[3]) <= tonumber(now) then return {'expired'} end
local tk = p .. 'task:' .. o[1]
local t = redis.call('HMGET', tk, 'state', 'offer_id', 'pool', 'event')
if t[1] ~= 'offered' or t[2] ~= offer then return {'not_found'} end
redis.call('DEL', ok)
redis.call('ZREM', p .. 'offers:expiry', offer)
redis.call('DEL', p .. 'worker:' .. worker .. ':offer')
redis.call('HSET', tk, 'state', 'leased', 'lease_id', lease)
redis.call('HDEL', tk, 'offer_id')
redis.call('HSET', p .. 'lease:' .. lease, 'task_id', o[1], 'worker_id', worker,
  'region', region, 'offer_id', offer, 'leased_at', now, 'last_seen', now, 'state', 'active',
  'draft', '', 'by', o[4] or '')
redis.call('SET', p .. 'worker:' .. worker .. ':lease', lease)
redis.call('SADD', p .. 'leases:active', lease)
note(p, {'kind', 'assigned', 'origin', ARGV[7], 'at', now, 'id', ARGV[8], 'worker', worker,
  'task', o[1], 'pool', t[3], 'offer', offer, 'by', o[4] or '', 'lease', lease, 'region', region,
  'leased_at', now, 'last_seen', now, 't', t[4]})
return {'ok', t[4], o[1]}
"""

# An active lease with its task's event, in one round trip; false when either is gone, or the
# lease ended (what an ended lease keeps is only whose it was).
GET_LEASE = """
local p, lease = ARGV[1], ARGV[2]
local l = redis.call('HMGET', p .. 'lease:' .. lease, 'task_id', 'worker_id', 'region',
  'offer_id', 'leased_at', 'last_seen', 'draft', 'state')
if not l[1] or l[8] ~= 'active' then return false end
local event = redis.call('HGET', p .. 'task:' .. l[1], 'event')
if not event then return false end
return {event, l[2], l[3], l[4], l[5], l[6], l[7] or '', l[8]}
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

# Ends a lease with its submission. Shared with RELEASE: the lease's task and the log fields.
_END_LEASE = """
local function end_lease(p, lease, l, state, at, kept)
  redis.call('HSET', p .. 'lease:' .. lease, 'state', state, 'ended_at', at)
  -- Kept to tell a repeat of the submit from a stranger's; the draft is no one's any more.
  -- (Earlier versions read the times, region and offer of any lease; kept for them.)
  shrink(p .. 'lease:' .. lease, {'task_id', 'worker_id', 'region', 'offer_id', 'leased_at',
    'last_seen', 'state', 'ended_at'}, kept)
  local wk = p .. 'worker:' .. l[1] .. ':lease'
  if redis.call('GET', wk) == lease then redis.call('DEL', wk) end
  redis.call('SREM', p .. 'leases:active', lease)
  redis.call('ZREM', p .. 'leases:grace', lease)
end

local function lease_fields(kind, lease, l, t, origin, at, event_id)
  return {'kind', kind, 'origin', origin, 'at', at, 'id', event_id, 'worker', l[1],
    'task', l[3], 'pool', t[1], 'offer', l[5], 'by', l[8] or '', 'lease', lease, 'region', l[4],
    'leased_at', l[6], 'last_seen', l[7], 't', t[3]}
end
"""

_LEASE_FIELDS = (
    "'worker_id', 'state', 'task_id', 'region', 'offer_id', 'leased_at', 'last_seen', 'by'"
)

COMPLETE = f"""
local p, lease, worker = ARGV[1], ARGV[2], ARGV[3]
local lk = p .. 'lease:' .. lease
local l = redis.call('HMGET', lk, {_LEASE_FIELDS})
if not l[1] or l[1] ~= worker or l[2] == 'released' then return 'not_found' end
if l[2] ~= 'active' then return 'done' end
local tk = p .. 'task:' .. l[3]
local t = redis.call('HMGET', tk, 'pool', 'seq', 'event')
redis.call('HSET', tk, 'state', 'submitted')
finished(p, tk, 'submitted', ARGV[10], ARGV[11])
redis.call('ZREM', p .. 'deadlines', l[3])
end_lease(p, lease, l, 'submitted', ARGV[7], ARGV[10])
local fields = lease_fields('submitted', lease, l, t, ARGV[6], ARGV[7], ARGV[8])
for _, v in ipairs({{'answer', ARGV[4], 'worked', ARGV[5], 'submission', ARGV[9]}}) do
  table.insert(fields, v)
end
note(p, fields)
return 'ok'
"""

# With ARGV[8] = '1', only a lease whose grace period is running and ran out by `at`: the
# worker may have come back (CONNECT ends the grace) since the lease was found overdue.
RELEASE = f"""
local p, lease, reason, origin, at, event_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local lk = p .. 'lease:' .. lease
if ARGV[8] == '1' then
  local ends = redis.call('ZSCORE', p .. 'leases:grace', lease)
  if not ends or tonumber(ends) > tonumber(at) then return false end
end
local l = redis.call('HMGET', lk, {_LEASE_FIELDS})
redis.call('ZREM', p .. 'leases:grace', lease)
if l[2] ~= 'active' then return false end
local tk = p .. 'task:' .. l[3]
local t = redis.call('HMGET', tk, 'pool', 'seq', 'event')
redis.call('HSET', tk, 'state', 'queued')
redis.call('HDEL', tk, 'lease_id', 'worker_id')
redis.call('ZADD', p .. 'queue:' .. t[1], t[2], l[3])
end_lease(p, lease, l, 'released', at, ARGV[7])
-- Paid for the time up to the last sign of life (a heartbeat, or the disconnect).
local worked = math.max(math.floor((tonumber(l[7]) - tonumber(l[6])) / 1000), 0)
local fields = lease_fields('released', lease, l, t, origin, at, event_id)
for _, v in ipairs({{'worked', tostring(worked), 'reason', reason}}) do
  table.insert(fields, v)
end
note(p, fields)
return {{tostring(worked), l[8]}}
"""


# Scoring settled a task several workers answer (ARGV[3]; its copies after it): no copy will be
# built from it again, so it and its copies done go after `kept` ms, without content, and those
# in play when they are done.
SETTLE = """
local p, kept = ARGV[1], tonumber(ARGV[2])
for i = 3, #ARGV do
  local tk = p .. 'task:' .. ARGV[i]
  if i == 3 and redis.call('EXISTS', tk) == 1 then redis.call('HSET', tk, 'settled', '1') end
  if redis.call('PTTL', tk) >= 0 then keep_done(tk, false, kept) end
end
return 1
"""


def with_prelude(body: str, *parts: str) -> str:
    return "".join(parts) + body


INGEST = with_prelude(INGEST, PRELUDE)
CANCEL = with_prelude(CANCEL, PRELUDE)
SETTLE = with_prelude(SETTLE, PRELUDE)
EXPIRE = with_prelude(EXPIRE, PRELUDE)
OFFER_TASK = with_prelude(OFFER_TASK, PRELUDE)
CLOSE_OFFER = with_prelude(CLOSE_OFFER, PRELUDE)
ACCEPT = with_prelude(ACCEPT, PRELUDE)
COMPLETE = with_prelude(COMPLETE, PRELUDE, _END_LEASE)
RELEASE = with_prelude(RELEASE, PRELUDE, _END_LEASE)
