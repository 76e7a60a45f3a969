-- The profile buffer's claim, commit, append and reap steps
-- (workers/profiles/buffer.py).
--
-- KEYS = [base]  e.g. "hookrelay:profiles"; the keys below hang off it:
--   :pending     list of buffered updates (JSON), oldest first
--   :identities  set of identity keys pending (how many profiles are waiting)
--   :since       when the oldest pending update came (ms)
--   :claims      zset claim id -> when claimed (ms)
--   :claim:<id>  list of the updates a flusher took
-- Pending items are updates ("<number> <json>", numbered by the receiver) and batch
-- records (bare JSON, workers/profiles/coalesce.py).
local base = KEYS[1]
local command = ARGV[1]
local pending, claims = base .. ":pending", base .. ":claims"
local now = now_ms()

-- Put items back at the head of a list, in their order.
local function push_back(key, items)
    local reversed = {}
    for i = #items, 1, -1 do
        reversed[#reversed + 1] = items[i]
    end
    call_with_all("lpush", key, reversed)
end

-- claim(claim_id, max_items): move up to max_items pending updates into a claim.
if command == "claim" then
    local claim_id, most = ARGV[2], tonumber(ARGV[3])
    local items = redis.call("lrange", pending, 0, most - 1)
    if #items == 0 then
        return {}
    end
    redis.call("ltrim", pending, #items, -1)
    call_with_all("rpush", base .. ":claim:" .. claim_id, items)
    redis.call("zadd", claims, now, claim_id)
    if redis.call("llen", pending) == 0 then
        redis.call("del", base .. ":identities", base .. ":since")
    end
    return items

-- commit(claim_id, namespace, queue, message_count, (message_id, data)...,
--        state_ttl_s, (state_key, state)...): enqueue the batches, save the merged
-- states and drop the claim, all at once; 0 if the claim was reaped meanwhile.
elseif command == "commit" then
    local claim_id, namespace, queue = ARGV[2], ARGV[3], ARGV[4]
    if redis.call("zrem", claims, claim_id) == 0 then
        return 0
    end
    redis.call("del", base .. ":claim:" .. claim_id)
    local messages = tonumber(ARGV[5])
    local i = 6
    for _ = 1, messages do
        enqueue_message(namespace, queue, ARGV[i], ARGV[i + 1])
        i = i + 2
    end
    local state_ttl = ARGV[i]
    for j = i + 1, #ARGV, 2 do
        redis.call("set", ARGV[j], ARGV[j + 1], "EX", state_ttl)
    end
    return 1

-- append(identity, update): buffer one update again, as the receiver does
-- (webhook/intake/enqueue.lua): a replayed dead letter of a flush.
elseif command == "append" then
    redis.call("rpush", pending, ARGV[3])
    redis.call("sadd", base .. ":identities", ARGV[2])
    redis.call("set", base .. ":since", now, "NX")
    return 1

-- settle(order_prefix, letter, record_count, (identity, record)...,
--        (identity_key, number)...): buffer a batch's outcome records for the next
-- flush, and raise each identity key's acknowledged update number, deleting its order
-- key and its place in $unsettled once nothing is open (workers/profiles/order.py).
-- A letter (the dead letter of updates let go unacknowledged, "" for none) is kept in
-- $let_go, scored by the lowest unsettled number it lets go.
elseif command == "settle" then
    local order_prefix, letter, count = ARGV[2], ARGV[3], tonumber(ARGV[4])
    local i, identities, records = 5, {}, {}
    for _ = 1, count do
        identities[#identities + 1], records[#records + 1] = ARGV[i], ARGV[i + 1]
        i = i + 2
    end
    if count > 0 then
        call_with_all("rpush", pending, records)
        call_with_all("sadd", base .. ":identities", identities)
        redis.call("set", base .. ":since", now, "NX")
    end
    local let_go_from
    for j = i, #ARGV, 2 do
        local name, number = ARGV[j], tonumber(ARGV[j + 1])
        local key = order_prefix .. name
        local order = redis.call("hmget", key, "open", "acked")
        local low = tonumber(redis.call("zscore", unsettled, name) or "-1")
        if letter ~= "" and low >= 0 and number >= low then
            let_go_from = math.min(let_go_from or low, low)
        end
        local acked = math.max(tonumber(order[2] or "0"), number)
        if not order[1] or acked >= tonumber(order[1]) then
            redis.call("del", key)
            redis.call("zrem", unsettled, name)
        else
            redis.call("hset", key, "acked", acked)
            if acked + 1 > low then
                redis.call("zadd", unsettled, "XX", acked + 1, name)
            end
        end
    end
    if let_go_from then
        redis.call("zadd", let_go, let_go_from, letter)
        redis.call("zremrangebyrank", let_go, 0, -let_go_kept - 1)
    end
    return count

-- reap(older_than_ms): put claims older than that back at the head of pending.
elseif command == "reap" then
    local stale = redis.call("zrangebyscore", claims, "-inf", now - tonumber(ARGV[2]))
    for _, claim_id in ipairs(stale) do
        local claim = base .. ":claim:" .. claim_id
        local items = redis.call("lrange", claim, 0, -1)
        push_back(pending, items)
        redis.call("del", claim)
        redis.call("zrem", claims, claim_id)
        redis.call("set", base .. ":since", now, "NX")
    end
    return #stale
end
